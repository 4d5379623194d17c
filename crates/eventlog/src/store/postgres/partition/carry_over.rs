//! Carrying an unpartitioned events table over to a partitioned one while servers keep
//! writing (`eventlog partition`).

use super::*;

impl PostgresStore {
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
