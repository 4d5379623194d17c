//! The admin list's read: one place decides how a filter is read, and returns the page of
//! events, what the chart draws and how many events match. The page module renders it; the
//! chart is drawn from the counts alone ([`super::chart::draw`]).
//!
//! A filter by type and time only is counted in full (on PostgreSQL from the per-day and
//! per-hour counts the store keeps, so a chart over ten million events reads a few thousand
//! rows); the page and the chart (its span, then the per-period counts) are read at the same
//! time, on two connections. A search, group, initiator or data filter counts the newest
//! [`NEWEST_BOUND`] matches, read with the page so that a search is planned once for both:
//! with more, the chart starts at the oldest of them and says so. A search for a frequent
//! word counts its matches among the newest [`FREQUENT_EVENTS`] events only, and says so.
//!
//! A filter no index narrows (a `data.KEY` condition on a key that is not indexed) is one
//! bounded scan: the page, its chart and its count are what the scan found, and the page
//! says how far it looked and links to where it stopped.

use chrono::{DateTime, Duration, Utc};
use eventlog::Event;
use eventlog::store::{
    Counted, Cursor, EventFilter, ListingQuery, NewestCounts, NewestRequest, Order, Page, Scan,
    ScanBudget, scan,
};

use super::PAGE_SIZE;
use super::chart::{ChartCounts, bucket_for, rebin};
use crate::error::AppError;
use crate::format::thousands;

/// The list says how many events match, exactly up to this many ("10,000+ events" beyond):
/// counting stops there, so the count costs at most this many index entries. The chart of a
/// search counts one more ([`NEWEST_BOUND`]), and its count is the list's.
pub const COUNT_BOUND: u64 = 10_000;

/// The most matches the chart of a search, group, initiator or data filter counts (the
/// newest): counting every match of a frequent word would read millions of events. One past
/// the list's count bound, so that the count read with the chart tells 10,000 from more.
pub const NEWEST_BOUND: usize = COUNT_BOUND as usize + 1;

/// The events a search for a frequent word (thousands of matches) is tested on for its
/// chart, the newest: each test computes the event's words again (~20 µs here), so the
/// newest 10,001 matches of a word in 3% of the events would cost seconds.
pub const FREQUENT_EVENTS: usize = 1_000;

/// How many events match the list's filter.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Total {
    /// Events counted: exact up to [`COUNT_BOUND`], `COUNT_BOUND + 1` for more.
    pub events: u64,
    /// `events` is a lower bound (a frequent search: its plan counted that many).
    pub at_least: bool,
}

/// What the admin list shows of one filter.
#[derive(Debug)]
pub struct Listing {
    /// The page of events.
    pub page: Page<Event, Cursor>,
    /// What the chart draws; `None`: nothing to chart.
    pub chart: Option<ChartCounts>,
    /// How many events match.
    pub total: Total,
    /// How far a bounded scan looked; `None`: an index answered.
    pub scan: Option<Scan>,
}

/// Reads the page of `filter` (in `order`, after `after`) with its chart and its count, as
/// the list shows them at `now`.
pub async fn read(
    reads: &dyn ListingQuery,
    filter: &EventFilter,
    order: Order,
    after: Option<&Cursor>,
    now: DateTime<Utc>,
    budget: &ScanBudget,
) -> Result<Listing, AppError> {
    if !filter.data.is_empty() && scan::needs_scan(filter, &reads.indexed_data_keys().await?) {
        return scanned(reads, filter, order, after, budget).await;
    }
    let (page, chart, counted) = if filter.by_type_and_time() {
        let (page, (chart, counted)) = tokio::try_join!(
            async { Ok::<_, AppError>(reads.list(filter, order, after, PAGE_SIZE).await?) },
            by_type_and_time(reads, filter, now),
        )?;
        (page, chart, counted)
    } else {
        let newest = newest_filter(filter, now);
        let request = NewestRequest {
            filter: &newest,
            matches: NEWEST_BOUND,
            events: FREQUENT_EVENTS,
        };
        let (page, counts) = reads
            .list_with_newest(filter, order, after, PAGE_SIZE, &request)
            .await?;
        let (chart, total) = newest_chart(&newest, counts);
        (page, chart, Some(total))
    };
    // The chart has counted the matches (every one, or up to as many as the count shows):
    // no second walk over them.
    let total = match counted {
        Some(total) => total,
        None => Total {
            events: reads.count_at_most(filter, COUNT_BOUND).await?,
            at_least: false,
        },
    };
    Ok(Listing {
        page,
        chart,
        total,
        scan: None,
    })
}

/// A filter no index narrows: one bounded scan gives the page, and the chart and the count
/// are of the matches it found (no second walk over the events).
async fn scanned(
    reads: &dyn ListingQuery,
    filter: &EventFilter,
    order: Order,
    after: Option<&Cursor>,
    budget: &ScanBudget,
) -> Result<Listing, AppError> {
    let bounded = reads
        .list_bounded(filter, order, after, PAGE_SIZE, budget)
        .await?;
    let items = &bounded.page.items;
    let total = Total {
        events: items.len() as u64,
        at_least: bounded.page.next.is_some(),
    };
    let oldest = items.iter().map(|e| e.timestamp).min();
    let newest = items.iter().map(|e| e.timestamp).max();
    let chart = oldest.zip(newest).map(|(since, latest)| {
        // `until` is exclusive: just after the newest match.
        let until = latest + Duration::seconds(1);
        let (bucket, bucket_name) = bucket_for((until - since).num_seconds().max(1));
        let mut rows: Vec<(DateTime<Utc>, String, i64)> = Vec::new();
        for e in items {
            let minute = e.timestamp.timestamp().div_euclid(60) * 60;
            let minute = DateTime::from_timestamp(minute, 0).unwrap_or(e.timestamp);
            match rows
                .iter_mut()
                .find(|(t, ty, _)| *t == minute && *ty == e.event_type)
            {
                Some(row) => row.2 += 1,
                None => rows.push((minute, e.event_type.clone(), 1)),
            }
        }
        rows.sort();
        ChartCounts {
            since,
            until,
            bucket,
            bucket_name,
            rows: rebin(rows, bucket),
            newest: "the matches on this page".to_owned(),
        }
    });
    Ok(Listing {
        page: bounded.page,
        chart,
        total,
        scan: bounded.scan,
    })
}

/// The chart of a filter by type and time: its span (the filter's range, or the data's
/// extent), then the per-period counts. With them, the number of matches when the span
/// holds every one.
async fn by_type_and_time(
    reads: &dyn ListingQuery,
    filter: &EventFilter,
    now: DateTime<Utc>,
) -> Result<(Option<ChartCounts>, Option<Total>), AppError> {
    let Some((since, until)) = span(reads, filter, now).await? else {
        return Ok((None, None));
    };
    let (bucket, bucket_name) = bucket_for((until - since).num_seconds().max(1));
    let mut f = filter.clone();
    f.since = Some(since);
    f.until = Some(until);
    let rows = reads.histogram(&f, bucket).await?;
    // The chart's span holds every match (unless a range starting at `since` is cut at
    // now, leaving out events stamped in the future): its total is the list's count, read
    // from the same per-period counts instead of walking 10,001 index entries.
    let total = (filter.since.is_none() || filter.until.is_some()).then(|| Total {
        events: rows.iter().map(|r| r.2.max(0) as u64).sum(),
        at_least: false,
    });
    let counts = ChartCounts {
        since,
        until,
        bucket,
        bucket_name,
        rows,
        newest: String::new(),
    };
    Ok((Some(counts), total))
}

/// The time span the chart of a type-and-time filter covers: the filter's range, or the
/// data's extent (its first and last matching event, two index lookups). `None` when
/// nothing matches.
async fn span(
    reads: &dyn ListingQuery,
    filter: &EventFilter,
    now: DateTime<Utc>,
) -> Result<Option<(DateTime<Utc>, DateTime<Utc>)>, AppError> {
    // The oldest and the newest match, read at the same time (two connections).
    let end = |order: Order| async move {
        let page = reads.list(filter, order, None, 1).await?;
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
fn newest_filter(filter: &EventFilter, now: DateTime<Utc>) -> EventFilter {
    let mut f = filter.clone();
    if let (Some(since), None) = (f.since, f.until) {
        f.until = Some(now.max(since + Duration::seconds(1)));
    }
    f
}

/// The chart and the number of matches from the store's counts of the newest matches of
/// `f` (the [`newest_filter`]): the counts, the span (the oldest and newest match counted)
/// and the number of matches come from that one read.
fn newest_chart(f: &EventFilter, counted: NewestCounts) -> (Option<ChartCounts>, Total) {
    // A frequent search: the plan counted thousands of matches, whatever was tested.
    let total = match counted.counted {
        Counted::Since { at_least, .. } => Total {
            events: at_least.max(counted.total),
            at_least: true,
        },
        _ => Total {
            events: counted.total,
            at_least: false,
        },
    };
    let Some((oldest, latest)) = counted.range else {
        return (None, total);
    };
    let since = match (counted.counted, f.since) {
        (Counted::All, Some(since)) => since,
        (Counted::All | Counted::NewestMatches, _) => oldest,
        (Counted::Since { from, .. }, _) => from,
    };
    // `until` is exclusive: just after the newest match.
    let until = f.until.unwrap_or(latest + Duration::seconds(1));
    let newest = match counted.counted {
        Counted::All => String::new(),
        Counted::NewestMatches => format!("the newest {} matches", thousands(counted.total)),
        Counted::Since { .. } => format!(
            "the matches among the newest {} events",
            thousands(FREQUENT_EVENTS as u64)
        ),
    };
    let (bucket, bucket_name) = bucket_for((until - since).num_seconds().max(1));
    let counts = ChartCounts {
        since,
        until,
        bucket,
        bucket_name,
        rows: rebin(counted.rows, bucket),
        newest,
    };
    (Some(counts), total)
}
