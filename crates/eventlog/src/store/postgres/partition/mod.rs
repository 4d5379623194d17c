//! Time partitions of the PostgreSQL events table (migration 0011): creating them ahead,
//! moving rows out of the DEFAULT partition, dropping whole ones on purge, and carrying an
//! unpartitioned table over while servers keep writing (`eventlog partition`).
//!
//! Every partition covers `[lo, hi)` of one interval (`event_partitioning.every`, aligned in
//! UTC) and is named `events_pYYYYMMDD` after `lo`. Partitions need not be contiguous: rows
//! whose time has no partition are kept by `events_default`.

use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, Utc};
use sqlx::{PgConnection, PgPool, Postgres, Row, Transaction};

use super::PostgresStore;
use crate::error::StoreError;
use crate::store::period_counts::PERIOD_COUNTS;

mod carry_over;
mod claims;
mod drop;

/// Partitions kept ahead of now: the current interval and this many after it.
const AHEAD: i32 = 3;

/// Advisory lock key taken by whoever creates or drops partitions, so that servers doing
/// upkeep at the same moment do not race (an overlapping partition is an error).
pub(in crate::store::postgres) const LOCK_KEY: i64 = 0x6576_656e_746c_6f67; // "eventlog"

/// The name of the partitioned table a carry-over fills before it replaces `events`.
const STAGING: &str = "events_part";

/// The length of one partition.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum PartitionInterval {
    /// One day (UTC).
    Day,
    /// One ISO week, Monday to Monday (UTC).
    Week,
    /// One calendar month (UTC); the default.
    #[default]
    Month,
    /// One calendar year (UTC).
    Year,
}

impl PartitionInterval {
    /// The name PostgreSQL's `date_trunc` and the `event_partitioning` table use.
    pub fn as_str(self) -> &'static str {
        match self {
            PartitionInterval::Day => "day",
            PartitionInterval::Week => "week",
            PartitionInterval::Month => "month",
            PartitionInterval::Year => "year",
        }
    }
}

impl fmt::Display for PartitionInterval {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A partition interval that is not `day`, `week`, `month` or `year`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown partition interval {0:?}: expected day, week, month or year")]
pub struct UnknownInterval(pub String);

impl FromStr for PartitionInterval {
    type Err = UnknownInterval;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "day" => Ok(PartitionInterval::Day),
            "week" => Ok(PartitionInterval::Week),
            "month" => Ok(PartitionInterval::Month),
            "year" => Ok(PartitionInterval::Year),
            other => Err(UnknownInterval(other.to_owned())),
        }
    }
}

/// One time partition of the events table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Partition {
    /// The table's name.
    pub name: String,
    /// The first instant it holds.
    pub from: DateTime<Utc>,
    /// The first instant after it.
    pub to: DateTime<Utc>,
}

/// What [`PostgresStore::partition_events`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CarryOver {
    /// The events table was partitioned already; nothing was moved.
    AlreadyPartitioned,
    /// Every row is in the partitioned table, which now is `events`. `copied` rows were
    /// copied by this call's batches.
    Done {
        /// Rows this call copied.
        copied: u64,
    },
    /// Stopped after the number of batches asked for; run it again to go on.
    Paused {
        /// Rows this call copied.
        copied: u64,
        /// Rows of the old table still to copy (about: ids may have gaps).
        left: u64,
    },
}

/// Whether `table` is a partitioned table (relkind `p`).
pub(super) async fn is_partitioned(
    conn: &mut PgConnection,
    table: &str,
) -> Result<bool, StoreError> {
    let kind: Option<String> =
        sqlx::query_scalar("SELECT relkind::text FROM pg_class WHERE oid = to_regclass($1)")
            .bind(table)
            .fetch_optional(&mut *conn)
            .await?;
    Ok(kind.as_deref() == Some("p"))
}

/// The range partitions of `parent` (not the default one), oldest first.
pub(super) async fn partitions_of(
    conn: &mut PgConnection,
    parent: &str,
) -> Result<Vec<Partition>, StoreError> {
    let rows = sqlx::query(
        "SELECT name, m[1]::timestamptz AS lo, m[2]::timestamptz AS hi FROM (\
         SELECT c.relname::text AS name, regexp_match(pg_get_expr(c.relpartbound, c.oid), \
         'FROM \\(''([^'']*)''\\) TO \\(''([^'']*)''\\)') AS m \
         FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid \
         WHERE i.inhparent = to_regclass($1)) p WHERE m IS NOT NULL ORDER BY lo",
    )
    .bind(parent)
    .fetch_all(&mut *conn)
    .await?;
    rows.iter()
        .map(|r| {
            Ok(Partition {
                name: r.try_get("name")?,
                from: r.try_get("lo")?,
                to: r.try_get("hi")?,
            })
        })
        .collect()
}

/// The interval new partitions get.
pub(in crate::store::postgres) async fn interval(
    conn: &mut PgConnection,
) -> Result<PartitionInterval, StoreError> {
    let every: String = sqlx::query_scalar("SELECT every FROM event_partitioning")
        .fetch_one(&mut *conn)
        .await?;
    every
        .parse()
        .map_err(|e: UnknownInterval| StoreError::Corrupt(e.to_string()))
}

/// The interval containing `at`: `[start, end)`, aligned in UTC.
pub(in crate::store::postgres) async fn bucket(
    conn: &mut PgConnection,
    every: PartitionInterval,
    at: DateTime<Utc>,
) -> Result<(DateTime<Utc>, DateTime<Utc>), StoreError> {
    let (lo, hi) = sqlx::query_as(
        "SELECT date_trunc($1, $2::timestamptz, 'UTC'), \
         date_trunc($1, $2::timestamptz, 'UTC') + ('1 ' || $1)::interval",
    )
    .bind(every.as_str())
    .bind(at)
    .fetch_one(&mut *conn)
    .await?;
    Ok((lo, hi))
}

/// A timestamp as a SQL literal for DDL (which takes no parameters).
fn literal(t: DateTime<Utc>) -> String {
    format!("'{}'", t.format("%Y-%m-%d %H:%M:%S%.6f+00"))
}

fn partition_name(from: DateTime<Utc>) -> String {
    format!("events_p{}", from.format("%Y%m%d"))
}

/// Creates the partition `[lo, hi)` of `parent` unless it would overlap one; rows of the
/// DEFAULT partition in that range are moved into it first (attaching a range the default
/// partition has rows of fails). Writers to the default partition wait for the moment of the
/// move; readers do not. Returns whether it was created.
pub(in crate::store::postgres) async fn create_partition(
    tx: &mut Transaction<'static, Postgres>,
    parent: &str,
    lo: DateTime<Utc>,
    hi: DateTime<Utc>,
) -> Result<bool, StoreError> {
    let existing = partitions_of(tx, parent).await?;
    if existing.iter().any(|p| p.from < hi && lo < p.to) {
        return Ok(false);
    }
    let name = partition_name(lo);
    let (lo_sql, hi_sql) = (literal(lo), literal(hi));
    let statements = [
        "LOCK TABLE events_default IN EXCLUSIVE MODE".to_owned(),
        format!("CREATE TABLE {name} (LIKE {parent} INCLUDING DEFAULTS INCLUDING STORAGE)"),
        // Lets ATTACH skip scanning the new table for rows outside the range.
        format!(
            "ALTER TABLE {name} ADD CONSTRAINT {name}_range \
             CHECK (ts >= {lo_sql} AND ts < {hi_sql})"
        ),
        format!(
            "WITH moved AS (DELETE FROM events_default WHERE ts >= {lo_sql} AND ts < {hi_sql} \
             RETURNING *) INSERT INTO {name} SELECT * FROM moved"
        ),
        format!(
            "ALTER TABLE {parent} ATTACH PARTITION {name} FOR VALUES FROM ({lo_sql}) TO ({hi_sql})"
        ),
        format!("ALTER TABLE {name} DROP CONSTRAINT {name}_range"),
    ];
    for sql in statements {
        sqlx::query(sqlx::AssertSqlSafe(sql))
            .execute(&mut **tx)
            .await?;
    }
    Ok(true)
}

/// Creates the partitions of `parent` from the interval of `from` through [`AHEAD`]
/// intervals past `until`, each in its own transaction, and for the rows of the DEFAULT
/// partition older than the first partition (imports, clients' clocks), the partitions that
/// hold them (at most `old_budget` of those per call). Returns the partitions created.
async fn extend(
    pool: &PgPool,
    parent: &str,
    from: Option<DateTime<Utc>>,
    until: DateTime<Utc>,
    old_budget: usize,
) -> Result<usize, StoreError> {
    let mut created = 0;
    let mut conn = pool.acquire().await?;
    let every = interval(&mut conn).await?;
    let existing = partitions_of(&mut conn, parent).await?;
    let mut at = match (existing.last(), from) {
        (_, Some(from)) => bucket(&mut conn, every, from).await?.0,
        (Some(last), None) => last.to,
        (None, None) => bucket(&mut conn, every, until).await?.0,
    };
    // The start of the interval AHEAD intervals after the one of `until`: the end.
    let stop: DateTime<Utc> = sqlx::query_scalar(
        "SELECT date_trunc($1, $2::timestamptz, 'UTC') + $3 * ('1 ' || $1)::interval",
    )
    .bind(every.as_str())
    .bind(until)
    .bind(AHEAD + 1)
    .fetch_one(&mut *conn)
    .await?;
    let mut wanted = Vec::new();
    while at < stop && wanted.len() < 10_000 {
        let (lo, hi) = bucket(&mut conn, every, at).await?;
        // A boundary left by another interval: the next partition starts at that edge.
        wanted.push((lo.max(at), hi));
        at = hi;
    }
    // Old rows in the default partition, older than the first partition.
    if let Some(first) = existing
        .first()
        .map(|p| p.from)
        .or(wanted.first().map(|w| w.0))
    {
        let old: Vec<DateTime<Utc>> = sqlx::query_scalar(
            "SELECT DISTINCT date_trunc($1, ts, 'UTC') FROM events_default \
             WHERE ts < $2 ORDER BY 1 DESC LIMIT $3",
        )
        .bind(every.as_str())
        .bind(first)
        .bind(crate::store::sql::limit_param(old_budget))
        .fetch_all(&mut *conn)
        .await?;
        for lo in old {
            let (lo, hi) = bucket(&mut conn, every, lo).await?;
            wanted.push((lo, hi.min(first)));
        }
    }
    drop(conn);
    for (lo, hi) in wanted {
        if lo >= hi {
            continue;
        }
        let mut tx = pool.begin().await?;
        sqlx::query("SELECT pg_advisory_xact_lock($1)")
            .bind(LOCK_KEY)
            .execute(&mut *tx)
            .await?;
        if create_partition(&mut tx, parent, lo, hi).await? {
            created += 1;
        }
        tx.commit().await?;
    }
    Ok(created)
}

impl PostgresStore {
    /// Whether the events table is partitioned by time (databases created from migration
    /// 0011 on, and ones carried over by [`PostgresStore::partition_events`]).
    pub async fn is_partitioned(&self) -> Result<bool, StoreError> {
        let mut conn = self.pool.acquire().await?;
        is_partitioned(&mut conn, "events").await
    }

    /// The time partitions of the events table, oldest first (none when unpartitioned).
    pub async fn partitions(&self) -> Result<Vec<Partition>, StoreError> {
        let mut conn = self.pool.acquire().await?;
        partitions_of(&mut conn, "events").await
    }

    /// The interval new partitions get.
    pub async fn partition_interval(&self) -> Result<PartitionInterval, StoreError> {
        let mut conn = self.pool.acquire().await?;
        interval(&mut conn).await
    }

    /// Sets the interval of partitions created from now on (existing ones keep theirs; the
    /// next one starts where the last one ends). Kept in the database, so that every server
    /// of it agrees.
    pub async fn set_partition_interval(&self, every: PartitionInterval) -> Result<(), StoreError> {
        sqlx::query("UPDATE event_partitioning SET every = $1")
            .bind(every.as_str())
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// Creates the partitions needed through `until` plus three intervals, and partitions for
    /// old rows that sit in the DEFAULT partition (moving them). A no-op on an unpartitioned
    /// table. [`crate::store::WriteStore::maintain`] calls it with now; returns the partitions
    /// created.
    pub async fn extend_partitions(&self, until: DateTime<Utc>) -> Result<usize, StoreError> {
        if !self.is_partitioned().await? {
            return Ok(0);
        }
        extend(&self.pool, "events", None, until, 12).await
    }

    /// Creates every partition from the interval of `from` through `until` plus three
    /// intervals (existing ones are kept; rows of the default partition in these ranges
    /// move in). For loading old events in bulk: they then land in their partitions instead
    /// of the default one. Returns the partitions created.
    pub async fn create_partitions(
        &self,
        from: DateTime<Utc>,
        until: DateTime<Utc>,
    ) -> Result<usize, StoreError> {
        if !self.is_partitioned().await? {
            return Ok(0);
        }
        extend(&self.pool, "events", Some(from), until, 0).await
    }
}
