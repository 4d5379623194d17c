//! The SQLite write paths: a batch insert (group summaries, events, mail outbox) and
//! deletes, each inside the caller's write transaction.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use sqlx::sqlite::SqliteConnection;
use sqlx::{QueryBuilder, Row, Sqlite};
use uuid::Uuid;

use super::{ROWS_PER_INSERT, SqliteStore, micros_to_time};
use crate::error::StoreError;
use crate::event::NewEvent;
use crate::store::period_counts::{created, period_changes};
use crate::store::summary_changes::in_lock_order;
use crate::store::summary_changes::{DuplicateDeltas, Mail, group_deltas};
use crate::store::{Inserted, PURGE_BATCH};

impl SqliteStore {
    /// Rebuilds the summaries of these groups from their events (after deletes, or when a
    /// batch turned out to hold duplicates); drops groups left without events.
    pub(super) async fn recompute_groups(
        conn: &mut SqliteConnection,
        gids: Vec<i64>,
    ) -> Result<(), StoreError> {
        // As a JSON array, for json_each.
        let Some(gids) = in_lock_order(gids).map(|g| serde_json::Value::from(g).to_string()) else {
            return Ok(());
        };
        for sql in [
            "DELETE FROM event_group_types WHERE gid IN (SELECT value FROM json_each(?))",
            "INSERT INTO event_group_types (gid, event_type, event_count) \
             SELECT gid, event_type, count(*) FROM events \
             WHERE gid IN (SELECT value FROM json_each(?)) GROUP BY gid, event_type",
            "DELETE FROM event_groups WHERE gid IN (SELECT value FROM json_each(?)) \
             AND NOT EXISTS (SELECT 1 FROM events e WHERE e.gid = event_groups.gid)",
            "UPDATE event_groups SET \
             first_at = (SELECT min(ts) FROM events e WHERE e.gid = event_groups.gid), \
             last_at = (SELECT max(ts) FROM events e WHERE e.gid = event_groups.gid), \
             event_count = (SELECT count(*) FROM events e WHERE e.gid = event_groups.gid) \
             WHERE gid IN (SELECT value FROM json_each(?))",
        ] {
            sqlx::query(sql).bind(&gids).execute(&mut *conn).await?;
        }
        Ok(())
    }

    /// Adds the batch to its groups' summaries (as if every event were new) and returns each
    /// group's gid.
    pub(super) async fn upsert_groups(
        conn: &mut SqliteConnection,
        events: &[NewEvent],
    ) -> Result<HashMap<String, i64>, StoreError> {
        let all_new = vec![true; events.len()];
        let (groups, types) = group_deltas(events, &all_new);
        let mut gids = HashMap::with_capacity(groups.len());
        for chunk in groups.chunks(ROWS_PER_INSERT) {
            let mut qb = QueryBuilder::<Sqlite>::new(
                "INSERT INTO event_groups (group_id, first_at, last_at, event_count) ",
            );
            qb.push_values(chunk, |mut row, g| {
                row.push_bind(g.group.to_owned())
                    .push_bind(g.first_at.timestamp_micros())
                    .push_bind(g.last_at.timestamp_micros())
                    .push_bind(g.count);
            });
            qb.push(
                " ON CONFLICT (group_id) DO UPDATE SET \
                 first_at = min(event_groups.first_at, excluded.first_at), \
                 last_at = max(event_groups.last_at, excluded.last_at), \
                 event_count = event_groups.event_count + excluded.event_count",
            );
            qb.build().execute(&mut *conn).await?;
            // One row holding every gid as a JSON array of [position, gid]: each row sqlx
            // returns costs a round trip to its SQLite worker thread. Positions, not names, as
            // keys: JSON object keys would cut a name at a NUL character.
            let names = serde_json::Value::from(chunk.iter().map(|g| g.group).collect::<Vec<_>>())
                .to_string();
            let json: String = sqlx::query_scalar(
                "SELECT json_group_array(json_array(j.key, g.gid)) FROM json_each(?) j \
                 JOIN event_groups g ON g.group_id = j.value",
            )
            .bind(names)
            .fetch_one(&mut *conn)
            .await?;
            let pairs: Vec<(usize, i64)> = serde_json::from_str(&json)
                .map_err(|e| StoreError::Corrupt(format!("group ids: {e}")))?;
            let mut chunk_gids = HashMap::with_capacity(pairs.len());
            for (i, gid) in pairs {
                let group = chunk
                    .get(i)
                    .ok_or_else(|| StoreError::Corrupt(format!("group position {i}")))?;
                chunk_gids.insert(group.group.to_owned(), gid);
            }
            gids.extend(chunk_gids);
        }
        for chunk in types.chunks(ROWS_PER_INSERT) {
            let mut qb = QueryBuilder::<Sqlite>::new(
                "INSERT INTO event_group_types (gid, event_type, event_count) ",
            );
            qb.push_values(chunk, |mut row, t| {
                row.push_bind(gids.get(t.group).copied().unwrap_or_default())
                    .push_bind(t.event_type.to_owned())
                    .push_bind(t.count);
            });
            qb.push(
                " ON CONFLICT (gid, event_type) DO UPDATE SET \
                 event_count = event_group_types.event_count + excluded.event_count",
            );
            qb.build().execute(&mut *conn).await?;
        }
        Ok(gids)
    }

    /// For a chunk where some uuids were already stored: the rows created by this insert are
    /// the ids after `last - created`; everything else is looked up by uuid.
    pub(super) async fn resolve_conflicts(
        conn: &mut SqliteConnection,
        chunk: &[NewEvent],
        last: i64,
        created: i64,
    ) -> Result<Vec<Inserted>, StoreError> {
        let mut new_ids: HashMap<Uuid, i64> = HashMap::new();
        if created > 0 {
            let rows = sqlx::query("SELECT id, uuid FROM events WHERE id > ? AND id <= ?")
                .bind(last - created)
                .bind(last)
                .fetch_all(&mut *conn)
                .await?;
            for row in rows {
                new_ids.insert(row.try_get("uuid")?, row.try_get("id")?);
            }
        }
        let mut results = Vec::with_capacity(chunk.len());
        for e in chunk {
            // remove(): a uuid repeated within the chunk was created once, by its first copy.
            match new_ids.remove(&e.uuid) {
                Some(id) => results.push(Inserted { id, created: true }),
                None => {
                    let id: i64 = sqlx::query_scalar("SELECT id FROM events WHERE uuid = ?")
                        .bind(e.uuid)
                        .fetch_one(&mut *conn)
                        .await?;
                    results.push(Inserted { id, created: false });
                }
            }
        }
        Ok(results)
    }

    /// One batch insert, inside the caller's transaction. (Anything else written in the
    /// same transaction as the events belongs here.)
    pub(super) async fn insert_in(
        conn: &mut SqliteConnection,
        events: &[NewEvent],
        mail: Mail,
    ) -> Result<Vec<Inserted>, StoreError> {
        let gids = Self::upsert_groups(conn, events).await?;
        let results = Self::insert_events(conn, events, &gids).await?;
        if mail == Mail::Queue {
            // The mails of the new events, in the same transaction (the durable mail outbox).
            crate::store::outbox::enqueue::<sqlx::Sqlite>(conn, events, &results).await?;
        }
        if let Some(deltas) = DuplicateDeltas::of(events, &results, &gids) {
            Self::uncount_duplicates(conn, &deltas).await?;
        }
        Self::add_period_counts(conn, created(events, &results)).await?;
        Ok(results)
    }

    /// Adds events to the per-hour and per-day counts: `n` events of a type at a time
    /// (negative: taken away; a row left at zero is deleted). One upsert per table and
    /// batch, not a trigger per row.
    pub(super) async fn add_period_counts<'a>(
        conn: &mut SqliteConnection,
        deltas: impl IntoIterator<Item = (DateTime<Utc>, &'a str, i64)>,
    ) -> Result<(), StoreError> {
        for (table, column, rows, taken) in period_changes(deltas) {
            let json = serde_json::Value::from(
                rows.iter()
                    .map(|(t, ty, n)| serde_json::json!([t.timestamp_micros(), ty, n]))
                    .collect::<Vec<_>>(),
            )
            .to_string();
            // `WHERE true`: an upsert's SELECT needs a WHERE clause to parse.
            sqlx::query(sqlx::AssertSqlSafe(format!(
                "INSERT INTO {table} ({column}, event_type, event_count) \
                 SELECT d.value ->> 0, d.value ->> 1, d.value ->> 2 FROM json_each(?) d \
                 WHERE true ON CONFLICT ({column}, event_type) DO UPDATE SET \
                 event_count = event_count + excluded.event_count"
            )))
            .bind(&json)
            .execute(&mut *conn)
            .await?;
            if taken {
                sqlx::query(sqlx::AssertSqlSafe(format!(
                    "DELETE FROM {table} WHERE event_count <= 0 AND ({column}, event_type) IN \
                     (SELECT d.value ->> 0, d.value ->> 1 FROM json_each(?) d)"
                )))
                .bind(&json)
                .execute(&mut *conn)
                .await?;
            }
        }
        Ok(())
    }

    /// The summaries counted every event of the batch as new: take back the ones that were
    /// already stored (retries, idempotent API calls, a re-import). Counts are subtracted, so
    /// the cost is the batch's, not its groups' sizes; a group's first and last times are
    /// read back from the (group, time) index, since a stored copy may have another time.
    pub(super) async fn uncount_duplicates(
        conn: &mut SqliteConnection,
        deltas: &DuplicateDeltas<'_>,
    ) -> Result<(), StoreError> {
        let groups = serde_json::Value::from(
            deltas
                .groups
                .iter()
                .map(|(gid, n)| serde_json::json!([gid, n]))
                .collect::<Vec<_>>(),
        )
        .to_string();
        let types = serde_json::Value::from(
            deltas
                .types
                .iter()
                .map(|(gid, _, t, n)| serde_json::json!([gid, t, n]))
                .collect::<Vec<_>>(),
        )
        .to_string();
        let gids = serde_json::Value::from(deltas.gids()).to_string();
        for (sql, json) in [
            (
                "UPDATE event_groups SET event_count = event_count - (d.value ->> 1) \
                 FROM json_each(?) d WHERE event_groups.gid = d.value ->> 0",
                &groups,
            ),
            (
                "UPDATE event_group_types SET event_count = event_count - (d.value ->> 2) \
                 FROM json_each(?) d WHERE event_group_types.gid = d.value ->> 0 \
                 AND event_group_types.event_type = d.value ->> 1",
                &types,
            ),
            (
                "DELETE FROM event_group_types WHERE event_count <= 0 \
                 AND gid IN (SELECT value FROM json_each(?))",
                &gids,
            ),
            (
                "DELETE FROM event_groups WHERE event_count <= 0 \
                 AND gid IN (SELECT value FROM json_each(?))",
                &gids,
            ),
            (
                "UPDATE event_groups SET \
                 first_at = (SELECT min(ts) FROM events e WHERE e.gid = event_groups.gid), \
                 last_at = (SELECT max(ts) FROM events e WHERE e.gid = event_groups.gid) \
                 WHERE gid IN (SELECT value FROM json_each(?))",
                &gids,
            ),
        ] {
            sqlx::query(sql).bind(json).execute(&mut *conn).await?;
        }
        Ok(())
    }

    /// Deletes events by id and rebuilds their groups' summaries, inside a transaction.
    pub(super) async fn delete_in(
        conn: &mut SqliteConnection,
        ids: &[i64],
    ) -> Result<u64, StoreError> {
        let mut deleted: Vec<(i64, i64, String)> = Vec::new();
        for chunk in ids.chunks(ROWS_PER_INSERT) {
            let mut qb = QueryBuilder::<Sqlite>::new("DELETE FROM events WHERE id IN (");
            let mut sep = qb.separated(", ");
            for id in chunk {
                sep.push_bind(*id);
            }
            qb.push(") RETURNING gid, ts, event_type");
            deleted.extend(qb.build_query_as().fetch_all(&mut *conn).await?);
        }
        let n = deleted.len() as u64;
        Self::uncount_deleted(conn, deleted).await?;
        Ok(n)
    }

    /// Deletes one batch of at most [`PURGE_BATCH`] old events, inside a transaction.
    pub(super) async fn purge_batch(
        conn: &mut SqliteConnection,
        before: DateTime<Utc>,
        event_type: Option<&str>,
    ) -> Result<usize, StoreError> {
        let deleted: Vec<(i64, i64, String)> = sqlx::query_as(
            "DELETE FROM events WHERE id IN (SELECT id FROM events \
             WHERE ts < ?1 AND (?2 IS NULL OR event_type = ?2) ORDER BY ts LIMIT ?3) \
             RETURNING gid, ts, event_type",
        )
        .bind(before.timestamp_micros())
        .bind(event_type)
        .bind(PURGE_BATCH as i64)
        .fetch_all(&mut *conn)
        .await?;
        let n = deleted.len();
        Self::uncount_deleted(conn, deleted).await?;
        Ok(n)
    }

    /// Takes deleted events, (group, time in microseconds, type) each, out of the group
    /// summaries and the per-period counts.
    async fn uncount_deleted(
        conn: &mut SqliteConnection,
        deleted: Vec<(i64, i64, String)>,
    ) -> Result<(), StoreError> {
        let counts = deleted
            .iter()
            .map(|(_, ts, ty)| Ok((micros_to_time(*ts)?, ty.as_str(), -1)))
            .collect::<Result<Vec<_>, StoreError>>()?;
        Self::recompute_groups(conn, deleted.iter().map(|d| d.0).collect()).await?;
        Self::add_period_counts(conn, counts).await
    }

    pub(super) async fn insert_events(
        conn: &mut SqliteConnection,
        events: &[NewEvent],
        gids: &HashMap<String, i64>,
    ) -> Result<Vec<Inserted>, StoreError> {
        let mut results = Vec::with_capacity(events.len());
        for chunk in events.chunks(ROWS_PER_INSERT) {
            let mut qb = QueryBuilder::<Sqlite>::new(
                "INSERT INTO events (uuid, event_type, gid, ts, message, data, initiator, send_mail) ",
            );
            qb.push_values(chunk, |mut row, e| {
                row.push_bind(e.uuid)
                    .push_bind(e.event_type.clone())
                    .push_bind(gids.get(e.group.as_str()).copied().unwrap_or_default())
                    .push_bind(e.timestamp.timestamp_micros())
                    .push_bind(e.message.clone())
                    .push_bind(e.data.as_ref().map(|d| d.to_string()))
                    .push_bind(e.initiator.clone())
                    .push_bind(e.send_mail.clone());
            });
            qb.push(" ON CONFLICT (uuid) DO NOTHING");
            let done = qb.build().execute(&mut *conn).await?;
            let created = done.rows_affected() as i64;
            let last = done.last_insert_rowid();
            if created == chunk.len() as i64 {
                // No conflict: SQLite gave the rows consecutive rowids, in order, ending at
                // last_insert_rowid (we hold the write lock, nobody else inserted).
                let first = last - created + 1;
                results.extend((0..created).map(|i| Inserted {
                    id: first + i,
                    created: true,
                }));
            } else {
                results.extend(Self::resolve_conflicts(conn, chunk, last, created).await?);
            }
        }
        Ok(results)
    }
}
