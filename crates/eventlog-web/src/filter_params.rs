//! Query string → [`EventFilter`]: the one parser of list filters, shared by the API's
//! `GET /api/v1/events` and the admin's event list.
//!
//! | parameter | meaning |
//! |---|---|
//! | `q` | case-insensitive text in group, message or initiator |
//! | `type` | an event type; repeat it (`type=error&type=critical`) or separate with commas |
//! | `group` | exactly this group |
//! | `initiator` | exactly this initiator |
//! | `since` | at or after: RFC 3339 (`2026-01-01T00:00:00Z`) or a date (`2026-01-01`, midnight UTC) |
//! | `until` | before: same forms |
//! | `data.PATH` | `data.customer.email=a@b.c`: the value at that path inside `data` equals the text |
//! | `order` | `desc` (newest first, default) or `asc` |
//! | `cursor` | the `next_cursor` of the previous page |
//! | `limit` | page size, 1 to [`MAX_LIMIT`], default [`DEFAULT_LIMIT`] |
//!
//! Empty values (`q=` from an empty search box) count as absent. Keys this module does not know
//! are handed back in [`ListQuery::rest`]: the API rejects them, the admin may use its own.

use chrono::{DateTime, NaiveDate, Utc};
use eventlog::store::{Cursor, DataMatch, EventFilter, Order};
use thiserror::Error;

/// Default page size.
pub const DEFAULT_LIMIT: usize = 100;
/// Largest page size.
pub const MAX_LIMIT: usize = 1000;

/// A parsed list request.
#[derive(Debug, Clone, PartialEq)]
pub struct ListQuery {
    /// Which events.
    pub filter: EventFilter,
    /// Sort order by (timestamp, id).
    pub order: Order,
    /// Where the page starts.
    pub cursor: Option<Cursor>,
    /// Page size.
    pub limit: usize,
    /// Parameters this module does not know, in order.
    pub rest: Vec<(String, String)>,
}

/// A query parameter with a value that cannot be used; the message names it.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error("query parameter {param:?}: {problem}")]
pub struct ParamError {
    /// The parameter's name.
    pub param: String,
    /// What is wrong with its value.
    pub problem: String,
}

fn err(param: &str, problem: impl Into<String>) -> ParamError {
    ParamError {
        param: param.to_owned(),
        problem: problem.into(),
    }
}

/// Parses a time bound: RFC 3339, or a bare date meaning midnight UTC.
pub fn parse_time(param: &str, value: &str) -> Result<DateTime<Utc>, ParamError> {
    if let Ok(t) = DateTime::parse_from_rfc3339(value) {
        return Ok(t.with_timezone(&Utc));
    }
    NaiveDate::parse_from_str(value, "%Y-%m-%d")
        .ok()
        .and_then(|d| d.and_hms_opt(0, 0, 0))
        .map(|t| t.and_utc())
        .ok_or_else(|| {
            err(
                param,
                format!(
                    "{value:?} is not a time: use RFC 3339 (2026-01-31T12:00:00Z) or a date (2026-01-31)"
                ),
            )
        })
}

/// Parses a raw query string (without `?`; percent-encoded).
pub fn parse_query(query: &str) -> Result<ListQuery, ParamError> {
    parse_pairs(form_urlencoded::parse(query.as_bytes()).into_owned())
}

/// Parses decoded key/value pairs.
pub fn parse_pairs(
    pairs: impl IntoIterator<Item = (String, String)>,
) -> Result<ListQuery, ParamError> {
    let mut q = ListQuery {
        filter: EventFilter::default(),
        order: Order::Desc,
        cursor: None,
        limit: DEFAULT_LIMIT,
        rest: Vec::new(),
    };
    for (key, value) in pairs {
        if value.is_empty() {
            continue;
        }
        match key.as_str() {
            "q" => q.filter.text = Some(value),
            "type" => q.filter.types.extend(
                value
                    .split(',')
                    .map(str::trim)
                    .filter(|t| !t.is_empty())
                    .map(str::to_owned),
            ),
            "group" => q.filter.group = Some(value),
            "initiator" => q.filter.initiator = Some(value),
            "since" => q.filter.since = Some(parse_time(&key, &value)?),
            "until" => q.filter.until = Some(parse_time(&key, &value)?),
            "order" => {
                q.order = match value.as_str() {
                    "desc" => Order::Desc,
                    "asc" => Order::Asc,
                    _ => return Err(err(&key, format!("{value:?} is not \"asc\" or \"desc\""))),
                }
            }
            "cursor" => {
                q.cursor = Some(value.parse().map_err(|_| {
                    err(
                        &key,
                        format!("{value:?} is not a cursor from a previous page"),
                    )
                })?)
            }
            "limit" => {
                q.limit = value
                    .parse()
                    .ok()
                    .filter(|n| (1..=MAX_LIMIT).contains(n))
                    .ok_or_else(|| {
                        err(
                            &key,
                            format!("{value:?} is not a number from 1 to {MAX_LIMIT}"),
                        )
                    })?
            }
            _ => match key.strip_prefix("data.") {
                Some(path) => {
                    let path: Vec<String> = path.split('.').map(str::to_owned).collect();
                    if path.iter().any(String::is_empty) {
                        return Err(err(&key, "a data path needs a key between every dot"));
                    }
                    q.filter.data.push(DataMatch { path, value });
                }
                None => q.rest.push((key, value)),
            },
        }
    }
    Ok(q)
}

/// Writes a filter back as query pairs (for "next page" links and exports of the current view).
pub fn to_pairs(filter: &EventFilter, order: Order) -> Vec<(String, String)> {
    let mut pairs = Vec::new();
    if let Some(q) = &filter.text {
        pairs.push(("q".into(), q.clone()));
    }
    for t in &filter.types {
        pairs.push(("type".into(), t.clone()));
    }
    if let Some(g) = &filter.group {
        pairs.push(("group".into(), g.clone()));
    }
    if let Some(i) = &filter.initiator {
        pairs.push(("initiator".into(), i.clone()));
    }
    let micros = chrono::SecondsFormat::Micros;
    if let Some(t) = filter.since {
        pairs.push(("since".into(), t.to_rfc3339_opts(micros, true)));
    }
    if let Some(t) = filter.until {
        pairs.push(("until".into(), t.to_rfc3339_opts(micros, true)));
    }
    for m in &filter.data {
        pairs.push((format!("data.{}", m.path.join(".")), m.value.clone()));
    }
    if order == Order::Asc {
        pairs.push(("order".into(), "asc".into()));
    }
    pairs
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_parameter_maps_to_the_filter() {
        let q = parse_query(
            "q=Mail%20run&type=error&type=critical,warning&group=Order+1&initiator=user%3A42\
             &since=2026-01-01&until=2026-02-01T12:00:00%2B01:00&data.customer.email=a%40b.c\
             &order=asc&limit=5&cursor=1700000000000000_7&page=3&tab=",
        )
        .unwrap();
        assert_eq!(q.filter.text.as_deref(), Some("Mail run"));
        assert_eq!(q.filter.types, ["error", "critical", "warning"]);
        assert_eq!(q.filter.group.as_deref(), Some("Order 1"));
        assert_eq!(q.filter.initiator.as_deref(), Some("user:42"));
        assert_eq!(
            q.filter.since.unwrap().to_rfc3339(),
            "2026-01-01T00:00:00+00:00"
        );
        assert_eq!(
            q.filter.until.unwrap().to_rfc3339(),
            "2026-02-01T11:00:00+00:00"
        );
        assert_eq!(
            q.filter.data,
            [DataMatch {
                path: vec!["customer".into(), "email".into()],
                value: "a@b.c".into()
            }]
        );
        assert_eq!(q.order, Order::Asc);
        assert_eq!(q.limit, 5);
        assert_eq!(q.cursor.unwrap().id, 7);
        assert_eq!(q.rest, [("page".to_owned(), "3".to_owned())]);

        let back = parse_pairs(to_pairs(&q.filter, q.order)).unwrap();
        assert_eq!(back.filter, q.filter);
        assert_eq!(back.order, Order::Asc);
    }

    #[test]
    fn bad_values_name_the_parameter() {
        for (query, message) in [
            (
                "limit=0",
                "query parameter \"limit\": \"0\" is not a number from 1 to 1000",
            ),
            (
                "limit=1001",
                "query parameter \"limit\": \"1001\" is not a number from 1 to 1000",
            ),
            (
                "order=up",
                "query parameter \"order\": \"up\" is not \"asc\" or \"desc\"",
            ),
            (
                "cursor=abc",
                "query parameter \"cursor\": \"abc\" is not a cursor from a previous page",
            ),
            (
                "data..x=1",
                "query parameter \"data..x\": a data path needs a key between every dot",
            ),
        ] {
            assert_eq!(parse_query(query).unwrap_err().to_string(), message);
        }
        let e = parse_query("since=yesterday").unwrap_err();
        assert!(e.to_string().contains("\"yesterday\" is not a time"), "{e}");
        assert_eq!(parse_query("").unwrap().limit, DEFAULT_LIMIT);
    }
}
