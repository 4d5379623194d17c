//! The admin list's own reads: a page of events and the chart's counts of the newest
//! matches, planned once. A [`ReadStore`] answers them with its plain reads; a backend may
//! do better (PostgreSQL plans a search once for both).

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use super::scan::{self, Bounded, ScanBudget, ScanStep};
use super::{Cursor, EventFilter, Order, Page, ReadStore};
use crate::error::StoreError;
use crate::event::Event;

/// The reads of the admin's event list that are not plain reads: the chart's counts of the
/// newest matches of a filter that is not by type and time only, alone or with a page.
#[async_trait]
pub trait ListingQuery: ReadStore {
    /// The chart's counts of a filter that is not by type and time only (see
    /// [`EventFilter::by_type_and_time`]): events per (minute, type) of the newest `matches`
    /// events matching `filter`, found along the time index. A search for a frequent word
    /// (its plan found thousands of matches) is tested row by row, so it counts only the
    /// matches among the newest `events` events the rest of the filter selects: counting
    /// the newest 10,000 matches of a word in 3% of the events would test 330,000 rows.
    async fn histogram_newest(
        &self,
        filter: &EventFilter,
        matches: usize,
        events: usize,
    ) -> Result<NewestCounts, StoreError>;

    /// A page of events ([`ReadStore::list`] of `filter`) and the chart's counts
    /// ([`ListingQuery::histogram_newest`] of `newest`), as the admin's list shows a filter
    /// that is not by type and time. One call so that a backend can plan a search once for
    /// both reads when both filters search the same text (on PostgreSQL, planning a search
    /// reads up to 5,000 of its matches); the results are those of the two calls.
    async fn list_with_newest(
        &self,
        filter: &EventFilter,
        order: Order,
        after: Option<&Cursor>,
        limit: usize,
        newest: &NewestRequest<'_>,
    ) -> Result<(Page<Event, Cursor>, NewestCounts), StoreError> {
        let listed = self.list(filter, order, after, limit).await?;
        let counts = self
            .histogram_newest(newest.filter, newest.matches, newest.events)
            .await?;
        Ok((listed, counts))
    }

    /// The data keys that have an index ([`crate::store::WriteStore::index_data_keys`]).
    async fn indexed_data_keys(&self) -> Result<Vec<String>, StoreError>;

    /// One step of a bounded scan: looks at the next `events` events of `filter` without its
    /// data conditions, after `after` in `order`, and returns the first `wanted` of them that
    /// match `filter` and the position of the last one looked at.
    async fn scan_step(
        &self,
        filter: &EventFilter,
        order: Order,
        after: Option<&Cursor>,
        events: u64,
        wanted: usize,
    ) -> Result<ScanStep, StoreError>;

    /// A page as [`ReadStore::list`] reads it, unless no index narrows `filter` (a `data`
    /// condition on a key that is not declared, see [`scan::needs_scan`]): then the events
    /// are walked in `order` a step at a time until the page is full, the last event is
    /// reached, or `budget` is spent. The page's `next` cursor goes on from where the walk
    /// stopped, so that following it finds every match exactly once.
    async fn list_bounded(
        &self,
        filter: &EventFilter,
        order: Order,
        after: Option<&Cursor>,
        limit: usize,
        budget: &ScanBudget,
    ) -> Result<Bounded, StoreError> {
        if !filter.data.is_empty() && scan::needs_scan(filter, &self.indexed_data_keys().await?) {
            return scan::walk(self, filter, order, after, limit, budget).await;
        }
        Ok(Bounded {
            page: self.list(filter, order, after, limit).await?,
            scan: None,
        })
    }
}

/// The arguments of [`ListingQuery::histogram_newest`], for [`ListingQuery::list_with_newest`].
#[derive(Debug, Clone, Copy)]
pub struct NewestRequest<'a> {
    /// The events counted.
    pub filter: &'a EventFilter,
    /// The most matches counted (the newest).
    pub matches: usize,
    /// A frequent search: the newest events tested.
    pub events: usize,
}

/// What [`ListingQuery::histogram_newest`] counted.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct NewestCounts {
    /// Events per (minute, type), keyed by the minute's start, in time order.
    pub rows: Vec<(DateTime<Utc>, String, i64)>,
    /// How many matches were counted.
    pub total: u64,
    /// The time of the oldest and of the newest match counted (`None`: no match).
    pub range: Option<(DateTime<Utc>, DateTime<Utc>)>,
    /// How far back the count is complete.
    pub counted: Counted,
}

/// How far back [`ListingQuery::histogram_newest`] counted.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Counted {
    /// Every match.
    #[default]
    All,
    /// The newest `matches`: there may be older ones.
    NewestMatches,
    /// A frequent search: the matches among the newest `events` events from this time on;
    /// at least `at_least` events match in all.
    Since {
        /// Where the events tested start.
        from: DateTime<Utc>,
        /// How many events match at least (the search plan counted them).
        at_least: u64,
    },
}

impl NewestCounts {
    /// Counts from rows of (minute, type, events, oldest and newest time among them),
    /// `bound` the most matches that were read.
    pub(crate) fn of(rows: Vec<CountedMinute>, bound: usize) -> Self {
        let total: i64 = rows.iter().map(|r| r.2).sum();
        let oldest = rows.iter().map(|r| r.3).min();
        let newest = rows.iter().map(|r| r.4).max();
        NewestCounts {
            total: total.max(0) as u64,
            range: oldest.zip(newest),
            counted: if total >= bound as i64 {
                Counted::NewestMatches
            } else {
                Counted::All
            },
            rows: rows
                .into_iter()
                .map(|(t, ty, n, _, _)| (t, ty, n))
                .collect(),
        }
    }

    /// Marks the counts as those of a frequent search among the events from `from` on (no
    /// `from`: every event was tested).
    pub(crate) fn among_events_from(mut self, from: Option<DateTime<Utc>>) -> Self {
        if let Some(from) = from {
            self.counted = Counted::Since {
                from,
                at_least: super::filter::FREQUENT_MATCHES.max(0) as u64,
            };
        }
        self
    }
}

/// A row of [`ListingQuery::histogram_newest`]'s query: (minute, type, events, oldest, newest).
pub(crate) type CountedMinute = (DateTime<Utc>, String, i64, DateTime<Utc>, DateTime<Utc>);
