//! The keys of the filter language: one table behind the parser's list of known keys and the
//! OpenAPI parameters.

/// What a key of the filter language means; the one table behind the parser's list of known
/// keys and the OpenAPI parameters.
pub struct KeyDoc {
    /// The key in a query string.
    pub key: &'static str,
    /// What it selects.
    pub doc: &'static str,
    /// The JSON Schema of its value, exactly what the parser accepts: an empty value is
    /// the same as leaving the key out, and NUL is refused everywhere.
    pub schema: &'static str,
}

/// A time in one of the forms the parser reads that a JSON Schema can name (a date, an RFC 3339
/// date-time), or empty.
const TIME: &str = r#"{"anyOf": [{"type": "string", "format": "date"}, {"type": "string", "format": "date-time"}, {"type": "string", "maxLength": 0}]}"#;

/// Any text without NUL.
const TEXT: &str = r#"{"type": "string", "pattern": "^[^\\x00]*$"}"#;

/// Every key [`ListQuery::from_pairs`](super::ListQuery::from_pairs) understands, besides `data.PATH`.
pub const KEYS: &[KeyDoc] = &[
    KeyDoc {
        key: "q",
        doc: "Case-insensitive text in group, message or initiator.",
        schema: TEXT,
    },
    KeyDoc {
        key: "type",
        doc: "Event type; repeat for several, or separate with commas. A type that is neither configured nor stored is an error.",
        schema: r#"{"type": "string", "pattern": "^ *([A-Za-z_][A-Za-z0-9_]{0,49})? *(, *([A-Za-z_][A-Za-z0-9_]{0,49})? *)*$"}"#,
    },
    KeyDoc {
        key: "group",
        doc: "Exactly this group.",
        schema: TEXT,
    },
    KeyDoc {
        key: "initiator",
        doc: "Exactly this initiator.",
        schema: TEXT,
    },
    KeyDoc {
        key: "since",
        doc: "At or after this time (UTC): YYYY-MM-DD, YYYY-MM-DDTHH:MM[:SS] or RFC 3339.",
        schema: TIME,
    },
    KeyDoc {
        key: "until",
        doc: "Before this time, same forms; a date alone includes that whole day.",
        schema: TIME,
    },
    KeyDoc {
        key: "order",
        doc: "`desc` (newest first, default) or `asc`.",
        schema: r#"{"type": "string", "enum": ["desc", "asc", ""]}"#,
    },
    KeyDoc {
        key: "cursor",
        doc: "`next_cursor` of the previous page.",
        schema: r#"{"type": "string", "pattern": "^(-?[0-9]{1,15}_-?[0-9]{1,18})?$"}"#,
    },
    KeyDoc {
        key: "limit",
        doc: "Page size, 1 to 1000 (default 100).",
        schema: r#"{"anyOf": [{"type": "integer", "minimum": 1, "maximum": 1000}, {"type": "string", "maxLength": 0}]}"#,
    },
];

#[cfg(feature = "openapi")]
impl utoipa::IntoParams for super::ListQuery {
    fn into_params(
        _parameter_in: impl Fn() -> Option<utoipa::openapi::path::ParameterIn>,
    ) -> Vec<utoipa::openapi::path::Parameter> {
        use utoipa::openapi::Required;
        use utoipa::openapi::path::{ParameterBuilder, ParameterIn};
        let mut params: Vec<_> = KEYS
            .iter()
            .map(|k| {
                ParameterBuilder::new()
                    .name(k.key)
                    .parameter_in(ParameterIn::Query)
                    .required(Required::False)
                    .description(Some(k.doc))
                    .schema(Some(schema(k.schema)))
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
                .schema(Some(schema(TEXT)))
                .build(),
        );
        params
    }
}

/// A schema written as JSON text in [`KEYS`] (checked by a test: every one parses).
#[cfg(feature = "openapi")]
fn schema(json: &str) -> utoipa::openapi::RefOr<utoipa::openapi::Schema> {
    serde_json::from_str(json).unwrap_or_else(|_| {
        utoipa::openapi::ObjectBuilder::new()
            .schema_type(utoipa::openapi::Type::String)
            .into()
    })
}

#[cfg(all(test, feature = "openapi"))]
mod tests {
    use super::*;

    #[test]
    fn every_key_schema_is_json_schema() {
        for json in KEYS.iter().map(|k| k.schema).chain([TEXT, TIME]) {
            serde_json::from_str::<utoipa::openapi::RefOr<utoipa::openapi::Schema>>(json)
                .unwrap_or_else(|e| panic!("{e}: {json}"));
        }
    }
}
