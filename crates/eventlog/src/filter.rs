//! The filter language of every event listing: the admin's list, groups page, export and live
//! tail, `GET /api/v1/events`, and `eventlog tail` / `eventlog export`.
//!
//! One parser ([`ListQuery::from_pairs`]) reads decoded key/value pairs with one set of rules
//! and one error type ([`FilterError`], naming the key and the rule). The web crate feeds it
//! the query string, the CLI its options; the admin adds its presets (`date=today`, …) on top.
//!
//! | key | meaning |
//! |---|---|
//! | `q` | case-insensitive text in group, message or initiator |
//! | `type` | an event type; repeat it (`type=error&type=critical`) or separate with commas |
//! | `group` | exactly this group |
//! | `initiator` | exactly this initiator |
//! | `since` | at or after this time |
//! | `until` | before this time; a date alone (`2026-02-01`) includes that whole day |
//! | `data.PATH` | `data.customer.email=a@b.c`: the value at that path inside `data` equals the text |
//! | `order` | `desc` (newest first, the default) or `asc` |
//! | `cursor` | the `next_cursor` of the previous page |
//! | `limit` | page size, 1 to [`MAX_LIMIT`], default [`DEFAULT_LIMIT`] |
//!
//! Times are UTC: `YYYY-MM-DD`, `YYYY-MM-DDTHH:MM`, `YYYY-MM-DDTHH:MM:SS` (a space may replace
//! the `T`), or RFC 3339 with an offset; years 0001 to 9999. Empty values (`q=` from an empty
//! search box) count as absent. No value may contain NUL (U+0000), which neither database can
//! compare; a data path key may not contain `"`, `\` or control characters.

use std::fmt;

use chrono::{DateTime, Datelike, NaiveDate, NaiveDateTime, NaiveTime, TimeZone, Utc};
use thiserror::Error;

use crate::error::StoreError;
use crate::event_type::{EventTypes, validate_type_name};
use crate::store::{Cursor, DataMatch, EventFilter, Order, Store};

/// Default page size.
pub const DEFAULT_LIMIT: usize = 100;
/// Largest page size.
pub const MAX_LIMIT: usize = 1000;
/// Longest value quoted back in an error, in characters.
const QUOTE_LIMIT: usize = 100;

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

/// Every key [`ListQuery::from_pairs`] understands, besides `data.PATH`.
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

/// The rule a filter value broke.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum Rule {
    /// Not one of the accepted time forms.
    #[error(
        "not a time: use YYYY-MM-DD, YYYY-MM-DDTHH:MM, YYYY-MM-DDTHH:MM:SS or RFC 3339 (2026-01-31T12:00:00Z)"
    )]
    Time,
    /// A time outside years 0001 to 9999.
    #[error("the year must be from 0001 to 9999")]
    YearRange,
    /// `order` is not `asc` or `desc`.
    #[error("not \"asc\" or \"desc\"")]
    Order,
    /// `cursor` does not come from a previous page.
    #[error("not a cursor from a previous page")]
    Cursor,
    /// `limit` out of range.
    #[error("not a number from 1 to {MAX_LIMIT}")]
    Limit,
    /// An empty key between dots in a data path.
    #[error("a data path needs a key between every dot (data.KEY or data.KEY.SUBKEY)")]
    DataPathEmpty,
    /// A data path key with a character the stores cannot look up.
    #[error("a data path key may not contain '\"', '\\' or control characters")]
    DataPathChar,
    /// Not a valid type name.
    #[error("not a type name: a letter or '_', then letters, digits or '_', at most 50")]
    TypeName,
    /// A type that is neither configured nor found in stored events.
    #[error("unknown type: neither configured ({configured}) nor found in stored events")]
    UnknownType {
        /// The configured type names, comma-separated.
        configured: String,
    },
    /// A NUL character, which neither database can compare.
    #[error("contains a NUL character (U+0000)")]
    Nul,
    /// A key this listing does not know.
    #[error(
        "unknown parameter; known: q, type, group, initiator, since, until, data.PATH, order, cursor, limit"
    )]
    UnknownKey,
    /// A key the listing knows with a value it does not (e.g. the admin's `date`).
    #[error("not one of: {0}")]
    OneOf(&'static str),
    /// The query string is not `key=value&…`.
    #[error("not a query string of key=value pairs")]
    Malformed,
}

/// A filter value that cannot be used: which key, the value (shortened to 100 characters) and
/// the rule it broke.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FilterError {
    /// The key as given (`until`, `type`, `data.customer.email`).
    pub key: String,
    /// The value, shortened to 100 characters.
    pub value: String,
    /// What is wrong with it.
    pub rule: Rule,
}

impl FilterError {
    /// An error for `key=value`, quoting at most 100 characters of the value.
    pub fn new(key: &str, value: &str, rule: Rule) -> Self {
        FilterError {
            key: key.to_owned(),
            value: shorten(value),
            rule,
        }
    }
}

impl fmt::Display for FilterError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}={:?}: {}", self.key, self.value, self.rule)
    }
}

impl std::error::Error for FilterError {}

/// At most 100 characters of `value`, with `…` when cut.
pub fn shorten(value: &str) -> String {
    match value.char_indices().nth(QUOTE_LIMIT) {
        Some((at, _)) => format!("{}…", &value[..at]),
        None => value.to_owned(),
    }
}

/// Which end of a range a time bounds: a date alone means the start of that day for `since`
/// and the end of that day (inclusive) for `until`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum End {
    /// The start (`since`).
    Since,
    /// The end (`until`).
    Until,
}

/// A time bound: the text as given (kept so a form shows what was typed) and the instant.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TimeBound {
    text: String,
    at: DateTime<Utc>,
}

impl TimeBound {
    /// Parses `text` as the `end` of a range; `key` names it in the error.
    pub fn parse(key: &str, text: &str, end: End) -> Result<TimeBound, FilterError> {
        let err = |rule| FilterError::new(key, text, rule);
        let at = if let Ok(t) = DateTime::parse_from_rfc3339(text) {
            t.with_timezone(&Utc)
        } else if let Some(t) = [
            "%Y-%m-%dT%H:%M",
            "%Y-%m-%dT%H:%M:%S",
            "%Y-%m-%d %H:%M",
            "%Y-%m-%d %H:%M:%S",
        ]
        .iter()
        .find_map(|fmt| NaiveDateTime::parse_from_str(text, fmt).ok())
        {
            Utc.from_utc_datetime(&t)
        } else if let Ok(d) = NaiveDate::parse_from_str(text, "%Y-%m-%d") {
            let d = match end {
                End::Since => d,
                // The whole day is included: the bound is the next midnight (exclusive).
                End::Until => d.succ_opt().ok_or_else(|| err(Rule::YearRange))?,
            };
            Utc.from_utc_datetime(&d.and_time(NaiveTime::MIN))
        } else {
            return Err(err(Rule::Time));
        };
        // Bounded years keep every later computation (chart spans, presets) far from
        // chrono's limits, and both databases store them.
        if !(1..=10_000).contains(&at.year()) || (at.year() == 10_000 && end == End::Since) {
            return Err(err(Rule::YearRange));
        }
        Ok(TimeBound {
            text: text.to_owned(),
            at,
        })
    }

    /// A bound at an instant, written as RFC 3339.
    pub fn at_instant(at: DateTime<Utc>) -> TimeBound {
        TimeBound {
            text: at.to_rfc3339_opts(chrono::SecondsFormat::Micros, true),
            at,
        }
    }

    /// The instant.
    pub fn at(&self) -> DateTime<Utc> {
        self.at
    }

    /// The text as given.
    pub fn as_str(&self) -> &str {
        &self.text
    }
}

/// A parsed listing request: which events, in which order, from where, how many.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ListQuery {
    /// `q`: case-insensitive text in group, message or initiator.
    pub text: Option<String>,
    /// `type`: any of these types (empty: all).
    pub types: Vec<String>,
    /// `group`: exactly this group.
    pub group: Option<String>,
    /// `initiator`: exactly this initiator.
    pub initiator: Option<String>,
    /// `since`: at or after.
    pub since: Option<TimeBound>,
    /// `until`: before.
    pub until: Option<TimeBound>,
    /// `data.PATH=VALUE` conditions.
    pub data: Vec<DataMatch>,
    /// `order`.
    pub order: Order,
    /// `cursor`: where the page starts.
    pub cursor: Option<Cursor>,
    /// `limit`: page size, if given.
    pub limit: Option<usize>,
}

fn no_nul(key: &str, value: &str) -> Result<(), FilterError> {
    if value.contains('\0') {
        Err(FilterError::new(key, value, Rule::Nul))
    } else {
        Ok(())
    }
}

impl ListQuery {
    /// Parses a raw query string (percent-encoded, without `?`). Keys it does not know are
    /// returned beside it, in order, for the caller to use or refuse.
    pub fn parse_query(query: &str) -> Result<(ListQuery, Vec<(String, String)>), FilterError> {
        ListQuery::from_pairs(form_pairs(query))
    }

    /// Parses decoded key/value pairs. Keys it does not know are returned beside it, in order.
    pub fn from_pairs(
        pairs: impl IntoIterator<Item = (String, String)>,
    ) -> Result<(ListQuery, Vec<(String, String)>), FilterError> {
        let mut q = ListQuery::default();
        let mut rest = Vec::new();
        for (key, value) in pairs {
            if !KEYS.iter().any(|k| k.key == key) && !key.starts_with("data.") {
                rest.push((key, value));
                continue;
            }
            no_nul(&key, &value)?;
            if value.is_empty() {
                continue;
            }
            match key.as_str() {
                "q" => {
                    let text = value.trim();
                    if !text.is_empty() {
                        q.text = Some(text.to_owned());
                    }
                }
                "type" => {
                    for t in value.split(',').map(str::trim).filter(|t| !t.is_empty()) {
                        validate_type_name(t)
                            .map_err(|_| FilterError::new(&key, t, Rule::TypeName))?;
                        if !q.types.iter().any(|have| have == t) {
                            q.types.push(t.to_owned());
                        }
                    }
                }
                "group" => q.group = Some(value),
                "initiator" => q.initiator = Some(value),
                "since" => q.since = Some(TimeBound::parse(&key, &value, End::Since)?),
                "until" => q.until = Some(TimeBound::parse(&key, &value, End::Until)?),
                "order" => {
                    q.order = match value.as_str() {
                        "desc" => Order::Desc,
                        "asc" => Order::Asc,
                        _ => return Err(FilterError::new(&key, &value, Rule::Order)),
                    }
                }
                "cursor" => {
                    q.cursor = Some(
                        value
                            .parse()
                            .map_err(|_| FilterError::new(&key, &value, Rule::Cursor))?,
                    )
                }
                "limit" => {
                    q.limit = Some(
                        value
                            .parse()
                            .ok()
                            .filter(|n| (1..=MAX_LIMIT).contains(n))
                            .ok_or_else(|| FilterError::new(&key, &value, Rule::Limit))?,
                    )
                }
                _ => {
                    let path = key.strip_prefix("data.").unwrap_or_default();
                    let path: Vec<String> = path.split('.').map(str::to_owned).collect();
                    if path.iter().any(String::is_empty) {
                        return Err(FilterError::new(&key, &value, Rule::DataPathEmpty));
                    }
                    if path
                        .iter()
                        .any(|k| k.chars().any(|c| c == '"' || c == '\\' || c.is_control()))
                    {
                        return Err(FilterError::new(&key, &value, Rule::DataPathChar));
                    }
                    q.data.push(DataMatch { path, value });
                }
            }
        }
        Ok((q, rest))
    }

    /// The store filter.
    pub fn filter(&self) -> EventFilter {
        EventFilter {
            types: self.types.clone(),
            since: self.since.as_ref().map(TimeBound::at),
            until: self.until.as_ref().map(TimeBound::at),
            text: self.text.clone(),
            group: self.group.clone(),
            initiator: self.initiator.clone(),
            data: self.data.clone(),
        }
    }

    /// The page size: `limit`, or [`DEFAULT_LIMIT`].
    pub fn limit(&self) -> usize {
        self.limit.unwrap_or(DEFAULT_LIMIT)
    }

    /// Whether any filter (not order, cursor or limit) is set.
    pub fn is_filtered(&self) -> bool {
        self.filter() != EventFilter::default()
    }

    /// The filters and a non-default order as key/value pairs, as given (not cursor or limit):
    /// links to other pages and views carry these on.
    pub fn to_pairs(&self) -> Vec<(String, String)> {
        let mut pairs = Vec::new();
        let mut push = |k: &str, v: &str| pairs.push((k.to_owned(), v.to_owned()));
        if let Some(q) = &self.text {
            push("q", q);
        }
        for t in &self.types {
            push("type", t);
        }
        if let Some(g) = &self.group {
            push("group", g);
        }
        if let Some(i) = &self.initiator {
            push("initiator", i);
        }
        if let Some(t) = &self.since {
            push("since", t.as_str());
        }
        if let Some(t) = &self.until {
            push("until", t.as_str());
        }
        for m in &self.data {
            push(&format!("data.{}", m.path.join(".")), &m.value);
        }
        if self.order == Order::Asc {
            push("order", "asc");
        }
        pairs
    }

    /// Refuses a `type` that is neither configured nor found in stored events (a type whose
    /// configuration was removed still has its events, and they stay selectable).
    pub async fn check_types(
        &self,
        configured: &EventTypes,
        store: &dyn Store,
    ) -> Result<(), TypeCheckError> {
        for t in &self.types {
            if configured.get(t).is_some() {
                continue;
            }
            let probe = EventFilter {
                types: vec![t.clone()],
                ..EventFilter::default()
            };
            if store
                .list(&probe, Order::Desc, None, 1)
                .await?
                .items
                .is_empty()
            {
                let names: Vec<&str> = configured.names().collect();
                return Err(TypeCheckError::Filter(FilterError::new(
                    "type",
                    t,
                    Rule::UnknownType {
                        configured: names.join(", "),
                    },
                )));
            }
        }
        Ok(())
    }
}

/// Why [`ListQuery::check_types`] refused.
#[derive(Debug, Error)]
pub enum TypeCheckError {
    /// A type that does not exist.
    #[error(transparent)]
    Filter(#[from] FilterError),
    /// The store could not be asked.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Decoded key/value pairs of a query string (`+` is a space, `%XX` a byte; invalid UTF-8
/// becomes U+FFFD).
pub fn form_pairs(query: &str) -> Vec<(String, String)> {
    form_urlencoded::parse(query.as_bytes())
        .into_owned()
        .collect()
}

#[cfg(feature = "openapi")]
impl utoipa::IntoParams for ListQuery {
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

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(q: &str) -> Result<ListQuery, FilterError> {
        ListQuery::parse_query(q).map(|(q, _)| q)
    }

    #[test]
    fn every_key_maps_to_the_filter() {
        let (q, rest) = ListQuery::parse_query(
            "q=Mail%20run&type=error&type=critical,warning&group=Order+1&initiator=user%3A42\
             &since=2026-01-01T08:30&until=2026-02-01&data.customer.email=a%40b.c\
             &order=asc&limit=5&cursor=1700000000000000_7&page=3",
        )
        .unwrap();
        let f = q.filter();
        assert_eq!(f.text.as_deref(), Some("Mail run"));
        assert_eq!(f.types, ["error", "critical", "warning"]);
        assert_eq!(f.group.as_deref(), Some("Order 1"));
        assert_eq!(f.initiator.as_deref(), Some("user:42"));
        assert_eq!(f.since.unwrap().to_rfc3339(), "2026-01-01T08:30:00+00:00");
        // A date alone as `until` includes that whole day.
        assert_eq!(f.until.unwrap().to_rfc3339(), "2026-02-02T00:00:00+00:00");
        assert_eq!(f.data[0].path, ["customer", "email"]);
        assert_eq!(q.order, Order::Asc);
        assert_eq!(q.limit(), 5);
        assert_eq!(q.cursor.as_ref().map(|c| c.id), Some(7));
        assert_eq!(rest, [("page".to_owned(), "3".to_owned())]);
        let (back, _) = ListQuery::from_pairs(q.to_pairs()).unwrap();
        assert_eq!(back.filter(), q.filter());
        assert_eq!(back.until.unwrap().as_str(), "2026-02-01");
    }

    #[test]
    fn bad_values_name_the_key_and_the_rule() {
        for (query, message) in [
            ("limit=0", "limit=\"0\": not a number from 1 to 1000"),
            ("order=up", "order=\"up\": not \"asc\" or \"desc\""),
            (
                "cursor=abc",
                "cursor=\"abc\": not a cursor from a previous page",
            ),
            (
                "type=no%20pe",
                "type=\"no pe\": not a type name: a letter or '_', then letters, digits or '_', at most 50",
            ),
            (
                "group=a%00b",
                "group=\"a\\0b\": contains a NUL character (U+0000)",
            ),
            ("q=%00", "q=\"\\0\": contains a NUL character (U+0000)"),
            (
                "data.a%5Cb=1",
                "data.a\\b=\"1\": a data path key may not contain '\"', '\\' or control characters",
            ),
            (
                "until=-262143-01-01",
                "until=\"-262143-01-01\": the year must be from 0001 to 9999",
            ),
            (
                "since=%2B262142-12-31",
                "since=\"+262142-12-31\": the year must be from 0001 to 9999",
            ),
        ] {
            assert_eq!(parse(query).unwrap_err().to_string(), message, "{query}");
        }
        let e = parse("since=yesterday").unwrap_err();
        assert_eq!(e.rule, Rule::Time);
        assert!(
            parse("data..x=1")
                .unwrap_err()
                .to_string()
                .contains("between every dot")
        );
    }

    #[test]
    fn long_values_are_quoted_short() {
        let e = parse(&format!("since={}", "x".repeat(10_000))).unwrap_err();
        assert_eq!(e.value.chars().count(), 101);
        assert!(e.to_string().len() < 300, "{e}");
    }

    #[test]
    fn every_time_form() {
        for (text, end, want) in [
            ("2026-01-31", End::Since, "2026-01-31T00:00:00+00:00"),
            ("2026-01-31", End::Until, "2026-02-01T00:00:00+00:00"),
            ("2026-01-31T12:05", End::Until, "2026-01-31T12:05:00+00:00"),
            (
                "2026-01-31 12:05:07",
                End::Since,
                "2026-01-31T12:05:07+00:00",
            ),
            (
                "2026-01-31T12:00:00+01:00",
                End::Since,
                "2026-01-31T11:00:00+00:00",
            ),
            ("9999-12-31", End::Until, "+10000-01-01T00:00:00+00:00"),
        ] {
            let t = TimeBound::parse("t", text, end).unwrap();
            assert_eq!(t.at().to_rfc3339(), want, "{text}");
        }
    }
}
