// Over 500 lines on purpose: partition upkeep, purge and carry-over share their SQL helpers.
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
use crate::store::periods::PERIOD_COUNTS;

/// Partitions kept ahead of now: the current interval and this many after it.
const AHEAD: i32 = 3;

/// Advisory lock key taken by whoever creates or drops partitions, so that servers doing
/// upkeep at the same moment do not race (an overlapping partition is an error).
const LOCK_KEY: i64 = 0x6576_656e_746c_6f67; // "eventlog"

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
async fn interval(conn: &mut PgConnection) -> Result<PartitionInterval, StoreError> {
    let every: String = sqlx::query_scalar("SELECT every FROM event_partitioning")
        .fetch_one(&mut *conn)
        .await?;
    every
        .parse()
        .map_err(|e: UnknownInterval| StoreError::Corrupt(e.to_string()))
}

/// The interval containing `at`: `[start, end)`, aligned in UTC.
async fn bucket(
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
async fn create_partition(
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

    /// Drops the partitions that end at or before `before`, keeping the group summaries
    /// right (their uuid claims are deleted later, by [`PostgresStore::sweep_claims`]);
    /// returns the events dropped with them.
    pub(super) async fn drop_partitions_before(
        &self,
        before: DateTime<Utc>,
    ) -> Result<u64, StoreError> {
        let mut total = 0;
        // Their claims are this process's upkeep's to sweep from now on.
        self.claims_found(true);
        loop {
            let mut tx = self.pool.begin().await?;
            sqlx::query("SELECT pg_advisory_xact_lock($1)")
                .bind(LOCK_KEY)
                .execute(&mut *tx)
                .await?;
            let Some(p) = partitions_of(&mut tx, "events")
                .await?
                .into_iter()
                .find(|p| p.to <= before)
            else {
                return Ok(total);
            };
            total += drop_partition(&mut tx, &p).await?;
            tx.commit().await?;
        }
    }

    /// Drops the partitions entirely before `before` that hold no event any more (a purge by
    /// type can empty them row by row), so that retention leaves no empty partition behind.
    pub(super) async fn drop_empty_partitions_before(
        &self,
        before: DateTime<Utc>,
    ) -> Result<usize, StoreError> {
        let mut tx = self.pool.begin().await?;
        sqlx::query("SELECT pg_advisory_xact_lock($1)")
            .bind(LOCK_KEY)
            .execute(&mut *tx)
            .await?;
        let mut dropped = 0;
        for p in partitions_of(&mut tx, "events").await? {
            if p.to > before {
                break;
            }
            let empty: bool = sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
                "SELECT NOT EXISTS (SELECT 1 FROM {})",
                p.name
            )))
            .fetch_one(&mut *tx)
            .await?;
            if empty {
                drop_partition(&mut tx, &p).await?;
                dropped += 1;
            }
        }
        tx.commit().await?;
        Ok(dropped)
    }

    /// Carries an unpartitioned events table over to a partitioned one while servers keep
    /// writing: creates the partitioned table (partitions from the oldest event on), copies
    /// new writes and deletes by triggers, copies the existing rows in batches of `batch`
    /// ids (each its own transaction; the progress is stored, so a stopped run resumes),
    /// then swaps the tables in one short exclusive lock. `max_batches` stops early (for a
    /// run in steps); `None` runs to the end.
    pub async fn partition_events(
        &self,
        batch: usize,
        max_batches: Option<usize>,
    ) -> Result<CarryOver, StoreError> {
        let batch = crate::store::sql::limit_param(batch.max(1));
        {
            let mut conn = self.pool.acquire().await?;
            if is_partitioned(&mut conn, "events").await? {
                drop(conn);
                self.extend_partitions(crate::event::now()).await?;
                return Ok(CarryOver::AlreadyPartitioned);
            }
        }
        self.start_carry_over().await?;
        let mut copied = 0u64;
        let mut batches = 0usize;
        loop {
            let (until, done): (i64, i64) = sqlx::query_as(
                "SELECT copy_until, copied_to FROM event_partitioning \
                 WHERE copy_until IS NOT NULL",
            )
            .fetch_one(&self.pool)
            .await?;
            if done >= until {
                break;
            }
            if max_batches.is_some_and(|m| batches >= m) {
                let left = (until - done).max(0) as u64;
                return Ok(CarryOver::Paused { copied, left });
            }
            let to = done.saturating_add(batch).min(until);
            let mut tx = self.pool.begin().await?;
            // FOR SHARE: a delete of one of these rows waits for this copy to commit, then
            // its trigger deletes the copy too (instead of the copy outliving the delete).
            let n = sqlx::query(
                "INSERT INTO events_part SELECT * FROM events \
                 WHERE id > $1 AND id <= $2 FOR SHARE",
            )
            .bind(done)
            .bind(to)
            .execute(&mut *tx)
            .await?
            .rows_affected();
            sqlx::query("UPDATE event_partitioning SET copied_to = $1")
                .bind(to)
                .execute(&mut *tx)
                .await?;
            tx.commit().await?;
            copied += n;
            batches += 1;
        }
        let mut tx = self.pool.begin().await?;
        sqlx::query("SELECT eventlog_partitioned_swap($1)")
            .bind(STAGING)
            .execute(&mut *tx)
            .await?;
        sqlx::query("UPDATE event_partitioning SET copy_until = NULL, copied_to = NULL")
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        self.extend_partitions(crate::event::now()).await?;
        Ok(CarryOver::Done { copied })
    }

    /// The first step of a carry-over (unless a stopped one already took it): the
    /// partitioned table, its partitions, and the triggers, installed while writers wait a
    /// moment, so that every row is either older than `copy_until` or copied by a trigger.
    async fn start_carry_over(&self) -> Result<(), StoreError> {
        let started: Option<i64> = sqlx::query_scalar("SELECT copy_until FROM event_partitioning")
            .fetch_one(&self.pool)
            .await?;
        if started.is_some() {
            return Ok(());
        }
        let oldest: Option<DateTime<Utc>> = sqlx::query_scalar("SELECT min(ts) FROM events")
            .fetch_one(&self.pool)
            .await?;
        let mut tx = self.pool.begin().await?;
        sqlx::query("SELECT eventlog_partitioned_events($1)")
            .bind(STAGING)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        // Partitions before the triggers: the copies then land in them, not in the default.
        extend(
            &self.pool,
            STAGING,
            Some(oldest.unwrap_or_else(crate::event::now)),
            crate::event::now(),
            0,
        )
        .await?;
        let mut tx = self.pool.begin().await?;
        // Waits for the transactions writing now (their ids are then all below max(id)) and
        // holds new writers for the moment the triggers are created.
        for sql in [
            "LOCK TABLE events IN SHARE ROW EXCLUSIVE MODE",
            "CREATE TRIGGER eventlog_carry_inserted AFTER INSERT ON events \
             REFERENCING NEW TABLE AS carried_rows \
             FOR EACH STATEMENT EXECUTE FUNCTION eventlog_carry_inserted()",
            "CREATE TRIGGER eventlog_carry_deleted AFTER DELETE ON events \
             REFERENCING OLD TABLE AS carried_rows \
             FOR EACH STATEMENT EXECUTE FUNCTION eventlog_carry_deleted()",
            "UPDATE event_partitioning SET \
             copy_until = (SELECT coalesce(max(id), 0) FROM events), \
             copied_to = (SELECT coalesce(min(id), 1) - 1 FROM events)",
        ] {
            sqlx::query(sql).execute(&mut *tx).await?;
        }
        tx.commit().await?;
        Ok(())
    }
}

/// Drops one partition in `tx`: its events, its per-period counts, and its share of the
/// group summaries; its uuid claims are marked for upkeep to delete. The summaries are found from their first and last
/// times, not by reading the partition: a group whose events all lie in its range is deleted
/// with its per-type counts; a group with events on either side of a bound is rebuilt from
/// the events left (few: groups active at the moment of a bound). Returns its events' count.
async fn drop_partition(
    tx: &mut Transaction<'static, Postgres>,
    partition: &Partition,
) -> Result<u64, StoreError> {
    let name = partition.name.as_str();
    let (from, to) = (partition.from, partition.to);
    // Every interval starts on a UTC day, so its days' counts are all its own (no other
    // partition holds times in its range) and say how many events it holds.
    let aligned = PERIOD_COUNTS.iter().all(|(period, _, _)| {
        [from, to]
            .iter()
            .all(|t| t.timestamp().rem_euclid(*period) == 0 && t.timestamp_subsec_nanos() == 0)
    });
    let total: i64 = if aligned {
        sqlx::query_scalar(
            "SELECT coalesce(sum(event_count), 0)::int8 FROM event_day_counts \
             WHERE day >= $1 AND day < $2",
        )
        .bind(from)
        .bind(to)
        .fetch_one(&mut **tx)
        .await?
    } else {
        sqlx::query_scalar(sqlx::AssertSqlSafe(format!("SELECT count(*) FROM {name}")))
            .fetch_one(&mut **tx)
            .await?
    };
    // The groups with events in the range, locked in group id order as writers lock them
    // (no deadlock with a batch insert): those whose last event is in it, and those that
    // started before its end and go on after it.
    let groups: Vec<(i64, bool)> = sqlx::query_as(
        "SELECT gid, first_at >= $1 AND last_at < $2 FROM event_groups \
         WHERE (last_at >= $1 AND last_at < $2) OR (first_at < $2 AND last_at >= $2) \
         ORDER BY group_id FOR UPDATE",
    )
    .bind(from)
    .bind(to)
    .fetch_all(&mut **tx)
    .await?;
    let (inside, across): (Vec<_>, Vec<_>) = groups.into_iter().partition(|g| g.1);
    let inside: Vec<i64> = inside.into_iter().map(|g| g.0).collect();
    let across: Vec<i64> = across.into_iter().map(|g| g.0).collect();
    let hours: Vec<(DateTime<Utc>, String, i64)> = if aligned {
        Vec::new()
    } else {
        sqlx::query_as(sqlx::AssertSqlSafe(format!(
            "SELECT date_bin(INTERVAL '1 hour', ts, TIMESTAMPTZ '1970-01-01 00:00:00+00'), \
             event_type, count(*) FROM {name} GROUP BY 1, 2"
        )))
        .fetch_all(&mut **tx)
        .await?
    };
    // Its uuid claims are left to upkeep (`sweep_claims`): deleting them here was most of a
    // month's purge (785,000 row deletes, ~2.3 s at 10M events). Until then a repeat of one
    // of these uuids is still recognised as a repeat.
    sqlx::query(
        "UPDATE event_partitioning SET claims_before = greatest(claims_before, $1), \
         claims_swept_to = 0",
    )
    .bind(to)
    .execute(&mut **tx)
    .await?;
    sqlx::query(sqlx::AssertSqlSafe(format!("DROP TABLE {name}")))
        .execute(&mut **tx)
        .await?;
    for sql in [
        "DELETE FROM event_groups WHERE gid = ANY($1)",
        "DELETE FROM event_group_types WHERE gid = ANY($1)",
    ] {
        sqlx::query(sql).bind(&inside).execute(&mut **tx).await?;
    }
    PostgresStore::recompute_groups(tx, across).await?;
    if aligned {
        for (_, table, column) in PERIOD_COUNTS {
            sqlx::query(sqlx::AssertSqlSafe(format!(
                "DELETE FROM {table} WHERE {column} >= $1 AND {column} < $2"
            )))
            .bind(from)
            .bind(to)
            .execute(&mut **tx)
            .await?;
        }
    } else {
        PostgresStore::add_period_counts(tx, hours.iter().map(|h| (h.0, h.1.as_str(), -h.2)))
            .await?;
    }
    Ok(total.max(0) as u64)
}

/// Blocks of `event_uuids` one step of [`PostgresStore::sweep_claims`] reads (about 150
/// claims a block: ~150,000 claims, tens of milliseconds).
const SWEEP_BLOCKS: i64 = 1024;

/// Advisory lock key of the claims sweep (one server sweeps at a time; the others skip).
const SWEEP_KEY: i64 = LOCK_KEY + 1;

impl PostgresStore {
    /// One step of deleting the uuid claims of dropped partitions: in the next
    /// `SWEEP_BLOCKS` (1,024) blocks of `event_uuids`, the claims older than the dropped range's
    /// end whose event is not stored (an event older than the oldest partition may still
    /// sit in the DEFAULT partition: its claim stays). Returns the claims deleted, or `None`
    /// when nothing is left to sweep (or another server is sweeping). Called by
    /// [`crate::store::WriteStore::maintain`]; a full sweep reads the table once.
    pub async fn sweep_claims(&self) -> Result<Option<u64>, StoreError> {
        let mut tx = self.pool.begin().await?;
        let locked: bool = sqlx::query_scalar("SELECT pg_try_advisory_xact_lock($1)")
            .bind(SWEEP_KEY)
            .fetch_one(&mut *tx)
            .await?;
        if !locked {
            return Ok(None);
        }
        let (before, from, blocks): (Option<DateTime<Utc>>, Option<i64>, i64) = sqlx::query_as(
            "SELECT claims_before, claims_swept_to, \
             (pg_relation_size('event_uuids') / current_setting('block_size')::int8)::int8 \
             FROM event_partitioning",
        )
        .fetch_one(&mut *tx)
        .await?;
        let Some(before) = before else {
            return Ok(None);
        };
        let from = from.unwrap_or(0);
        if from >= blocks {
            sqlx::query(
                "UPDATE event_partitioning SET claims_before = NULL, claims_swept_to = NULL \
                 WHERE claims_before = $1",
            )
            .bind(before)
            .execute(&mut *tx)
            .await?;
            tx.commit().await?;
            return Ok(None);
        }
        let to = from.saturating_add(SWEEP_BLOCKS);
        // A TID range scan of the blocks [from, to); the events older than the bound are
        // few (the DEFAULT partition's old rows), so the anti-join reads little.
        let deleted = sqlx::query(
            "DELETE FROM event_uuids u WHERE u.ctid >= $2::text::tid AND u.ctid < $3::text::tid \
             AND u.ts < $1 AND NOT EXISTS \
             (SELECT 1 FROM events e WHERE e.ts < $1 AND e.ts = u.ts AND e.uuid = u.uuid)",
        )
        .bind(before)
        .bind(format!("({from},0)"))
        .bind(format!("({to},0)"))
        .execute(&mut *tx)
        .await?
        .rows_affected();
        sqlx::query("UPDATE event_partitioning SET claims_swept_to = $1 WHERE claims_before = $2")
            .bind(to)
            .bind(before)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(Some(deleted))
    }
}
