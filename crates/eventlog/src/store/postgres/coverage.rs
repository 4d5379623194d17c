//! Partitions made on demand: an insert first creates the partitions its events need, so
//! history goes straight into them instead of through the DEFAULT partition; and an emptied
//! DEFAULT partition gives its index space back.

use chrono::{DateTime, Utc};

use super::PostgresStore;
use super::partition::{
    LOCK_KEY, bucket, create_partition, interval, is_partitioned, partitions_of,
};
use crate::error::StoreError;
use crate::event::NewEvent;

/// Most partitions one batch creates for its own events: a history import needs one or two
/// per batch (its events come in time order), while a batch whose timestamps are scattered
/// over centuries (a broken clock) must not create thousands; the rest wait in the DEFAULT
/// partition for upkeep.
const NEW_PARTITIONS_PER_BATCH: i64 = 16;

/// Index bytes an empty DEFAULT partition may keep before upkeep rebuilds them (a few empty
/// indexes take a few pages each).
const EMPTY_DEFAULT_INDEXES_MAX: i64 = 4 * 1024 * 1024;

/// The time ranges the partitions of `events` cover, as last read by this process.
#[derive(Debug, Clone, Default)]
pub(super) struct Coverage {
    /// `false` for a table not partitioned (yet): nothing to create before an insert.
    partitioned: bool,
    /// `[from, to)` of every partition, oldest first.
    ranges: Vec<(DateTime<Utc>, DateTime<Utc>)>,
}

impl Coverage {
    /// Whether a partition holds `t` (not counting the DEFAULT one).
    fn holds(&self, t: DateTime<Utc>) -> bool {
        let i = self.ranges.partition_point(|r| r.1 <= t);
        self.ranges.get(i).is_some_and(|r| r.0 <= t)
    }
}

impl PostgresStore {
    /// Creates, before a batch is inserted, the partitions its events need, so that history
    /// goes straight into its partitions instead of through the DEFAULT one (whose indexes
    /// keep their size after upkeep moves the rows out). Only the intervals holding the
    /// batch's events, at most [`NEW_PARTITIONS_PER_BATCH`] of them; the coverage is cached,
    /// so a batch whose events are all covered costs no query.
    pub(super) async fn ensure_partitions(&self, events: &[NewEvent]) -> Result<(), StoreError> {
        let coverage = match self.cached_coverage() {
            Some(c) => c,
            None => self.read_coverage().await?,
        };
        if !coverage.partitioned {
            return Ok(());
        }
        // Past the partitions made ahead (a client's clock years off) is left to the DEFAULT
        // partition and upkeep, which makes partitions ahead in order.
        let horizon = coverage.ranges.last().map(|r| r.1);
        let outside: Vec<DateTime<Utc>> = events
            .iter()
            .map(|e| e.timestamp)
            .filter(|t| !coverage.holds(*t) && horizon.is_none_or(|h| *t < h))
            .collect();
        if outside.is_empty() {
            return Ok(());
        }
        let mut conn = self.pool.acquire().await?;
        let every = interval(&mut conn).await?;
        let starts: Vec<DateTime<Utc>> = sqlx::query_scalar(
            "SELECT DISTINCT date_trunc($1, t, 'UTC') FROM unnest($2::timestamptz[]) t \
             ORDER BY 1 LIMIT $3",
        )
        .bind(every.as_str())
        .bind(&outside)
        .bind(NEW_PARTITIONS_PER_BATCH)
        .fetch_all(&mut *conn)
        .await?;
        let mut wanted = Vec::with_capacity(starts.len());
        for start in starts {
            wanted.push(bucket(&mut conn, every, start).await?);
        }
        drop(conn);
        for (lo, hi) in wanted {
            let mut tx = self.pool.begin().await?;
            sqlx::query("SELECT pg_advisory_xact_lock($1)")
                .bind(LOCK_KEY)
                .execute(&mut *tx)
                .await?;
            // Overlapping a partition of another interval (after a change of interval): the
            // events of that range go to the DEFAULT partition, as before.
            create_partition(&mut tx, "events", lo, hi).await?;
            tx.commit().await?;
        }
        self.read_coverage().await?;
        Ok(())
    }

    /// Rebuilds the DEFAULT partition's indexes when it holds no event but its indexes are
    /// large: upkeep moves rows out of it into their partitions, and `VACUUM` then truncates
    /// its table but never gives back index space (189 MiB after a 1M-event history import
    /// had passed through it). An empty table's indexes rebuild in a moment.
    pub(super) async fn shrink_empty_default(&self) -> Result<bool, StoreError> {
        let mut conn = self.pool.acquire().await?;
        if !is_partitioned(&mut conn, "events").await? {
            return Ok(false);
        }
        let bloated: bool = sqlx::query_scalar(
            "SELECT to_regclass('events_default') IS NOT NULL \
             AND pg_indexes_size('events_default') > $1 \
             AND NOT EXISTS (SELECT 1 FROM events_default)",
        )
        .bind(EMPTY_DEFAULT_INDEXES_MAX)
        .fetch_one(&mut *conn)
        .await?;
        if bloated {
            sqlx::query("REINDEX TABLE events_default")
                .execute(&mut *conn)
                .await?;
        }
        Ok(bloated)
    }

    fn cached_coverage(&self) -> Option<Coverage> {
        self.coverage
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// Reads which ranges the partitions cover, and caches it.
    pub(super) async fn read_coverage(&self) -> Result<Coverage, StoreError> {
        let mut conn = self.pool.acquire().await?;
        let coverage = Coverage {
            partitioned: is_partitioned(&mut conn, "events").await?,
            ranges: partitions_of(&mut conn, "events")
                .await?
                .into_iter()
                .map(|p| (p.from, p.to))
                .collect(),
        };
        *self.coverage.lock().unwrap_or_else(|e| e.into_inner()) = Some(coverage.clone());
        Ok(coverage)
    }

    /// Forgets the cached coverage (partitions were created or dropped).
    pub(super) fn coverage_changed(&self) {
        *self.coverage.lock().unwrap_or_else(|e| e.into_inner()) = None;
    }
}
