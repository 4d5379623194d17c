//! The chart of events over time by type: stacked bars, rendered on the server as SVG.

use chrono::{DateTime, Duration, Utc};
use eventlog::EventTypes;
use eventlog::store::EventFilter;

use crate::error::AppError;
use crate::format::absolute;

/// Number of bars.
const BUCKETS: i64 = 60;
/// Drawing size.
pub const WIDTH: f64 = 1000.0;
/// Drawing height.
pub const HEIGHT: f64 = 120.0;
const PALETTE: [&str; 6] = [
    "#4e79a7", "#f28e2b", "#59a14f", "#b07aa1", "#76b7b2", "#9c755f",
];
/// Fill of a type that is not configured (stored by an older configuration).
pub(crate) const FALLBACK_FILL: &str = PALETTE[PALETTE.len() - 1];

/// One stacked bar segment.
#[derive(Debug, Clone)]
pub struct Bar {
    /// Left edge.
    pub x: String,
    /// Top edge.
    pub y: String,
    /// Width.
    pub w: String,
    /// Height.
    pub h: String,
    /// Fill colour.
    pub fill: String,
    /// Tooltip.
    pub title: String,
}

/// A legend entry.
#[derive(Debug, Clone)]
pub struct Legend {
    /// Type name: the swatch takes its colour from the class `swatch-{name}`.
    pub name: String,
    /// Type label.
    pub label: String,
    /// Colour.
    pub fill: String,
}

/// The chart: bars, legend and the time span it covers.
#[derive(Debug, Clone, Default)]
pub struct Chart {
    /// Bar segments.
    pub bars: Vec<Bar>,
    /// Legend.
    pub legend: Vec<Legend>,
    /// Start of the span.
    pub from: String,
    /// End of the span.
    pub to: String,
    /// Largest bar total.
    pub max: i64,
}

/// Colour of a type in charts: its background, else its text colour, else one of a palette
/// by severity (unconfigured types get [`FALLBACK_FILL`]).
pub(crate) fn color_of(types: &EventTypes, name: &str) -> String {
    let t = types.display(name);
    t.bgcolor.or(t.color).unwrap_or_else(|| {
        let i = types.severity(name).unwrap_or(PALETTE.len() - 1);
        PALETTE[i % PALETTE.len()].to_owned()
    })
}

/// Builds the chart of `filter` over its time range, or the last 7 days when it has none.
pub async fn build(
    store: &dyn eventlog::store::Store,
    types: &EventTypes,
    filter: &EventFilter,
    now: DateTime<Utc>,
) -> Result<Chart, AppError> {
    let until = filter.until.unwrap_or(now);
    let since = filter.since.unwrap_or(until - Duration::days(7));
    if since >= until {
        return Ok(Chart::default());
    }
    let span = (until - since).num_seconds().max(1);
    let bucket = (span / BUCKETS).max(60);
    let mut f = filter.clone();
    f.since = Some(since);
    f.until = Some(until);
    let rows = store.histogram(&f, bucket).await?;
    let origin = since.timestamp() / bucket * bucket;
    let n = ((until.timestamp() - origin) / bucket + 1) as usize;
    let mut totals = vec![0i64; n];
    for (t, _, c) in &rows {
        if let Some(slot) = totals.get_mut(((t.timestamp() - origin) / bucket) as usize) {
            *slot += c;
        }
    }
    let max = totals.iter().copied().max().unwrap_or(0);
    let mut chart = Chart {
        from: absolute(since),
        to: absolute(until),
        max,
        ..Chart::default()
    };
    if max == 0 {
        return Ok(chart);
    }
    let w = WIDTH / n as f64;
    let mut stacked = vec![0i64; n];
    let mut seen: Vec<String> = Vec::new();
    for (t, name, c) in rows {
        let i = ((t.timestamp() - origin) / bucket) as usize;
        let Some(base) = stacked.get_mut(i) else {
            continue;
        };
        let h = c as f64 / max as f64 * HEIGHT;
        let y = HEIGHT - (*base as f64 / max as f64 * HEIGHT) - h;
        *base += c;
        let fill = color_of(types, &name);
        let label = types.display(&name).label;
        if !seen.contains(&name) {
            seen.push(name.clone());
            chart.legend.push(Legend {
                name: name.clone(),
                label: label.clone(),
                fill: fill.clone(),
            });
        }
        chart.bars.push(Bar {
            x: format!("{:.1}", i as f64 * w),
            y: format!("{y:.1}"),
            w: format!("{:.1}", (w - 1.0).max(0.5)),
            h: format!("{h:.1}"),
            fill,
            title: format!("{label}: {c} from {}", absolute(t)),
        });
    }
    Ok(chart)
}
