//! The chart of events over time by type: stacked bars, rendered on the server as SVG.
//!
//! It covers what the list is filtered to: the chosen range, or, without one, the data's own
//! extent (its first and last matching event, two index lookups). The bucket width is the
//! smallest of a ladder of round widths (minute … year) that fits the span in at most
//! [`MAX_BUCKETS`] bars. Each bar links to the list narrowed to its bucket.
//!
//! A filter by type and time only is counted in full (on PostgreSQL from the per-day and
//! per-hour counts the store keeps, so a chart over ten million events reads a few thousand
//! rows). A search, group, initiator or data filter counts the newest [`NEWEST_BOUND`]
//! matches: with more, the chart starts at the oldest of them and says so. A search for a
//! frequent word counts its matches among the newest [`FREQUENT_EVENTS`] events only, and
//! says so.

use std::collections::BTreeMap;

use chrono::{DateTime, Duration, Utc};
use eventlog::EventTypes;
use eventlog::store::{Counted, EventFilter, NewestCounts, Order};

use super::list_query::AdminQuery;
use crate::AppState;
use crate::error::AppError;
use crate::format::{TimeText, absolute, thousands};

/// The most matches the chart of a search, group, initiator or data filter counts (the
/// newest): counting every match of a frequent word would read millions of events. One past
/// the list's count bound, so that the count read with the chart tells 10,000 from more.
pub const NEWEST_BOUND: usize = super::events::COUNT_BOUND as usize + 1;

/// The events a search for a frequent word (thousands of matches) is tested on for its
/// chart, the newest: each test computes the event's words again (~20 µs here), so the
/// newest 10,001 matches of a word in 3% of the events would cost seconds.
pub const FREQUENT_EVENTS: usize = 1_000;

/// Most bars.
pub const MAX_BUCKETS: i64 = 60;
/// Drawing size.
pub const WIDTH: f64 = 1000.0;
/// Drawing height.
pub const HEIGHT: f64 = 120.0;

/// Round bucket widths in seconds, with their names: the chart uses the first that fits.
const LADDER: [(i64, &str); 14] = [
    (60, "minute"),
    (5 * 60, "5 minutes"),
    (15 * 60, "15 minutes"),
    (30 * 60, "30 minutes"),
    (3600, "hour"),
    (3 * 3600, "3 hours"),
    (6 * 3600, "6 hours"),
    (12 * 3600, "12 hours"),
    (86_400, "day"),
    (2 * 86_400, "2 days"),
    (7 * 86_400, "week"),
    (30 * 86_400, "30 days"),
    (91 * 86_400, "quarter"),
    (365 * 86_400, "year"),
];

/// One bar: its segments (one per type) and the link to its bucket.
#[derive(Debug, Clone)]
pub struct Bar {
    /// Left edge.
    pub x: String,
    /// Width.
    pub w: String,
    /// The list narrowed to this bucket.
    pub href: String,
    /// What the bar says: its time span and count, for the tooltip and screen readers.
    pub title: String,
    /// Segments, bottom up.
    pub segments: Vec<Segment>,
}

/// One stacked segment of a bar.
#[derive(Debug, Clone)]
pub struct Segment {
    /// Top edge.
    pub y: String,
    /// Height.
    pub h: String,
    /// Fill colour.
    pub fill: String,
}

/// A legend entry.
#[derive(Debug, Clone)]
pub struct Legend {
    /// Type name: the swatch takes its colour from the class `swatch-{name}`.
    pub name: String,
    /// Type label.
    pub label: String,
}

/// The chart: bars, legend and the time span it covers.
#[derive(Debug, Clone, Default)]
pub struct Chart {
    /// Bars that have events.
    pub bars: Vec<Bar>,
    /// Legend, least severe type first (unconfigured types last).
    pub legend: Vec<Legend>,
    /// Start of the span (shown absolute, with its ISO 8601 form for `datetime`).
    pub from: TimeText,
    /// End of the span.
    pub to: TimeText,
    /// Width of one bar in words (`hour`, `day` …).
    pub bucket: String,
    /// Largest bar total.
    pub max: i64,
    /// When only the newest matches were counted: what was, e.g. `the newest 10,000
    /// matches`; empty when every match was.
    pub newest: String,
    /// How many events match, when the chart counted them: every match of a filter by type
    /// and time; at most [`NEWEST_BOUND`] of another; with `true`, how many there are at
    /// least (a frequent search). The list shows it as its count.
    pub matches: Option<(u64, bool)>,
}

/// The bucket width (seconds) and its name for a span of `span` seconds.
pub fn bucket_for(span: i64) -> (i64, &'static str) {
    LADDER
        .iter()
        .copied()
        .find(|(w, _)| span <= w * MAX_BUCKETS)
        .unwrap_or_else(|| {
            // Spans over 60 years: whole multiples of a year.
            let years = span / (365 * 86_400 * MAX_BUCKETS) + 1;
            (years * 365 * 86_400, "several years")
        })
}

/// How a bucket bound is written in a link: what the form's `datetime-local` inputs show.
fn link_time(t: DateTime<Utc>) -> String {
    t.format("%Y-%m-%dT%H:%M").to_string()
}

/// The time span the chart of a type-and-time filter covers: the filter's range, or the
/// data's extent. `None` when nothing matches.
async fn span(
    state: &AppState,
    filter: &EventFilter,
    now: DateTime<Utc>,
) -> Result<Option<(DateTime<Utc>, DateTime<Utc>)>, AppError> {
    // The oldest and the newest match, read at the same time (two connections).
    let end = |order: Order| async move {
        let page = state.reads().list(filter, order, None, 1).await?;
        Ok::<_, AppError>(page.items.first().map(|e| e.timestamp))
    };
    let (first, last) = match (filter.since, filter.until) {
        (Some(_), Some(_)) => (None, None),
        (None, Some(_)) => (end(Order::Asc).await?, None),
        (Some(_), None) => (None, None),
        (None, None) => tokio::try_join!(end(Order::Asc), end(Order::Desc))?,
    };
    let since = match filter.since {
        Some(s) => s,
        None => match first {
            Some(t) => t,
            None => return Ok(None),
        },
    };
    let until = match filter.until {
        Some(u) => u,
        None if filter.since.is_some() => now.max(since + Duration::seconds(1)),
        None => match last {
            // `until` is exclusive: just after the newest event.
            Some(t) => t + Duration::seconds(1),
            None => return Ok(None),
        },
    };
    Ok((since < until).then_some((since, until)))
}

/// What the chart of a filter that is not by type and time counts: the newest matches of
/// the filter, a range open at its end cut at `now` (events stamped in the future are left
/// out of its span).
pub fn newest_filter(filter: &EventFilter, now: DateTime<Utc>) -> EventFilter {
    let mut f = filter.clone();
    if let (Some(since), None) = (f.since, f.until) {
        f.until = Some(now.max(since + Duration::seconds(1)));
    }
    f
}

/// Builds the chart of `filter` (the list's, from `params` at `now`). A filter that is not
/// by type and time is drawn from `counted`, the store's counts of [`newest_filter`] (read
/// with the list's page, [`eventlog::store::ListingQuery::list_with_newest`]), or they are read
/// here.
pub async fn build(
    state: &AppState,
    params: &AdminQuery,
    filter: &EventFilter,
    now: DateTime<Utc>,
    base: &str,
    counted: Option<NewestCounts>,
) -> Result<Chart, AppError> {
    let mut newest = String::new();
    let mut matches = None;
    let (since, until, rows, bucket, bucket_name) = if filter.by_type_and_time() {
        let Some((since, until)) = span(state, filter, now).await? else {
            return Ok(Chart::default());
        };
        let (bucket, bucket_name) = bucket_for((until - since).num_seconds().max(1));
        let mut f = filter.clone();
        f.since = Some(since);
        f.until = Some(until);
        let rows = state.reads().histogram(&f, bucket).await?;
        // The chart's span holds every match (unless a range starting at `since` is cut at
        // now, leaving out events stamped in the future): its total is the list's count,
        // read from the same per-period counts instead of walking 10,001 index entries.
        if filter.since.is_none() || filter.until.is_some() {
            matches = Some((rows.iter().map(|r| r.2.max(0) as u64).sum(), false));
        }
        (since, until, rows, bucket, bucket_name)
    } else {
        // One read gives the counts, the span (the oldest and newest match counted) and
        // the number of matches.
        let f = newest_filter(filter, now);
        let counted = match counted {
            Some(counted) => counted,
            None => {
                state
                    .reads()
                    .histogram_newest(&f, NEWEST_BOUND, FREQUENT_EVENTS)
                    .await?
            }
        };
        // A frequent search: the plan counted thousands of matches, whatever was tested.
        matches = Some(match counted.counted {
            Counted::Since { at_least, .. } => (at_least.max(counted.total), true),
            _ => (counted.total, false),
        });
        let Some((oldest, latest)) = counted.range else {
            return Ok(Chart {
                matches,
                ..Chart::default()
            });
        };
        let since = match (counted.counted, f.since) {
            (Counted::All, Some(since)) => since,
            (Counted::All | Counted::NewestMatches, _) => oldest,
            (Counted::Since { from, .. }, _) => from,
        };
        // `until` is exclusive: just after the newest match.
        let until = f.until.unwrap_or(latest + Duration::seconds(1));
        match counted.counted {
            Counted::All => {}
            Counted::NewestMatches => {
                newest = format!("the newest {} matches", thousands(counted.total));
            }
            Counted::Since { .. } => {
                newest = format!(
                    "the matches among the newest {} events",
                    thousands(FREQUENT_EVENTS as u64)
                );
            }
        }
        let (bucket, bucket_name) = bucket_for((until - since).num_seconds().max(1));
        (
            since,
            until,
            rebin(counted.rows, bucket),
            bucket,
            bucket_name,
        )
    };
    let origin = since.timestamp().div_euclid(bucket) * bucket;
    let n = ((until.timestamp() - 1 - origin).div_euclid(bucket) + 1).max(1) as usize;
    let slot = |t: DateTime<Utc>| ((t.timestamp() - origin).div_euclid(bucket)) as usize;
    let mut totals = vec![0i64; n];
    for (t, _, c) in &rows {
        if let Some(s) = totals.get_mut(slot(*t)) {
            *s += c;
        }
    }
    let max = totals.iter().copied().max().unwrap_or(0);
    let mut chart = Chart {
        from: TimeText::new(since, now),
        to: TimeText::new(until, now),
        bucket: bucket_name.to_owned(),
        max,
        newest,
        matches,
        ..Chart::default()
    };
    if max == 0 {
        return Ok(chart);
    }
    let types = state.types();
    // Segments stack in severity order, least severe at the bottom.
    let mut rows = rows;
    rows.sort_by_key(|(t, name, _)| (*t, types.severity(name).map_or(0, |s| s + 1)));
    let w = WIDTH / n as f64;
    let mut bars: Vec<Option<Bar>> = vec![None; n];
    let mut stacked = vec![0i64; n];
    let mut present: Vec<&str> = Vec::new();
    for (t, name, c) in &rows {
        let i = slot(*t);
        let (Some(base_count), Some(bar)) = (stacked.get_mut(i), bars.get_mut(i)) else {
            continue;
        };
        let h = *c as f64 / max as f64 * HEIGHT;
        let y = HEIGHT - (*base_count as f64 / max as f64 * HEIGHT) - h;
        *base_count += c;
        if !present.contains(&name.as_str()) {
            present.push(name);
        }
        let bar = bar.get_or_insert_with(|| {
            let start = DateTime::from_timestamp(origin + i as i64 * bucket, 0).unwrap_or(since);
            let end = start + Duration::seconds(bucket);
            let href = format!(
                "{base}/events?{}",
                params.query_with(&[
                    ("cursor", ""),
                    ("date", ""),
                    ("since", &link_time(start.max(since))),
                    ("until", &link_time(end.min(until + Duration::seconds(59)))),
                ])
            );
            Bar {
                x: format!("{:.1}", i as f64 * w),
                w: format!("{:.1}", (w - 1.0).max(0.5)),
                href,
                title: String::new(),
                segments: Vec::new(),
            }
        });
        bar.segments.push(Segment {
            y: format!("{y:.1}"),
            h: format!("{h:.1}"),
            fill: state.chart_color(name).to_owned(),
        });
    }
    for (i, bar) in bars.iter_mut().enumerate() {
        if let Some(bar) = bar {
            let start = DateTime::from_timestamp(origin + i as i64 * bucket, 0).unwrap_or(since);
            let n = totals[i];
            bar.title = format!(
                "{n} event{} from {} ({bucket_name}); show them",
                if n == 1 { "" } else { "s" },
                absolute(start)
            );
        }
    }
    chart.bars = bars.into_iter().flatten().collect();
    chart.legend = legend(types, &present);
    Ok(chart)
}

/// Per-minute counts summed into `bucket`-second buckets (both counted from the Unix epoch,
/// so a minute falls in one bucket), in (bucket, type) order.
fn rebin(
    rows: Vec<(DateTime<Utc>, String, i64)>,
    bucket: i64,
) -> Vec<(DateTime<Utc>, String, i64)> {
    let mut sums: BTreeMap<(i64, String), i64> = BTreeMap::new();
    for (t, name, n) in rows {
        *sums
            .entry((t.timestamp().div_euclid(bucket) * bucket, name))
            .or_default() += n;
    }
    sums.into_iter()
        .filter_map(|((t, name), n)| Some((DateTime::from_timestamp(t, 0)?, name, n)))
        .collect()
}

/// The legend of the types present, in severity order (unconfigured types last, by name).
fn legend(types: &EventTypes, present: &[&str]) -> Vec<Legend> {
    let mut names: Vec<&str> = present.to_vec();
    names.sort_by_key(|n| (types.severity(n).unwrap_or(usize::MAX), n.to_string()));
    names
        .into_iter()
        .map(|n| Legend {
            name: n.to_owned(),
            label: types.display(n).label,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buckets_are_round_and_fit() {
        assert_eq!(bucket_for(30 * 60), (60, "minute"));
        assert_eq!(bucket_for(86_400), (30 * 60, "30 minutes"));
        assert_eq!(bucket_for(7 * 86_400), (3 * 3600, "3 hours"));
        assert_eq!(bucket_for(30 * 86_400), (12 * 3600, "12 hours"));
        assert_eq!(bucket_for(365 * 86_400), (7 * 86_400, "week"));
        for span in [1, 59, 3600, 86_400 * 90, 86_400 * 3650, 86_400 * 365 * 500] {
            let (w, _) = bucket_for(span);
            assert!(span <= w * MAX_BUCKETS, "{span}");
        }
    }

    #[test]
    fn legend_follows_severity() {
        let types = EventTypes::default();
        let l = legend(&types, &["critical", "old", "info", "error"]);
        let names: Vec<&str> = l.iter().map(|l| l.name.as_str()).collect();
        assert_eq!(names, ["info", "error", "critical", "old"]);
    }
}
