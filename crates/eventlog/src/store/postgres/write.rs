//! The PostgreSQL write paths: a batch insert (group summaries, events, mail outbox),
//! retried on a deadlock, and the summaries' upkeep after deletes.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use sqlx::{Postgres, Row, Transaction};
use uuid::Uuid;

use super::PostgresStore;
use crate::error::StoreError;
use crate::event::{GroupId, NewEvent};
use crate::store::Inserted;
use crate::store::group_delta::in_lock_order;
use crate::store::group_delta::{DuplicateDeltas, Mail, group_deltas};
use crate::store::periods::{created, period_changes};

/// Ids are drawn in input order (`ORDER BY ord`), so events of equal timestamp keep the order
/// they were recorded in. A uuid is claimed in `event_uuids` (its primary key makes an event
/// stored once, whatever its timestamp: a partitioned `events` cannot have a unique index on
/// uuid alone), and only the events whose uuid was claimed here are inserted (of a uuid
/// repeated in the batch, its first copy: `f`). Claims are made in uuid order, so that two
/// transactions holding the same uuids (racing retries of one request) take their locks in
/// the same order instead of deadlocking.
const INSERT_EVENTS: &str = "WITH x AS MATERIALIZED (\
     SELECT nextval(pg_get_serial_sequence('events', 'id')) AS id, u, t, g, ts, m, d, i, s \
     FROM UNNEST(\
     $1::uuid[], $2::text[], $3::int8[], $4::timestamptz[], $5::text[], $6::text[], \
     $7::text[], $8::text[]) WITH ORDINALITY AS x(u, t, g, ts, m, d, i, s, ord) \
     ORDER BY ord), \
     f AS (SELECT DISTINCT ON (u) id FROM x ORDER BY u, id), \
     k AS (INSERT INTO event_uuids (uuid, ts) SELECT x.u, x.ts FROM x JOIN f ON f.id = x.id \
     ORDER BY x.u ON CONFLICT (uuid) DO NOTHING RETURNING uuid), \
     e AS (INSERT INTO events \
     (id, uuid, event_type, gid, ts, message, data, initiator, send_mail) \
     OVERRIDING SYSTEM VALUE \
     SELECT x.id, u, t, g, ts, m, d::jsonb, i, s FROM x JOIN f ON f.id = x.id \
     JOIN k ON k.uuid = x.u ORDER BY x.id \
     RETURNING id, uuid) \
     SELECT id, uuid FROM e";

/// The stored events of claimed uuids: the claim's time prunes the lookup to one partition,
/// where the time index finds the event. A claim without its event belongs to a dropped
/// partition (kept until upkeep deletes it): no row.
const STORED_IDS: &str = "SELECT u.uuid, e.id FROM event_uuids u \
     JOIN events e ON e.ts = u.ts AND e.uuid = u.uuid WHERE u.uuid = ANY($1)";

/// Attempts of a batch that keeps failing on a deadlock or serialization failure.
const ATTEMPTS: usize = 5;

const UPSERT_GROUPS: &str = "INSERT INTO event_groups (group_id, first_at, last_at, event_count) \
     SELECT * FROM UNNEST($1::text[], $2::timestamptz[], $3::timestamptz[], $4::int8[]) \
     ON CONFLICT (group_id) DO UPDATE SET \
     first_at = LEAST(event_groups.first_at, excluded.first_at), \
     last_at = GREATEST(event_groups.last_at, excluded.last_at), \
     event_count = event_groups.event_count + excluded.event_count \
     RETURNING group_id, gid";

const UPSERT_GROUP_TYPES: &str = "INSERT INTO event_group_types (gid, event_type, event_count) \
     SELECT * FROM UNNEST($1::int8[], $2::text[], $3::int8[]) \
     ON CONFLICT (gid, event_type) DO UPDATE SET \
     event_count = event_group_types.event_count + excluded.event_count";

impl PostgresStore {
    /// Adds events to the per-hour and per-day counts: `n` events of a type at a time
    /// (negative: taken away; a row left at zero is deleted). The rows are written in
    /// (period, type) order, so that concurrent transactions lock them in the same order;
    /// every writer locks them after its group summaries, never before.
    pub(super) async fn add_period_counts<'a>(
        tx: &mut Transaction<'static, Postgres>,
        deltas: impl IntoIterator<Item = (DateTime<Utc>, &'a str, i64)>,
    ) -> Result<(), StoreError> {
        for (table, column, rows, taken) in period_changes(deltas) {
            let starts: Vec<DateTime<Utc>> = rows.iter().map(|r| r.0).collect();
            let types: Vec<&str> = rows.iter().map(|r| r.1).collect();
            let counts: Vec<i64> = rows.iter().map(|r| r.2).collect();
            sqlx::query(sqlx::AssertSqlSafe(format!(
                "INSERT INTO {table} ({column}, event_type, event_count) \
                 SELECT * FROM UNNEST($1::timestamptz[], $2::text[], $3::int8[]) \
                 ON CONFLICT ({column}, event_type) DO UPDATE SET \
                 event_count = {table}.event_count + excluded.event_count"
            )))
            .bind(&starts)
            .bind(&types)
            .bind(&counts)
            .execute(&mut **tx)
            .await?;
            if taken {
                sqlx::query(sqlx::AssertSqlSafe(format!(
                    "DELETE FROM {table} WHERE event_count <= 0 AND ({column}, event_type) IN \
                     (SELECT * FROM UNNEST($1::timestamptz[], $2::text[]))"
                )))
                .bind(&starts)
                .bind(&types)
                .execute(&mut **tx)
                .await?;
            }
        }
        Ok(())
    }

    /// Rebuilds the summaries of these groups from their remaining events (after a delete,
    /// or when a batch turned out to hold duplicates); drops groups left without events.
    pub(super) async fn recompute_groups(
        tx: &mut Transaction<'static, Postgres>,
        gids: Vec<i64>,
    ) -> Result<(), StoreError> {
        let Some(gids) = in_lock_order(gids) else {
            return Ok(());
        };
        for sql in [
            "SELECT 1 FROM event_groups WHERE gid = ANY($1) ORDER BY gid FOR UPDATE",
            "DELETE FROM event_group_types WHERE gid = ANY($1)",
            "INSERT INTO event_group_types (gid, event_type, event_count) \
             SELECT gid, event_type, count(*) FROM events \
             WHERE gid = ANY($1) GROUP BY gid, event_type",
            "UPDATE event_groups g SET first_at = s.first_at, last_at = s.last_at, \
             event_count = s.n FROM (SELECT gid, min(ts) AS first_at, max(ts) AS last_at, \
             count(*) AS n FROM events WHERE gid = ANY($1) GROUP BY gid) s WHERE g.gid = s.gid",
            "DELETE FROM event_groups g WHERE g.gid = ANY($1) \
             AND NOT EXISTS (SELECT 1 FROM events e WHERE e.gid = g.gid)",
        ] {
            sqlx::query(sql).bind(&gids).execute(&mut **tx).await?;
        }
        Ok(())
    }

    pub(super) async fn insert_events(
        tx: &mut Transaction<'static, Postgres>,
        events: &[NewEvent],
        gids: &HashMap<String, i64>,
    ) -> Result<Vec<Inserted>, StoreError> {
        let n = events.len();
        let mut uuids = Vec::with_capacity(n);
        let mut types = Vec::with_capacity(n);
        let mut groups = Vec::with_capacity(n);
        let mut times = Vec::with_capacity(n);
        let mut messages = Vec::with_capacity(n);
        let mut data = Vec::with_capacity(n);
        let mut initiators = Vec::with_capacity(n);
        let mut mails = Vec::with_capacity(n);
        for e in events {
            uuids.push(e.uuid);
            types.push(e.event_type.as_str());
            groups.push(gids.get(e.group.as_str()).copied().unwrap_or_default());
            times.push(e.timestamp);
            messages.push(e.message.as_str());
            data.push(e.data.as_ref().map(|d| d.to_string()));
            initiators.push(e.initiator.as_deref());
            mails.push(e.send_mail.as_deref());
        }
        let rows = sqlx::query(INSERT_EVENTS)
            .bind(&uuids)
            .bind(&types)
            .bind(&groups)
            .bind(&times)
            .bind(&messages)
            .bind(&data)
            .bind(&initiators)
            .bind(&mails)
            .fetch_all(&mut **tx)
            .await?;
        let mut created_ids: HashMap<Uuid, i64> = HashMap::with_capacity(rows.len());
        for row in &rows {
            created_ids.insert(row.try_get("uuid")?, row.try_get("id")?);
        }
        let mut results = Vec::with_capacity(n);
        let mut missing = Vec::new();
        for (i, e) in events.iter().enumerate() {
            // remove(): a uuid repeated within the batch was created once, by its first copy.
            match created_ids.remove(&e.uuid) {
                Some(id) => results.push(Inserted { id, created: true }),
                None => {
                    missing.push(i);
                    results.push(Inserted {
                        id: 0,
                        created: false,
                    });
                }
            }
        }
        if !missing.is_empty() {
            let wanted: Vec<Uuid> = missing.iter().map(|&i| events[i].uuid).collect();
            let existing: HashMap<Uuid, i64> = sqlx::query_as::<_, (Uuid, i64)>(STORED_IDS)
                .bind(&wanted)
                .fetch_all(&mut **tx)
                .await?
                .into_iter()
                .collect();
            for i in missing {
                // Claimed, but its event was purged with its partition: a repeat all the
                // same, of an event no longer stored.
                results[i].id = existing
                    .get(&events[i].uuid)
                    .copied()
                    .unwrap_or(Inserted::PURGED);
            }
        }
        Ok(results)
    }

    /// A batch (not empty) in one transaction, retried on a deadlock or serialization failure.
    pub(super) async fn insert_with(
        &self,
        events: &[NewEvent],
        mail: Mail,
    ) -> Result<Vec<Inserted>, StoreError> {
        let cleaned: Vec<NewEvent>;
        let events = if events.iter().any(has_nul) {
            cleaned = events.iter().map(without_nul).collect();
            &cleaned[..]
        } else {
            events
        };
        let mut attempt = 1;
        loop {
            match self.insert_once(events, mail).await {
                Err(e) if attempt < ATTEMPTS && is_conflict(&e) => {
                    tracing::debug!(error = %e, attempt, "eventlog: batch insert retried");
                    attempt += 1;
                }
                outcome => return outcome,
            }
        }
    }

    /// One attempt at a batch, in one transaction.
    pub(super) async fn insert_once(
        &self,
        events: &[NewEvent],
        mail: Mail,
    ) -> Result<Vec<Inserted>, StoreError> {
        let mut tx = self.pool.begin().await?;
        let gids = Self::upsert_groups(&mut tx, events).await?;
        let results = Self::insert_events(&mut tx, events, &gids).await?;
        if mail == Mail::Queue {
            // The mails of the new events, in the same transaction (the durable mail outbox).
            PostgresStore::enqueue_mail(&mut tx, events, &results).await?;
        }
        if let Some(deltas) = DuplicateDeltas::of(events, &results, &gids) {
            Self::uncount_duplicates(&mut tx, &deltas).await?;
        }
        // Last: the current hour's and day's rows are the most contended, held only until
        // the commit.
        Self::add_period_counts(&mut tx, created(events, &results)).await?;
        tx.commit().await?;
        Ok(results)
    }

    /// The summaries counted every event of the batch as new: take back the ones that were
    /// already stored (retries, idempotent API calls, a re-import). Counts are subtracted, so
    /// the cost is the batch's, not its groups' sizes; a group's first and last times are
    /// read back from the (group, time) index, since a stored copy may have another time.
    /// The rows were locked by the upsert, in the same order.
    pub(super) async fn uncount_duplicates(
        tx: &mut Transaction<'static, Postgres>,
        deltas: &DuplicateDeltas<'_>,
    ) -> Result<(), StoreError> {
        let (group_gids, group_counts): (Vec<i64>, Vec<i64>) =
            deltas.groups.iter().copied().unzip();
        let type_gids: Vec<i64> = deltas.types.iter().map(|t| t.0).collect();
        let type_names: Vec<&str> = deltas.types.iter().map(|t| t.2).collect();
        let type_counts: Vec<i64> = deltas.types.iter().map(|t| t.3).collect();
        sqlx::query(
            "UPDATE event_groups g SET event_count = g.event_count - d.n \
             FROM UNNEST($1::int8[], $2::int8[]) d(gid, n) WHERE g.gid = d.gid",
        )
        .bind(&group_gids)
        .bind(&group_counts)
        .execute(&mut **tx)
        .await?;
        sqlx::query(
            "UPDATE event_group_types t SET event_count = t.event_count - d.n \
             FROM UNNEST($1::int8[], $2::text[], $3::int8[]) d(gid, event_type, n) \
             WHERE t.gid = d.gid AND t.event_type = d.event_type",
        )
        .bind(&type_gids)
        .bind(&type_names)
        .bind(&type_counts)
        .execute(&mut **tx)
        .await?;
        for sql in [
            "DELETE FROM event_group_types WHERE event_count <= 0 AND gid = ANY($1)",
            "DELETE FROM event_groups WHERE event_count <= 0 AND gid = ANY($1)",
            "UPDATE event_groups g SET \
             first_at = (SELECT min(ts) FROM events e WHERE e.gid = g.gid), \
             last_at = (SELECT max(ts) FROM events e WHERE e.gid = g.gid) \
             WHERE gid = ANY($1)",
        ] {
            sqlx::query(sql)
                .bind(&group_gids)
                .execute(&mut **tx)
                .await?;
        }
        Ok(())
    }

    /// Adds the batch to its groups' summaries (as if every event were new) and returns each
    /// group's gid.
    pub(super) async fn upsert_groups(
        tx: &mut Transaction<'static, Postgres>,
        events: &[NewEvent],
    ) -> Result<HashMap<String, i64>, StoreError> {
        let all_new = vec![true; events.len()];
        let (mut groups, types) = group_deltas(events, &all_new);
        // Sorted, so that concurrent writers lock summary rows in the same order (no deadlock).
        groups.sort_by(|a, b| a.group.cmp(b.group));
        let names: Vec<&str> = groups.iter().map(|g| g.group).collect();
        let firsts: Vec<DateTime<Utc>> = groups.iter().map(|g| g.first_at).collect();
        let lasts: Vec<DateTime<Utc>> = groups.iter().map(|g| g.last_at).collect();
        let counts: Vec<i64> = groups.iter().map(|g| g.count).collect();
        let gids: HashMap<String, i64> = sqlx::query_as::<_, (String, i64)>(UPSERT_GROUPS)
            .bind(&names)
            .bind(&firsts)
            .bind(&lasts)
            .bind(&counts)
            .fetch_all(&mut **tx)
            .await?
            .into_iter()
            .collect();
        // Per-type rows in (gid, type) order, as the other writers lock them.
        let mut types: Vec<(i64, &str, i64)> = types
            .iter()
            .map(|t| {
                let gid = gids.get(t.group).copied().unwrap_or_default();
                (gid, t.event_type, t.count)
            })
            .collect();
        types.sort_unstable();
        let type_gids: Vec<i64> = types.iter().map(|t| t.0).collect();
        let type_names: Vec<&str> = types.iter().map(|t| t.1).collect();
        let counts: Vec<i64> = types.iter().map(|t| t.2).collect();
        sqlx::query(UPSERT_GROUP_TYPES)
            .bind(&type_gids)
            .bind(&type_names)
            .bind(&counts)
            .execute(&mut **tx)
            .await?;
        Ok(gids)
    }
}

/// A deadlock (40P01) or serialization failure (40001): the transaction was rolled back and
/// running it again succeeds.
fn is_conflict(e: &StoreError) -> bool {
    match e {
        StoreError::Database(db) => {
            matches!(db.code().as_deref(), Some("40P01") | Some("40001"))
        }
        _ => false,
    }
}

/// Whether an event holds U+0000, which PostgreSQL text and `jsonb` cannot store (SQLite can).
fn has_nul(e: &NewEvent) -> bool {
    fn in_value(v: &serde_json::Value) -> bool {
        match v {
            serde_json::Value::String(s) => s.contains('\0'),
            serde_json::Value::Array(items) => items.iter().any(in_value),
            serde_json::Value::Object(map) => {
                map.iter().any(|(k, v)| k.contains('\0') || in_value(v))
            }
            _ => false,
        }
    }
    e.group.as_str().contains('\0')
        || e.message.contains('\0')
        || e.initiator.as_deref().is_some_and(|i| i.contains('\0'))
        || e.send_mail.as_deref().is_some_and(|m| m.contains('\0'))
        || e.data.as_ref().is_some_and(in_value)
}

/// The event with every U+0000 replaced by U+FFFD, so that one stray NUL does not make the
/// whole batch fail.
fn without_nul(e: &NewEvent) -> NewEvent {
    fn text(s: &str) -> String {
        s.replace('\0', "\u{fffd}")
    }
    fn value(v: &serde_json::Value) -> serde_json::Value {
        match v {
            serde_json::Value::String(s) => serde_json::Value::String(text(s)),
            serde_json::Value::Array(items) => items.iter().map(value).collect(),
            serde_json::Value::Object(map) => {
                map.iter().map(|(k, v)| (text(k), value(v))).collect()
            }
            other => other.clone(),
        }
    }
    let mut clean = e.clone();
    // A group name of 1 to 40 characters stays one: the replacement is one character.
    if let Ok(group) = GroupId::named(text(e.group.as_str())) {
        clean.group = group;
    }
    clean.message = text(&e.message);
    clean.initiator = e.initiator.as_deref().map(text);
    clean.send_mail = e.send_mail.as_deref().map(text);
    clean.data = e.data.as_ref().map(value);
    clean
}
