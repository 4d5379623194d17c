//! The PostgreSQL write paths: a batch insert (events, mail outbox, then the summaries they
//! change), retried on a deadlock, and the summaries' upkeep after deletes.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use sqlx::{Postgres, Row, Transaction};
use uuid::Uuid;

use super::PostgresStore;
use crate::error::StoreError;
use crate::event::{GroupId, NewEvent};
use crate::store::Inserted;
use crate::store::period_counts::{created, period_changes};
use crate::store::summary_changes::in_lock_order;
use crate::store::summary_changes::{Mail, group_deltas};

/// Ids are drawn in input order (`ORDER BY ord`), so events of equal timestamp keep the order
/// they were recorded in. The sequence is looked up once per statement (a subquery), not per
/// row: `pg_get_serial_sequence` reads the catalogs, 6% of the server's time in an import. A uuid is claimed in `event_uuids` (its primary key makes an event
/// stored once, whatever its timestamp: a partitioned `events` cannot have a unique index on
/// uuid alone), and only the events whose uuid was claimed here are inserted (of a uuid
/// repeated in the batch, its first copy: `f`). Claims are made in uuid order, so that two
/// transactions holding the same uuids (racing retries of one request) take their locks in
/// the same order instead of deadlocking.
const INSERT_EVENTS: &str = "WITH x AS MATERIALIZED (\
     SELECT nextval((SELECT pg_get_serial_sequence('events', 'id')::regclass)) AS id, \
     u, t, g, ts, m, d, i, s \
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

/// Each group's number: the stored one, or for a group not stored yet a new one drawn from
/// the same sequence. Nothing is locked or written: concurrent batches of the same groups
/// (the big group in every batch of an import) insert their events side by side and meet
/// only at the summaries, at the end of their transactions.
const GROUP_GIDS: &str = "SELECT n.g, coalesce(eg.gid, \
     nextval((SELECT pg_get_serial_sequence('event_groups', 'gid')::regclass))) \
     FROM UNNEST($1::text[]) AS n(g) LEFT JOIN event_groups eg ON eg.group_id = n.g";

/// Adds the batch's new events to their groups' summaries, creating a missing group under
/// the number its events were written with. Returns each group's number: another
/// transaction may have created the group meanwhile (or re-created it after a purge) under
/// another one.
const UPSERT_GROUPS: &str = "INSERT INTO event_groups \
     (gid, group_id, first_at, last_at, event_count) OVERRIDING SYSTEM VALUE \
     SELECT * FROM UNNEST($1::int8[], $2::text[], $3::timestamptz[], $4::timestamptz[], \
     $5::int8[]) \
     ON CONFLICT (group_id) DO UPDATE SET \
     first_at = LEAST(event_groups.first_at, excluded.first_at), \
     last_at = GREATEST(event_groups.last_at, excluded.last_at), \
     event_count = event_groups.event_count + excluded.event_count \
     RETURNING group_id, gid";

/// Moves this transaction's events of a group to the group's number (when the group was
/// created by a concurrent transaction under another number than the one drawn here): in
/// `events`, and in the staging table of a carry-over to partitions if one is in progress
/// (its triggers copied the rows at insert and do not follow updates). A carry-over cannot
/// start or end meanwhile: it locks `events` against writers, and this transaction has
/// written to it.
const MOVE_TO_GID: &str = "WITH moved AS (UPDATE events SET gid = $1 \
     WHERE gid = $2 AND id = ANY($3) RETURNING id) \
     SELECT to_regclass('events_part') IS NOT NULL FROM (SELECT count(*) FROM moved) m";
const MOVE_STAGED_TO_GID: &str = "UPDATE events_part SET gid = $1 WHERE gid = $2 AND id = ANY($3)";

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

    /// A batch in one transaction, retried on a deadlock or serialization failure.
    pub(super) async fn insert_with(
        &self,
        events: &[NewEvent],
        mail: Mail,
    ) -> Result<Vec<Inserted>, StoreError> {
        // An empty batch touches nothing: no transaction, no lock.
        if events.is_empty() {
            return Ok(Vec::new());
        }
        let cleaned: Vec<NewEvent>;
        let events = if events.iter().any(has_nul) {
            cleaned = events.iter().map(without_nul).collect();
            &cleaned[..]
        } else {
            events
        };
        self.ensure_partitions(events).await?;
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
    ///
    /// The order of the statements lets concurrent batches do their heavy part (the events
    /// and their index entries, the word index above all) at the same time: group numbers
    /// are read without locking, the uuids claimed and the events inserted, and only then
    /// are the rows shared between writers (group summaries, per-type counts, per-hour and
    /// per-day counts) updated, each kind in a fixed sorted order and held only until the
    /// commit. Only created events are counted, so a repeat changes no summary. A claim
    /// waits for a concurrent transaction holding the same uuid (the claim's unique index
    /// decides which stores it); a transaction waiting on a claim holds no shared row, so
    /// the waits cannot form a cycle.
    pub(super) async fn insert_once(
        &self,
        events: &[NewEvent],
        mail: Mail,
    ) -> Result<Vec<Inserted>, StoreError> {
        let mut tx = self.pool.begin().await?;
        let drawn = Self::group_gids(&mut tx, events).await?;
        let results = Self::insert_events(&mut tx, events, &drawn).await?;
        if mail == Mail::Queue {
            // The mails of the new events, in the same transaction (the durable mail outbox).
            crate::store::outbox::enqueue::<sqlx::Postgres>(&mut tx, events, &results).await?;
        }
        Self::count_in_groups(&mut tx, events, &results, &drawn).await?;
        // Last: the current hour's and day's rows are the most contended, held only until
        // the commit.
        Self::add_period_counts(&mut tx, created(events, &results)).await?;
        tx.commit().await?;
        Ok(results)
    }

    /// The number of each group of the batch (see [`GROUP_GIDS`]).
    async fn group_gids(
        tx: &mut Transaction<'static, Postgres>,
        events: &[NewEvent],
    ) -> Result<HashMap<String, i64>, StoreError> {
        let mut names: Vec<&str> = events.iter().map(|e| e.group.as_str()).collect();
        names.sort_unstable();
        names.dedup();
        Ok(sqlx::query_as::<_, (String, i64)>(GROUP_GIDS)
            .bind(&names)
            .fetch_all(&mut **tx)
            .await?
            .into_iter()
            .collect())
    }

    /// Adds the created events to their groups' summaries and per-type counts (groups in
    /// their text's order, then types in (gid, type) order, as every writer locks them). A
    /// group another transaction created meanwhile under another number gets this
    /// transaction's events moved to that number.
    async fn count_in_groups(
        tx: &mut Transaction<'static, Postgres>,
        events: &[NewEvent],
        results: &[Inserted],
        drawn: &HashMap<String, i64>,
    ) -> Result<(), StoreError> {
        let created: Vec<bool> = results.iter().map(|r| r.created).collect();
        let (mut groups, types) = group_deltas(events, &created);
        if groups.is_empty() {
            return Ok(());
        }
        // Byte order: the order of the column's "C" collation.
        groups.sort_by(|a, b| a.group.cmp(b.group));
        let drawn_of = |group: &str| drawn.get(group).copied().unwrap_or_default();
        let gids: Vec<i64> = groups.iter().map(|g| drawn_of(g.group)).collect();
        let names: Vec<&str> = groups.iter().map(|g| g.group).collect();
        let firsts: Vec<DateTime<Utc>> = groups.iter().map(|g| g.first_at).collect();
        let lasts: Vec<DateTime<Utc>> = groups.iter().map(|g| g.last_at).collect();
        let counts: Vec<i64> = groups.iter().map(|g| g.count).collect();
        let stored: HashMap<String, i64> = sqlx::query_as::<_, (String, i64)>(UPSERT_GROUPS)
            .bind(&gids)
            .bind(&names)
            .bind(&firsts)
            .bind(&lasts)
            .bind(&counts)
            .fetch_all(&mut **tx)
            .await?
            .into_iter()
            .collect();
        let gid_of = |group: &str| {
            stored
                .get(group)
                .copied()
                .unwrap_or_else(|| drawn_of(group))
        };
        for (group, &gid) in &stored {
            let was = drawn_of(group);
            if gid == was {
                continue;
            }
            let ids: Vec<i64> = events
                .iter()
                .zip(results)
                .filter(|(e, r)| r.created && e.group.as_str() == group)
                .map(|(_, r)| r.id)
                .collect();
            let staging: bool = sqlx::query_scalar(MOVE_TO_GID)
                .bind(gid)
                .bind(was)
                .bind(&ids)
                .fetch_one(&mut **tx)
                .await?;
            if staging {
                sqlx::query(MOVE_STAGED_TO_GID)
                    .bind(gid)
                    .bind(was)
                    .bind(&ids)
                    .execute(&mut **tx)
                    .await?;
            }
        }
        let mut types: Vec<(i64, &str, i64)> = types
            .iter()
            .map(|t| (gid_of(t.group), t.event_type, t.count))
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
        Ok(())
    }
}

/// A deadlock (40P01) or serialization failure (40001): the transaction was rolled back and
/// running it again succeeds.
fn is_conflict(e: &StoreError) -> bool {
    match e {
        StoreError::Database(db) => {
            matches!(db.code().as_deref(), Some("40P01") | Some("40001"))
                // A new group's number, drawn before the upsert, already taken: seen under
                // concurrent first batches of one group while PostgreSQL restarted. The
                // next attempt reads the group as stored and draws nothing for it.
                || (db.code().as_deref() == Some("23505")
                    && db.constraint() == Some("event_groups_gid"))
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
