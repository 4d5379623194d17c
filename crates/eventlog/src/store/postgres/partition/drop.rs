//! Purge by whole partitions: dropping them keeps the group summaries and the per-period
//! counts right, and leaves their uuid claims to the sweep ([`super::claims`]).

use super::*;

impl PostgresStore {
    /// Drops the partitions that end at or before `before`, keeping the group summaries
    /// right (their uuid claims are deleted later, by [`PostgresStore::sweep_claims`]);
    /// returns the events dropped with them.
    pub(in crate::store::postgres) async fn drop_partitions_before(
        &self,
        before: DateTime<Utc>,
    ) -> Result<u64, StoreError> {
        let mut total = 0;
        // Their claims are this process's upkeep's to sweep from now on.
        self.claims_found(true);
        self.coverage_changed();
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
    pub(in crate::store::postgres) async fn drop_empty_partitions_before(
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
        if dropped > 0 {
            self.coverage_changed();
        }
        Ok(dropped)
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
    // The groups with events in the range, locked against writers: those whose last event
    // is in it, and those that started before its end and go on after it. (A no-op update
    // locks them: Citus refuses `FOR UPDATE` across shards.)
    let groups: Vec<(i64, bool)> = sqlx::query_as(
        "UPDATE event_groups SET event_count = event_count \
         WHERE (last_at >= $1 AND last_at < $2) OR (first_at < $2 AND last_at >= $2) \
         RETURNING gid, first_at >= $1 AND last_at < $2",
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
