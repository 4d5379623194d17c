//! The keys of the filter language: one table behind the parser's list of known keys and the
//! OpenAPI parameters.

/// What a key of the filter language means; the one table behind the parser's list of known
/// keys and the OpenAPI parameters.
pub struct KeyDoc {
    /// The key in a query string.
    pub key: &'static str,
    /// What it selects.
    pub doc: &'static str,
    /// Whether its value is a number (else text).
    pub integer: bool,
}

/// Every key [`ListQuery::from_pairs`](super::ListQuery::from_pairs) understands, besides `data.PATH`.
pub const KEYS: &[KeyDoc] = &[
    KeyDoc {
        key: "q",
        doc: "Case-insensitive text in group, message or initiator.",
        integer: false,
    },
    KeyDoc {
        key: "type",
        doc: "Event type; repeat for several, or separate with commas. A type that is neither configured nor stored is an error.",
        integer: false,
    },
    KeyDoc {
        key: "group",
        doc: "Exactly this group.",
        integer: false,
    },
    KeyDoc {
        key: "initiator",
        doc: "Exactly this initiator.",
        integer: false,
    },
    KeyDoc {
        key: "since",
        doc: "At or after this time (UTC): YYYY-MM-DD, YYYY-MM-DDTHH:MM[:SS] or RFC 3339.",
        integer: false,
    },
    KeyDoc {
        key: "until",
        doc: "Before this time, same forms; a date alone includes that whole day.",
        integer: false,
    },
    KeyDoc {
        key: "order",
        doc: "`desc` (newest first, default) or `asc`.",
        integer: false,
    },
    KeyDoc {
        key: "cursor",
        doc: "`next_cursor` of the previous page.",
        integer: false,
    },
    KeyDoc {
        key: "limit",
        doc: "Page size, 1 to 1000 (default 100).",
        integer: true,
    },
];

#[cfg(feature = "openapi")]
impl utoipa::IntoParams for super::ListQuery {
    fn into_params(
        _parameter_in: impl Fn() -> Option<utoipa::openapi::path::ParameterIn>,
    ) -> Vec<utoipa::openapi::path::Parameter> {
        use utoipa::openapi::path::{ParameterBuilder, ParameterIn};
        use utoipa::openapi::{ObjectBuilder, Required, Type};
        let mut params: Vec<_> = KEYS
            .iter()
            .map(|k| {
                let ty = if k.integer {
                    Type::Integer
                } else {
                    Type::String
                };
                ParameterBuilder::new()
                    .name(k.key)
                    .parameter_in(ParameterIn::Query)
                    .required(Required::False)
                    .description(Some(k.doc))
                    .schema(Some(ObjectBuilder::new().schema_type(ty)))
                    .build()
            })
            .collect();
        params.push(
            ParameterBuilder::new()
                .name("data.PATH")
                .parameter_in(ParameterIn::Query)
                .required(Required::False)
                .description(Some(
                    "The value at PATH inside `data` equals this text, e.g. `data.customer.email=a@b.c`.",
                ))
                .schema(Some(ObjectBuilder::new().schema_type(Type::String)))
                .build(),
        );
        params
    }
}
