//! The list filters as query parameters: `q`, `type` (repeatable), `group`, `initiator`,
//! `since`, `until`, `date=today|7d|month|year`, `data.PATH=VALUE`, `order=asc|desc`, `cursor`.

use chrono::{DateTime, Datelike, Duration, NaiveDate, NaiveDateTime, TimeZone, Utc};
use eventlog::store::{Cursor, DataMatch, EventFilter, GroupFilter, Order};

use crate::error::AppError;

/// A time range: (since, until), either end open.
pub type TimeRange = (Option<DateTime<Utc>>, Option<DateTime<Utc>>);

/// Parsed list parameters, kept as given so links can carry them on.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ListParams {
    /// Search text.
    pub q: String,
    /// Selected types.
    pub types: Vec<String>,
    /// Exact group.
    pub group: String,
    /// Exact initiator.
    pub initiator: String,
    /// Custom range start, as typed.
    pub since: String,
    /// Custom range end, as typed.
    pub until: String,
    /// Preset range: `today`, `7d`, `month`, `year` (empty: any time).
    pub date: String,
    /// `data.PATH=VALUE` conditions: (PATH, VALUE).
    pub data: Vec<(String, String)>,
    /// Sort order.
    pub order: Order,
    /// Pagination cursor, as given.
    pub cursor: String,
}

fn parse_time(name: &str, value: &str, end_of_day: bool) -> Result<DateTime<Utc>, AppError> {
    if let Ok(t) = DateTime::parse_from_rfc3339(value) {
        return Ok(t.with_timezone(&Utc));
    }
    for fmt in [
        "%Y-%m-%dT%H:%M",
        "%Y-%m-%dT%H:%M:%S",
        "%Y-%m-%d %H:%M:%S",
        "%Y-%m-%d %H:%M",
    ] {
        if let Ok(t) = NaiveDateTime::parse_from_str(value, fmt) {
            return Ok(Utc.from_utc_datetime(&t));
        }
    }
    if let Ok(d) = NaiveDate::parse_from_str(value, "%Y-%m-%d") {
        // A date as `until` includes that whole day.
        let d = if end_of_day {
            d.succ_opt().unwrap_or(d)
        } else {
            d
        };
        return Ok(Utc.from_utc_datetime(&d.and_time(chrono::NaiveTime::MIN)));
    }
    Err(AppError::BadRequest(format!(
        "{name}={value:?} is not a time: use YYYY-MM-DD, YYYY-MM-DDTHH:MM or RFC 3339"
    )))
}

impl ListParams {
    /// Parses a raw query string (repeated keys allowed).
    pub fn parse(query: Option<&str>) -> Result<Self, AppError> {
        let pairs: Vec<(String, String)> = serde_urlencoded::from_str(query.unwrap_or(""))
            .map_err(|e| AppError::BadRequest(format!("malformed query string: {e}")))?;
        Self::from_pairs(pairs)
    }

    /// From decoded key/value pairs.
    pub fn from_pairs(pairs: Vec<(String, String)>) -> Result<Self, AppError> {
        let mut p = ListParams::default();
        for (k, v) in pairs {
            match k.as_str() {
                "q" => p.q = v.trim().to_owned(),
                "type" if !v.is_empty() => p.types.push(v),
                "group" => p.group = v,
                "initiator" => p.initiator = v,
                "since" => p.since = v,
                "until" => p.until = v,
                "date" => match v.as_str() {
                    "" | "any" | "today" | "7d" | "month" | "year" => p.date = v,
                    _ => {
                        return Err(AppError::BadRequest(format!(
                            "date={v:?} is not a range: use today, 7d, month or year"
                        )));
                    }
                },
                "order" => {
                    p.order = match v.as_str() {
                        "asc" => Order::Asc,
                        "desc" | "" => Order::Desc,
                        _ => {
                            return Err(AppError::BadRequest(format!(
                                "order={v:?} is not a sort order: use asc or desc"
                            )));
                        }
                    }
                }
                "cursor" => p.cursor = v,
                key => {
                    if let Some(path) = key.strip_prefix("data.") {
                        if path.is_empty() || path.split('.').any(str::is_empty) {
                            return Err(AppError::BadRequest(format!(
                                "{key:?} is not a data filter: use data.KEY=VALUE or data.KEY.SUBKEY=VALUE"
                            )));
                        }
                        p.data.push((path.to_owned(), v));
                    }
                    // Other parameters (format, after, id, …) belong to the route.
                }
            }
        }
        Ok(p)
    }

    /// The time range selected by `date`, `since` and `until`.
    pub fn range(&self, now: DateTime<Utc>) -> Result<TimeRange, AppError> {
        let today = Utc.from_utc_datetime(&now.date_naive().and_time(chrono::NaiveTime::MIN));
        let mut since = match self.date.as_str() {
            "today" => Some(today),
            "7d" => Some(now - Duration::days(7)),
            "month" => today.with_day(1),
            "year" => today.with_day(1).and_then(|d| d.with_month(1)),
            _ => None,
        };
        if !self.since.is_empty() {
            since = Some(parse_time("since", &self.since, false)?);
        }
        let until = match self.until.as_str() {
            "" => None,
            u => Some(parse_time("until", u, true)?),
        };
        Ok((since, until))
    }

    /// The store filter.
    pub fn filter(&self, now: DateTime<Utc>) -> Result<EventFilter, AppError> {
        let (since, until) = self.range(now)?;
        let nonempty = |s: &str| (!s.is_empty()).then(|| s.to_owned());
        Ok(EventFilter {
            types: self.types.clone(),
            since,
            until,
            text: nonempty(&self.q),
            group: nonempty(&self.group),
            initiator: nonempty(&self.initiator),
            data: self
                .data
                .iter()
                .map(|(path, value)| DataMatch {
                    path: path.split('.').map(str::to_owned).collect(),
                    value: value.clone(),
                })
                .collect(),
        })
    }

    /// The groups-page filter (`q` searches group ids).
    pub fn group_filter(&self, now: DateTime<Utc>) -> Result<GroupFilter, AppError> {
        let (since, until) = self.range(now)?;
        Ok(GroupFilter {
            types: self.types.clone(),
            since,
            until,
            text: (!self.q.is_empty()).then(|| self.q.clone()),
        })
    }

    /// The cursor, if one was given.
    pub fn cursor(&self) -> Result<Option<Cursor>, AppError> {
        if self.cursor.is_empty() {
            return Ok(None);
        }
        self.cursor.parse().map(Some).map_err(|_| {
            AppError::BadRequest(format!(
                "cursor={:?} is not a valid pagination cursor",
                self.cursor
            ))
        })
    }

    /// Whether any filter is set.
    pub fn is_filtered(&self) -> bool {
        !(self.q.is_empty()
            && self.types.is_empty()
            && self.group.is_empty()
            && self.initiator.is_empty()
            && self.since.is_empty()
            && self.until.is_empty()
            && self.date.is_empty()
            && self.data.is_empty())
    }

    /// The filters (not order or cursor) as key/value pairs.
    pub fn filter_pairs(&self) -> Vec<(String, String)> {
        let mut v = Vec::new();
        let mut push = |k: &str, val: &str| {
            if !val.is_empty() {
                v.push((k.to_owned(), val.to_owned()));
            }
        };
        push("q", &self.q);
        for t in &self.types {
            push("type", t);
        }
        push("group", &self.group);
        push("initiator", &self.initiator);
        push("since", &self.since);
        push("until", &self.until);
        push("date", &self.date);
        for (path, value) in &self.data {
            v.push((format!("data.{path}"), value.clone()));
        }
        v
    }

    /// A query string of the filters with some parameters replaced or added, no leading `?`.
    pub fn query_with(&self, extra: &[(&str, &str)]) -> String {
        let mut pairs = self.filter_pairs();
        if self.order == Order::Asc && !extra.iter().any(|(k, _)| *k == "order") {
            pairs.push(("order".into(), "asc".into()));
        }
        for (k, val) in extra {
            pairs.retain(|(pk, _)| pk != k);
            if !val.is_empty() {
                pairs.push(((*k).to_owned(), (*val).to_owned()));
            }
        }
        serde_urlencoded::to_string(&pairs).unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_every_parameter() {
        let p = ListParams::parse(Some(
            "q=mail&type=error&type=critical&group=G&initiator=cron&since=2026-01-01&until=2026-02-01&order=asc&data.customer.email=a%40b.c&cursor=1_2",
        ))
        .unwrap();
        assert_eq!(p.types, ["error", "critical"]);
        assert_eq!(p.order, Order::Asc);
        let f = p.filter(Utc::now()).unwrap();
        assert_eq!(f.text.as_deref(), Some("mail"));
        assert_eq!(f.data[0].path, ["customer", "email"]);
        assert_eq!(f.data[0].value, "a@b.c");
        assert_eq!(f.until.unwrap().to_rfc3339(), "2026-02-02T00:00:00+00:00");
        assert_eq!(p.cursor().unwrap().unwrap().id, 2);
        let back = ListParams::parse(Some(&p.query_with(&[("cursor", "1_2")]))).unwrap();
        assert_eq!(back, p);
    }

    #[test]
    fn bad_values_name_the_parameter() {
        let e = ListParams::parse(Some("since=yesterday"))
            .unwrap()
            .filter(Utc::now());
        assert!(
            e.unwrap_err()
                .to_string()
                .contains("since=\"yesterday\" is not a time")
        );
        let e = ListParams::parse(Some("order=up")).unwrap_err();
        assert!(e.to_string().contains("order=\"up\""));
        let e = ListParams::parse(Some("date=soon")).unwrap_err();
        assert!(e.to_string().contains("date=\"soon\""));
        let e = ListParams::parse(Some("data.=x")).unwrap_err();
        assert!(e.to_string().contains("not a data filter"));
        let e = ListParams::parse(Some("cursor=zz"))
            .unwrap()
            .cursor()
            .unwrap_err();
        assert!(e.to_string().contains("cursor=\"zz\""));
    }

    #[test]
    fn date_presets() {
        let now = DateTime::parse_from_rfc3339("2026-11-27T10:00:00Z")
            .unwrap()
            .with_timezone(&Utc);
        let since = |d: &str| {
            ListParams::parse(Some(&format!("date={d}")))
                .unwrap()
                .range(now)
                .unwrap()
                .0
                .unwrap()
                .to_rfc3339()
        };
        assert_eq!(since("today"), "2026-11-27T00:00:00+00:00");
        assert_eq!(since("7d"), "2026-11-20T10:00:00+00:00");
        assert_eq!(since("month"), "2026-11-01T00:00:00+00:00");
        assert_eq!(since("year"), "2026-01-01T00:00:00+00:00");
    }
}
