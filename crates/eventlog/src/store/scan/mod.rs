//! Bounded scans: a filter with no index behind it (a `data.KEY` condition on a key that is
//! not declared) is answered by walking the events in the listing's order, a step at a time,
//! until a page is full or a budget is spent. The answer says how far it looked ("scanned
//! the newest 2,000,000 events in 1.0 s: 37 matches") and where to go on: the page's
//! cursor, which is the position the walk stopped at. Following it walks on from there, so
//! every match is found once.

use std::time::{Duration, Instant};

use super::{Cursor, EventFilter, ListingQuery, Order, Page};
use crate::error::StoreError;
use crate::event::Event;

#[cfg(any(feature = "sqlite", feature = "postgres"))]
pub(crate) mod step;

/// How much one page of a bounded scan may walk.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ScanBudget {
    /// Time: no further step starts once this much has passed. Default 1 s.
    pub time: Duration,
    /// Events: the walk stops once it has looked at this many. Default 2,000,000.
    pub events: u64,
}

impl Default for ScanBudget {
    fn default() -> Self {
        ScanBudget {
            time: Duration::from_secs(1),
            events: 2_000_000,
        }
    }
}

/// Events one step of a scan looks at, at most: the time budget is checked between steps.
pub const SCAN_STEP: u64 = 100_000;

/// How far one page of a bounded scan looked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Scan {
    /// Events looked at (the newest ones from where the page starts, in its order).
    pub events: u64,
    /// How long the walk took.
    pub elapsed: Duration,
    /// The budget ran out before the page was full and before the last event: the page's
    /// `next` cursor keeps scanning from where the walk stopped.
    pub stopped: bool,
}

/// A page of a listing that may have been scanned ([`ListingQuery::list_bounded`]).
#[derive(Debug, Clone, PartialEq)]
pub struct Bounded {
    /// The matches found, and where the next page (or the rest of the scan) starts.
    pub page: Page<Event, Cursor>,
    /// How far the walk looked; `None`: an index answered, nothing was scanned.
    pub scan: Option<Scan>,
}

/// What one step of a scan found ([`ListingQuery::scan_step`]).
#[derive(Debug, Clone, PartialEq)]
pub struct ScanStep {
    /// The matches among the events looked at, in the listing's order, at most as many as
    /// asked for.
    pub matches: Vec<Event>,
    /// The events looked at.
    pub events: u64,
    /// The position of the last event looked at; `None`: the walk reached the last event.
    pub end: Option<Cursor>,
}

/// Whether listing `filter` needs a scan: it has a `data` condition and neither a search,
/// a group, an initiator nor a condition on an indexed data key narrows it through an index.
pub fn needs_scan(filter: &EventFilter, indexed: &[String]) -> bool {
    if filter.data.is_empty()
        || filter.text.as_deref().is_some_and(|t| !t.is_empty())
        || filter.group.is_some()
        || filter.initiator.is_some()
    {
        return false;
    }
    !filter
        .data
        .iter()
        .any(|m| indexed.iter().any(|k| *k == m.path.join(".")))
}

/// Walks `filter`'s events in `order` after `after` a step at a time (see
/// [`ListingQuery::list_bounded`]).
pub(crate) async fn walk<S: ListingQuery + ?Sized>(
    store: &S,
    filter: &EventFilter,
    order: Order,
    after: Option<&Cursor>,
    limit: usize,
    budget: &ScanBudget,
) -> Result<Bounded, StoreError> {
    let started = Instant::now();
    let mut position = after.cloned();
    let mut matches: Vec<Event> = Vec::new();
    let mut events = 0u64;
    loop {
        // One past the page, to know whether another page follows.
        let wanted = limit.saturating_add(1) - matches.len();
        let left = budget.events.saturating_sub(events).clamp(1, SCAN_STEP);
        let step = store
            .scan_step(filter, order, position.as_ref(), left, wanted)
            .await?;
        events += step.events;
        matches.extend(step.matches);
        let scan = |stopped| Scan {
            events,
            elapsed: started.elapsed(),
            stopped,
        };
        if matches.len() > limit {
            // A full page: the next one starts after its last match, like any page.
            matches.truncate(limit);
            let next = matches.last().map(|e| Cursor {
                timestamp: e.timestamp,
                id: e.id,
            });
            return Ok(Bounded {
                page: Page {
                    items: matches,
                    next,
                },
                scan: Some(scan(false)),
            });
        }
        let Some(end) = step.end else {
            return Ok(Bounded {
                page: Page {
                    items: matches,
                    next: None,
                },
                scan: Some(scan(false)),
            });
        };
        if events >= budget.events || started.elapsed() >= budget.time {
            // Every event up to `end` was looked at: the rest starts after it.
            return Ok(Bounded {
                page: Page {
                    items: matches,
                    next: Some(end),
                },
                scan: Some(scan(true)),
            });
        }
        position = Some(end);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::DataMatch;

    #[test]
    fn only_filters_no_index_narrows_are_scanned() {
        let data = |path: &str| DataMatch {
            path: path.split('.').map(str::to_owned).collect(),
            value: "1".into(),
        };
        let f = EventFilter {
            data: vec![data("customer.id")],
            ..Default::default()
        };
        assert!(needs_scan(&f, &[]));
        assert!(needs_scan(&f, &["customer".into()]));
        assert!(!needs_scan(&f, &["customer.id".into()]));
        let mut two = f.clone();
        two.data.push(data("order_id"));
        assert!(
            !needs_scan(&two, &["order_id".into()]),
            "one indexed key narrows"
        );
        assert!(!needs_scan(&EventFilter::default(), &[]));
        for narrowed in [
            EventFilter {
                group: Some("g".into()),
                ..f.clone()
            },
            EventFilter {
                initiator: Some("user:1".into()),
                ..f.clone()
            },
            EventFilter {
                text: Some("timeout".into()),
                ..f.clone()
            },
        ] {
            assert!(!needs_scan(&narrowed, &[]), "{narrowed:?}");
        }
    }
}
