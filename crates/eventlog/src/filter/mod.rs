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

mod error;
mod keys;
mod time;

pub use error::{FilterError, Rule, TypeCheckError, shorten};
pub use keys::{KEYS, KeyDoc};
pub use time::{End, TimeBound};

use crate::event_type::{EventTypes, validate_type_name};
use crate::store::{Cursor, DataMatch, EventFilter, Order, ReadStore};

/// Default page size.
pub const DEFAULT_LIMIT: usize = 100;
/// Largest page size.
pub const MAX_LIMIT: usize = 1000;

/// Most `type` names and `data.*` conditions one query may combine: far more than a person
/// filters by, and far below what makes a store's query planner give up (SQLite refuses an
/// expression of about a thousand terms).
pub const MAX_CONDITIONS: usize = 64;

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
            if q.types.len() + q.data.len() > MAX_CONDITIONS {
                return Err(FilterError::new(&key, "", Rule::TooManyConditions));
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
        store: &dyn ReadStore,
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

/// Decoded key/value pairs of a query string (`+` is a space, `%XX` a byte; invalid UTF-8
/// becomes U+FFFD).
pub fn form_pairs(query: &str) -> Vec<(String, String)> {
    form_urlencoded::parse(query.as_bytes())
        .into_owned()
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(q: &str) -> Result<ListQuery, FilterError> {
        ListQuery::parse_query(q).map(|(q, _)| q)
    }

    #[test]
    fn conditions_per_query_are_bounded() {
        let query = |n: usize| {
            (0..n)
                .map(|i| format!("data.k{i}=v"))
                .collect::<Vec<_>>()
                .join("&")
        };
        assert_eq!(
            parse(&query(MAX_CONDITIONS)).unwrap().data.len(),
            MAX_CONDITIONS
        );
        let err = parse(&query(MAX_CONDITIONS + 1)).unwrap_err();
        assert_eq!(err.rule, Rule::TooManyConditions);
        assert!(err.to_string().contains("more than 64 conditions"), "{err}");
        // Type names count too.
        let types: Vec<String> = (0..MAX_CONDITIONS).map(|i| format!("t{i}")).collect();
        let err = parse(&format!("type={}&data.a=b", types.join(","))).unwrap_err();
        assert_eq!(err.rule, Rule::TooManyConditions);
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
        // The year as written counts: year 1 with an offset east of UTC is year 0 in UTC.
        assert!(parse("since=0001-01-01T00:00:00%2B05:00").is_ok());
        assert!(parse("since=0000-12-31T23:00:00Z").is_err());
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
}
