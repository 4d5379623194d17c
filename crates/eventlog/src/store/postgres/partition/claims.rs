//! The uuid claims sweep: deleting, one bounded step at a time, the claims of events whose
//! partition was dropped, so that their uuids can be stored again.

use super::*;

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
        if self.citus {
            return Self::sweep_claims_by_time(tx, before).await.map(Some);
        }
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

    /// The sweep on Citus, in one statement: the claims older than `before` whose event is
    /// not stored. Block ranges mean nothing across shards (and the coordinator's
    /// `pg_relation_size` of a distributed table is 0), and claims (by uuid) cannot be
    /// joined to events (by group): the uuids of the events older than `before` (the
    /// DEFAULT partition's old rows, few) are read first. Every shard deletes at once.
    async fn sweep_claims_by_time(
        mut tx: sqlx::Transaction<'static, sqlx::Postgres>,
        before: DateTime<Utc>,
    ) -> Result<u64, StoreError> {
        let deleted = sqlx::query(
            "WITH kept AS MATERIALIZED (SELECT uuid FROM events WHERE ts < $1) \
             DELETE FROM event_uuids WHERE ts < $1 AND uuid NOT IN (SELECT uuid FROM kept)",
        )
        .bind(before)
        .execute(&mut *tx)
        .await?
        .rows_affected();
        sqlx::query(
            "UPDATE event_partitioning SET claims_before = NULL, claims_swept_to = NULL \
             WHERE claims_before = $1",
        )
        .bind(before)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(deleted)
    }
}
