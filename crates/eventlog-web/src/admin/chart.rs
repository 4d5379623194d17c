//! The chart of events over time by type: stacked bars, drawn on the server as SVG from the
//! counts the list read ([`super::listing`]): a pure function of them, no store in sight.
//!
//! It covers what the list is filtered to: the chosen range, or, without one, the data's own
//! extent. The bucket width is the smallest of a ladder of round widths (minute … year) that
//! fits the span in at most [`MAX_BUCKETS`] bars. Each bar links to the list narrowed to its
//! bucket.

use std::collections::BTreeMap;

use chrono::{DateTime, Duration, Utc};
use eventlog::EventTypes;

use crate::format::{TimeText, absolute};

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
}

/// What a chart is drawn from: events per (bucket, type) over a span.
#[derive(Debug, Clone, PartialEq)]
pub struct ChartCounts {
    /// Start of the span.
    pub since: DateTime<Utc>,
    /// End of the span (exclusive).
    pub until: DateTime<Utc>,
    /// Width of one bar in seconds ([`bucket_for`] the span).
    pub bucket: i64,
    /// Width of one bar in words.
    pub bucket_name: &'static str,
    /// Events per (bucket start, type), `bucket` wide buckets counted from the Unix epoch.
    pub rows: Vec<(DateTime<Utc>, String, i64)>,
    /// When only the newest matches were counted: what was; empty when every match was.
    pub newest: String,
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

/// Draws the chart of `counts` at `now`: `types` order the segments and the legend,
/// `color` fills a type's segments, `link` is the list narrowed to a bucket (its start and
/// end).
pub fn draw(
    counts: ChartCounts,
    types: &EventTypes,
    color: impl Fn(&str) -> String,
    link: impl Fn(DateTime<Utc>, DateTime<Utc>) -> String,
    now: DateTime<Utc>,
) -> Chart {
    let ChartCounts {
        since,
        until,
        bucket,
        bucket_name,
        rows,
        newest,
    } = counts;
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
        ..Chart::default()
    };
    if max == 0 {
        return chart;
    }
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
            let href = link(start.max(since), end.min(until + Duration::seconds(59)));
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
            fill: color(name),
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
    chart
}

/// Per-minute counts summed into `bucket`-second buckets (both counted from the Unix epoch,
/// so a minute falls in one bucket), in (bucket, type) order.
pub fn rebin(
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

    fn at(minute: i64) -> DateTime<Utc> {
        DateTime::from_timestamp(1_700_000_000 / 3600 * 3600 + minute * 60, 0).unwrap()
    }

    fn counts(rows: &[(i64, &str, i64)]) -> ChartCounts {
        ChartCounts {
            since: at(0),
            until: at(10),
            bucket: 60,
            bucket_name: "minute",
            rows: rows
                .iter()
                .map(|(m, ty, n)| (at(*m), (*ty).to_owned(), *n))
                .collect(),
            newest: String::new(),
        }
    }

    fn draw_plain(counts: ChartCounts) -> Chart {
        draw(
            counts,
            &EventTypes::default(),
            |name| format!("fill-{name}"),
            |start, end| format!("{}..{}", start.timestamp(), end.timestamp()),
            at(60),
        )
    }

    #[test]
    fn bars_stack_by_severity_and_scale_to_the_largest() {
        let chart = draw_plain(counts(&[(2, "error", 1), (2, "info", 3), (5, "info", 2)]));
        assert_eq!(chart.max, 4);
        assert_eq!(chart.bucket, "minute");
        assert_eq!(chart.bars.len(), 2, "{chart:?}");
        let first = &chart.bars[0];
        // Ten one-minute bars over 1000 units: the bar of minute 2 starts at 200.
        assert_eq!(first.x, "200.0");
        assert_eq!(first.w, "99.0");
        // Least severe at the bottom: info (3 of 4) first, then error on top of it.
        let fills: Vec<&str> = first.segments.iter().map(|s| s.fill.as_str()).collect();
        assert_eq!(fills, ["fill-info", "fill-error"]);
        assert_eq!(first.segments[0].h, "90.0");
        assert_eq!(first.segments[0].y, "30.0");
        assert_eq!(first.segments[1].y, "0.0");
        assert!(first.title.starts_with("4 events from "), "{}", first.title);
        assert_eq!(
            first.href,
            format!("{}..{}", at(2).timestamp(), at(3).timestamp())
        );
        assert_eq!(chart.bars[1].title.split(' ').next(), Some("2"));
        let legend: Vec<&str> = chart.legend.iter().map(|l| l.name.as_str()).collect();
        assert_eq!(legend, ["info", "error"]);
    }

    #[test]
    fn no_events_draw_no_bars() {
        let chart = draw_plain(counts(&[]));
        assert_eq!(chart.max, 0);
        assert!(chart.bars.is_empty());
        assert!(chart.legend.is_empty());
    }

    #[test]
    fn counts_outside_the_span_are_left_out() {
        let chart = draw_plain(counts(&[(-5, "info", 7), (3, "info", 1), (20, "info", 9)]));
        assert_eq!(chart.max, 1);
        assert_eq!(chart.bars.len(), 1);
    }

    #[test]
    fn minutes_are_summed_into_wider_buckets() {
        let rows = vec![
            (at(0), "info".to_owned(), 1),
            (at(4), "info".to_owned(), 2),
            (at(5), "info".to_owned(), 4),
            (at(4), "error".to_owned(), 8),
        ];
        let binned = rebin(rows, 300);
        assert_eq!(
            binned,
            vec![
                (at(0), "error".to_owned(), 8),
                (at(0), "info".to_owned(), 3),
                (at(5), "info".to_owned(), 4),
            ]
        );
    }

    #[test]
    fn legend_follows_severity() {
        let types = EventTypes::default();
        let l = legend(&types, &["critical", "old", "info", "error"]);
        let names: Vec<&str> = l.iter().map(|l| l.name.as_str()).collect();
        assert_eq!(names, ["info", "error", "critical", "old"]);
    }
}
