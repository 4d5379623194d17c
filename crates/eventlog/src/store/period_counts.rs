//! Events counted per period and type (`event_day_counts`, `event_hour_counts`), kept in the
//! transaction that writes or deletes the events: the chart of a long range adds up these rows
//! instead of counting millions of events. This module splits a histogram's range into the
//! parts each table answers; the backends run the parts.

use chrono::{DateTime, TimeDelta, Utc};

/// An hour in seconds.
pub(crate) const HOUR: i64 = 3600;
/// A day in seconds.
pub(crate) const DAY: i64 = 86_400;

/// The per-period counts, longest period first: (its length in seconds, the table, its time
/// column). Periods are counted from the Unix epoch (UTC days).
pub(crate) const PERIOD_COUNTS: [(i64, &str, &str); 2] = [
    (DAY, "event_day_counts", "day"),
    (HOUR, "event_hour_counts", "hour"),
];

/// A histogram's bars added up over the parts of its range ([`split`]): each part's
/// (bucket, type, count) rows are summed into one bar per bucket and type.
#[derive(Default)]
pub(crate) struct BucketSums(std::collections::BTreeMap<(DateTime<Utc>, String), i64>);

impl BucketSums {
    /// Adds one part's rows.
    pub(crate) fn add(&mut self, rows: Vec<(DateTime<Utc>, String, i64)>) {
        for (t, event_type, n) in rows {
            *self.0.entry((t, event_type)).or_default() += n;
        }
    }

    /// The bars in (bucket, type) order, without empty ones.
    pub(crate) fn into_rows(self) -> Vec<(DateTime<Utc>, String, i64)> {
        self.0
            .into_iter()
            .filter(|(_, n)| *n > 0)
            .map(|((t, event_type), n)| (t, event_type, n))
            .collect()
    }
}

/// The start of the `period`-second period holding `t`.
pub(crate) fn period_of(t: DateTime<Utc>, period: i64) -> DateTime<Utc> {
    let secs = t.timestamp().div_euclid(period) * period;
    DateTime::from_timestamp(secs, 0).unwrap_or(t)
}

/// Events added (or, negative, taken away) summed per period of each table: for each entry of
/// [`PERIOD_COUNTS`], the (period start, type, count) rows to add, in (period, type) order
/// (the order every writer locks them in), none of them zero.
pub(crate) fn period_deltas<'a>(
    deltas: &[(DateTime<Utc>, &'a str, i64)],
) -> Vec<Vec<(DateTime<Utc>, &'a str, i64)>> {
    PERIOD_COUNTS
        .iter()
        .map(|(period, _, _)| {
            let mut sums: std::collections::BTreeMap<(DateTime<Utc>, &str), i64> =
                std::collections::BTreeMap::new();
            for (t, event_type, n) in deltas {
                *sums
                    .entry((period_of(*t, *period), event_type))
                    .or_default() += n;
            }
            // A day's sum may be zero where its hours' are not (one added, one taken away).
            sums.into_iter()
                .filter(|(_, n)| *n != 0)
                .map(|((t, ty), n)| (t, ty, n))
                .collect()
        })
        .collect()
}

/// The events of a batch that were stored (not already there), one each at its time and type:
/// what the batch adds to the counts.
pub(crate) fn created<'a>(
    events: &'a [crate::event::NewEvent],
    results: &'a [crate::store::Inserted],
) -> impl Iterator<Item = (DateTime<Utc>, &'a str, i64)> {
    events
        .iter()
        .zip(results)
        .filter(|(_, r)| r.created)
        .map(|(e, _)| (e.timestamp, e.event_type.as_str(), 1))
}

/// One table's rows of [`period_deltas`], for a backend to write: the table
/// (`event_day_counts`, `event_hour_counts`), its period column, the (period start, type,
/// count) rows to add in lock order (none of them zero), and whether a count goes down (rows
/// left at zero are then deleted).
pub(crate) type PeriodChanges<'a> = (
    &'static str,
    &'static str,
    Vec<(DateTime<Utc>, &'a str, i64)>,
    bool,
);

/// The changes `deltas` make to each table of [`PERIOD_COUNTS`]; a table with nothing to add
/// is left out.
pub(crate) fn period_changes<'a>(
    deltas: impl IntoIterator<Item = (DateTime<Utc>, &'a str, i64)>,
) -> Vec<PeriodChanges<'a>> {
    let deltas: Vec<(DateTime<Utc>, &str, i64)> = deltas.into_iter().collect();
    PERIOD_COUNTS
        .iter()
        .zip(period_deltas(&deltas))
        .filter(|(_, rows)| !rows.is_empty())
        .map(|(&(_, table, column), rows)| {
            let taken = rows.iter().any(|r| r.2 < 0);
            (table, column, rows, taken)
        })
        .collect()
}

/// Where one part of a histogram's range `[from, to)` (`None`: open) is counted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Part {
    /// From the rows of `PERIOD_COUNTS[table]` whose period starts in the range.
    Counts {
        /// Index into [`PERIOD_COUNTS`].
        table: usize,
        /// Start.
        from: Option<DateTime<Utc>>,
        /// End.
        to: Option<DateTime<Utc>>,
    },
    /// From the events.
    Events {
        /// Start.
        from: Option<DateTime<Utc>>,
        /// End.
        to: Option<DateTime<Utc>>,
    },
}

/// Splits `[since, until)` for a histogram of `width`-second buckets: the whole periods of
/// the longest table whose period divides the width (every period then falls in one bucket,
/// both counted from the epoch), the part periods at either end by the next table, and so on
/// down to the events.
pub(crate) fn split(
    since: Option<DateTime<Utc>>,
    until: Option<DateTime<Utc>>,
    width: i64,
) -> Vec<Part> {
    let mut parts = Vec::new();
    split_from(0, since, until, width, &mut parts);
    parts
}

fn split_from(
    table: usize,
    since: Option<DateTime<Utc>>,
    until: Option<DateTime<Utc>>,
    width: i64,
    parts: &mut Vec<Part>,
) {
    let Some(&(period, _, _)) = PERIOD_COUNTS.get(table) else {
        parts.push(Part::Events {
            from: since,
            to: until,
        });
        return;
    };
    if width % period != 0 {
        return split_from(table + 1, since, until, width, parts);
    }
    // The whole periods: from the first one starting at or after `since`, to the start of
    // the one holding `until`.
    let first = since.map(|s| {
        let p = period_of(s, period);
        if p < s {
            p + TimeDelta::seconds(period)
        } else {
            p
        }
    });
    let end = until.map(|u| period_of(u, period));
    if let (Some(first), Some(end)) = (first, end)
        && first >= end
    {
        return split_from(table + 1, since, until, width, parts);
    }
    parts.push(Part::Counts {
        table,
        from: first,
        to: end,
    });
    if let (Some(since), Some(first)) = (since, first)
        && since < first
    {
        split_from(table + 1, Some(since), Some(first), width, parts);
    }
    if let (Some(until), Some(end)) = (until, end)
        && end < until
    {
        split_from(table + 1, Some(end), Some(until), width, parts);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(secs: i64) -> DateTime<Utc> {
        DateTime::from_timestamp(secs, 0).unwrap_or_default()
    }

    #[test]
    fn whole_days_then_hours_then_events() {
        // From 01:30 on day 1 to 02:10 on day 3, weekly buckets.
        let since = t(DAY + HOUR + 1800);
        let until = t(3 * DAY + 2 * HOUR + 600);
        let parts = split(Some(since), Some(until), 7 * DAY);
        assert_eq!(
            parts,
            vec![
                Part::Counts {
                    table: 0,
                    from: Some(t(2 * DAY)),
                    to: Some(t(3 * DAY)),
                },
                Part::Counts {
                    table: 1,
                    from: Some(t(DAY + 2 * HOUR)),
                    to: Some(t(2 * DAY)),
                },
                Part::Events {
                    from: Some(since),
                    to: Some(t(DAY + 2 * HOUR)),
                },
                Part::Counts {
                    table: 1,
                    from: Some(t(3 * DAY)),
                    to: Some(t(3 * DAY + 2 * HOUR)),
                },
                Part::Events {
                    from: Some(t(3 * DAY + 2 * HOUR)),
                    to: Some(until),
                },
            ]
        );
    }

    #[test]
    fn open_ranges_and_narrow_buckets() {
        assert_eq!(
            split(None, None, DAY),
            vec![Part::Counts {
                table: 0,
                from: None,
                to: None
            }]
        );
        // Half-hour buckets: no table divides them.
        assert_eq!(
            split(None, Some(t(5)), 1800),
            vec![Part::Events {
                from: None,
                to: Some(t(5))
            }]
        );
        // Inside one hour: the events alone.
        assert_eq!(
            split(Some(t(10)), Some(t(20)), HOUR),
            vec![Part::Events {
                from: Some(t(10)),
                to: Some(t(20))
            }]
        );
    }
}
