//! Time bounds (`since`, `until`): the accepted forms and what a date alone means.

use chrono::{DateTime, Datelike, NaiveDate, NaiveDateTime, NaiveTime, TimeZone, Utc};

use super::{FilterError, Rule};

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
            // The year as written is what the rule is about: `0001-01-01T00:00+05:00` is
            // still year 0 in UTC.
            if t.year() < 1 {
                return Err(err(Rule::YearRange));
            }
            return Ok(TimeBound {
                text: text.to_owned(),
                at: t.with_timezone(&Utc),
            });
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

#[cfg(test)]
mod tests {
    use super::*;

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
