//! The admin's list parameters: the filter language of `eventlog::filter`, plus the admin's
//! time presets (`date=today|7d|month|year`), parsed once by an extractor whose rejection is
//! a 400 page naming the key and the rule.

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use chrono::{DateTime, Datelike, Duration, NaiveTime, TimeZone, Utc};
use eventlog::filter::{FilterError, ListQuery, Rule, form_pairs};
use eventlog::store::{EventFilter, GroupCursor, GroupFilter};

use crate::AppState;
use crate::error::AppError;

/// A preset time range of the admin's filter form.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DatePreset {
    /// Since midnight UTC.
    Today,
    /// The past 7 days.
    Week,
    /// Since the first of this month.
    Month,
    /// Since the first of January.
    Year,
}

impl DatePreset {
    fn parse(value: &str) -> Result<Option<DatePreset>, FilterError> {
        Ok(Some(match value {
            "" | "any" => return Ok(None),
            "today" => DatePreset::Today,
            "7d" => DatePreset::Week,
            "month" => DatePreset::Month,
            "year" => DatePreset::Year,
            _ => {
                return Err(FilterError::new(
                    "date",
                    value,
                    Rule::OneOf("today, 7d, month, year"),
                ));
            }
        }))
    }

    /// The value in a query string.
    pub fn as_str(self) -> &'static str {
        match self {
            DatePreset::Today => "today",
            DatePreset::Week => "7d",
            DatePreset::Month => "month",
            DatePreset::Year => "year",
        }
    }

    /// Where the range starts, seen at `now`.
    pub fn since(self, now: DateTime<Utc>) -> DateTime<Utc> {
        let today = Utc.from_utc_datetime(&now.date_naive().and_time(NaiveTime::MIN));
        match self {
            DatePreset::Today => today,
            DatePreset::Week => now - Duration::days(7),
            DatePreset::Month => today.with_day(1).unwrap_or(today),
            DatePreset::Year => today
                .with_day(1)
                .and_then(|d| d.with_month(1))
                .unwrap_or(today),
        }
    }
}

/// The list parameters of an admin page, parsed once.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct AdminQuery {
    /// The filters, order and (event list) cursor.
    pub list: ListQuery,
    /// The preset range, used when `since` is not given.
    pub date: Option<DatePreset>,
    /// Keys the filter language does not know (`format`, `after`, …), for the route.
    rest: Vec<(String, String)>,
}

/// A filter error as the admin shows it: a 400 page naming the key and the rule.
pub fn bad_filter(e: FilterError) -> AppError {
    AppError::BadRequest(e.to_string())
}

impl AdminQuery {
    /// Parses decoded key/value pairs.
    pub fn from_pairs(pairs: Vec<(String, String)>) -> Result<AdminQuery, FilterError> {
        let (list, rest) = ListQuery::from_pairs(pairs)?;
        let mut q = AdminQuery {
            list,
            date: None,
            rest: Vec::new(),
        };
        for (key, value) in rest {
            if key == "date" {
                q.date = DatePreset::parse(&value)?;
            } else {
                q.rest.push((key, value));
            }
        }
        Ok(q)
    }

    /// A route's own parameter (one the filter language does not know), if given.
    pub fn param(&self, key: &str) -> Option<&str> {
        self.rest
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }

    /// The store filter, with the preset range resolved at `now`.
    pub fn filter(&self, now: DateTime<Utc>) -> EventFilter {
        let mut f = self.list.filter();
        if f.since.is_none() {
            f.since = self.date.map(|d| d.since(now));
        }
        f
    }

    /// The groups-page filter (`q` searches group ids).
    pub fn group_filter(&self, now: DateTime<Utc>) -> GroupFilter {
        let f = self.filter(now);
        GroupFilter {
            types: f.types,
            since: f.since,
            until: f.until,
            text: f.text,
        }
    }

    /// Refuses a type that is neither configured in `state` nor stored in its database.
    pub async fn check_types(&self, state: &AppState) -> Result<(), AppError> {
        self.list
            .check_types(state.types(), state.reads().as_ref())
            .await
            .map_err(|e| match e {
                eventlog::filter::TypeCheckError::Filter(e) => bad_filter(e),
                eventlog::filter::TypeCheckError::Store(e) => AppError::Store(e),
            })
    }

    /// The search text, for the form.
    pub fn q(&self) -> &str {
        self.list.text.as_deref().unwrap_or_default()
    }

    /// The preset, for the form (`""`: any time).
    pub fn date(&self) -> &str {
        self.date.map_or("", DatePreset::as_str)
    }

    /// `since` as typed, for the form.
    pub fn since(&self) -> &str {
        self.list.since.as_ref().map_or("", |t| t.as_str())
    }

    /// `until` as typed, for the form.
    pub fn until(&self) -> &str {
        self.list.until.as_ref().map_or("", |t| t.as_str())
    }

    /// Whether a filter (not order or page) is set.
    pub fn is_filtered(&self) -> bool {
        self.list.is_filtered() || self.date.is_some()
    }

    /// Whether the page is not the first of the event list.
    pub fn has_cursor(&self) -> bool {
        self.list.cursor.is_some()
    }

    /// The URL of the page after this one of the listing at `list` (`{base}/events`): this
    /// query with the `next` page's cursor; empty on the last page.
    pub fn next_url(&self, list: &str, next: Option<impl std::fmt::Display>) -> String {
        next.map(|c| format!("{list}?{}", self.query_with(&[("cursor", &c.to_string())])))
            .unwrap_or_default()
    }

    /// A query string of the filters and order with some parameters replaced or added (an
    /// empty value removes one), no leading `?`.
    pub fn query_with(&self, extra: &[(&str, &str)]) -> String {
        let mut pairs = self.list.to_pairs();
        if let Some(d) = self.date {
            pairs.push(("date".into(), d.as_str().into()));
        }
        for (k, v) in extra {
            pairs.retain(|(pk, _)| pk != k);
            if !v.is_empty() {
                pairs.push(((*k).to_owned(), (*v).to_owned()));
            }
        }
        serde_urlencoded::to_string(&pairs).unwrap_or_default()
    }
}

impl<S: Send + Sync> FromRequestParts<S> for AdminQuery {
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        AdminQuery::from_pairs(form_pairs(parts.uri.query().unwrap_or_default()))
            .map_err(bad_filter)
    }
}

/// The groups page's parameters: the admin's, with a group cursor instead of an event one.
#[derive(Debug, Clone)]
pub struct GroupsQuery {
    /// The filters.
    pub filters: AdminQuery,
    /// Where the page starts.
    pub cursor: Option<GroupCursor>,
}

impl<S: Send + Sync> FromRequestParts<S> for GroupsQuery {
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        let mut pairs = form_pairs(parts.uri.query().unwrap_or_default());
        let mut cursor = None;
        if let Some(i) = pairs.iter().position(|(k, _)| k == "cursor") {
            let (key, value) = pairs.remove(i);
            if value.contains('\0') {
                return Err(bad_filter(FilterError::new(&key, &value, Rule::Nul)));
            }
            if !value.is_empty() {
                cursor = Some(
                    value
                        .parse()
                        .map_err(|_| bad_filter(FilterError::new(&key, &value, Rule::Cursor)))?,
                );
            }
        }
        let filters = AdminQuery::from_pairs(pairs).map_err(bad_filter)?;
        Ok(GroupsQuery { filters, cursor })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(q: &str) -> Result<AdminQuery, FilterError> {
        AdminQuery::from_pairs(form_pairs(q))
    }

    #[test]
    fn presets_and_links() {
        let now = DateTime::parse_from_rfc3339("2026-11-27T10:00:00Z")
            .unwrap()
            .with_timezone(&Utc);
        let since = |d: &str| {
            parse(&format!("date={d}"))
                .unwrap()
                .filter(now)
                .since
                .unwrap()
                .to_rfc3339()
        };
        assert_eq!(since("today"), "2026-11-27T00:00:00+00:00");
        assert_eq!(since("7d"), "2026-11-20T10:00:00+00:00");
        assert_eq!(since("month"), "2026-11-01T00:00:00+00:00");
        assert_eq!(since("year"), "2026-01-01T00:00:00+00:00");
        assert_eq!(
            parse("date=soon").unwrap_err().to_string(),
            "date=\"soon\": not one of: today, 7d, month, year"
        );
        let q = parse("q=mail&type=error&date=7d&order=asc&format=csv&cursor=1_2").unwrap();
        assert_eq!(q.param("format"), Some("csv"));
        let back = parse(&q.query_with(&[("cursor", "1_2")])).unwrap();
        assert_eq!(back.list, q.list);
        assert_eq!(back.date, q.date);
    }
}
