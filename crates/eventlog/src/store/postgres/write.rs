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
/// partition (kept until upkeep deletes it): no row. The claims are read first, on their own
/// (on Citus claims are distributed by uuid and events by group: a join of the two tables
/// is refused, a join with the claims read is sent to every shard).
const STORED_IDS: &str = "WITH u AS MATERIALIZED \
     (SELECT uuid, ts FROM event_uuids WHERE uuid = ANY($1)) \
     SELECT u.uuid, e.id FROM u JOIN events e ON e.ts = u.ts AND e.uuid = u.uuid";

/// Attempts of a batch that keeps failing on a deadlock or serialization failure.
const ATTEMPTS: usize = 5;

/// The stored numbers of the batch's groups that have one. Groups stored before numbers were
/// derived from names keep the number they were given; every other group's number is
/// [`group_number`]. Nothing is locked or written: concurrent batches of the same groups (the
/// big group in every batch of an import) insert their events side by side and meet only at
/// the summaries, at the end of their transactions.
const STORED_GIDS: &str = "SELECT group_id, gid FROM event_groups WHERE group_id = ANY($1)";

/// Adds the batch's new events to their groups' summaries, creating a missing group under
/// the number its events were written with. The key is the number (on Citus, the one unique
/// key `event_groups` can have is its distribution column); a number held by another name
/// (a hash collision) updates nothing and returns no row for the group.
const UPSERT_GROUPS: &str = "INSERT INTO event_groups \
     (gid, group_id, first_at, last_at, event_count) OVERRIDING SYSTEM VALUE \
     SELECT * FROM UNNEST($1::int8[], $2::text[], $3::timestamptz[], $4::timestamptz[], \
     $5::int8[]) \
     ON CONFLICT (gid) DO UPDATE SET \
     first_at = LEAST(event_groups.first_at, excluded.first_at), \
     last_at = GREATEST(event_groups.last_at, excluded.last_at), \
     event_count = event_groups.event_count + excluded.event_count \
     WHERE event_groups.group_id = excluded.group_id \
     RETURNING group_id";

/// The number of a group not stored yet: the first 8 bytes of the SHA-256 of its name, read
/// as a big-endian signed integer. Derived from the name, it is the same on every server
/// without asking the database, and never changes after insert (on Citus it says which shard
/// holds the group). In SQL, for carrying a database over:
/// `('x' || left(encode(sha256(convert_to(group_id, 'UTF8')), 'hex'), 16))::bit(64)::int8`.
/// Two names share a number with a probability of about n²/2⁶⁵ for n groups; the second
/// one's batch then fails (see [`UPSERT_GROUPS`]).
pub(super) fn group_number(name: &str) -> i64 {
    use sha2::{Digest, Sha256};
    let digest = Sha256::digest(name.as_bytes());
    let mut first = [0u8; 8];
    first.copy_from_slice(&digest[..8]);
    i64::from_be_bytes(first)
}

const UPSERT_GROUP_TYPES: &str = "INSERT INTO event_group_types (gid, event_type, event_count) \
     SELECT * FROM UNNEST($1::int8[], $2::text[], $3::int8[]) \
     ON CONFLICT (gid, event_type) DO UPDATE SET \
     event_count = event_group_types.event_count + excluded.event_count";

/// Locks the summaries of groups `$1` against concurrent writers. A no-op `UPDATE` takes the
/// same row locks as `FOR UPDATE`, which Citus refuses across shards.
pub(super) const LOCK_GROUPS: &str =
    "UPDATE event_groups SET event_count = event_count WHERE gid = ANY($1)";

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
            LOCK_GROUPS,
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
        let gids = Self::group_gids(&mut tx, self.citus, events).await?;
        let results = Self::insert_events(&mut tx, events, &gids).await?;
        if mail == Mail::Queue {
            // The mails of the new events, in the same transaction (the durable mail outbox).
            crate::store::outbox::enqueue::<sqlx::Postgres>(&mut tx, events, &results).await?;
        }
        Self::count_in_groups(&mut tx, events, &results, &gids).await?;
        // Last: the current hour's and day's rows are the most contended, held only until
        // the commit.
        Self::add_period_counts(&mut tx, created(events, &results)).await?;
        tx.commit().await?;
        Ok(results)
    }

    /// The number of each group of the batch: the stored one (see [`STORED_GIDS`]), or
    /// [`group_number`]. On Citus every group's number is [`group_number`]: no lookup.
    async fn group_gids(
        tx: &mut Transaction<'static, Postgres>,
        citus: bool,
        events: &[NewEvent],
    ) -> Result<HashMap<String, i64>, StoreError> {
        let mut names: Vec<&str> = events.iter().map(|e| e.group.as_str()).collect();
        names.sort_unstable();
        names.dedup();
        let mut gids: HashMap<String, i64> = if citus {
            HashMap::new()
        } else {
            sqlx::query_as::<_, (String, i64)>(STORED_GIDS)
                .bind(&names)
                .fetch_all(&mut **tx)
                .await?
                .into_iter()
                .collect()
        };
        for name in names {
            if !gids.contains_key(name) {
                gids.insert(name.to_owned(), group_number(name));
            }
        }
        Ok(gids)
    }

    /// Adds the created events to their groups' summaries and per-type counts (groups in
    /// their text's order, then types in (gid, type) order, as every writer locks them).
    async fn count_in_groups(
        tx: &mut Transaction<'static, Postgres>,
        events: &[NewEvent],
        results: &[Inserted],
        gids: &HashMap<String, i64>,
    ) -> Result<(), StoreError> {
        let created: Vec<bool> = results.iter().map(|r| r.created).collect();
        let (mut groups, types) = group_deltas(events, &created);
        if groups.is_empty() {
            return Ok(());
        }
        // Byte order: the order of the column's "C" collation.
        groups.sort_by(|a, b| a.group.cmp(b.group));
        let gid_of = |group: &str| gids.get(group).copied().unwrap_or_default();
        let numbers: Vec<i64> = groups.iter().map(|g| gid_of(g.group)).collect();
        let names: Vec<&str> = groups.iter().map(|g| g.group).collect();
        let firsts: Vec<DateTime<Utc>> = groups.iter().map(|g| g.first_at).collect();
        let lasts: Vec<DateTime<Utc>> = groups.iter().map(|g| g.last_at).collect();
        let counts: Vec<i64> = groups.iter().map(|g| g.count).collect();
        let stored: Vec<String> = sqlx::query_scalar(UPSERT_GROUPS)
            .bind(&numbers)
            .bind(&names)
            .bind(&firsts)
            .bind(&lasts)
            .bind(&counts)
            .fetch_all(&mut **tx)
            .await?;
        if stored.len() < names.len() {
            // Rolled back with the transaction: nothing of the batch is stored.
            let missing = names.iter().find(|n| !stored.iter().any(|s| s == *n));
            return Err(StoreError::Corrupt(format!(
                "the group {missing:?} has the number of another stored group (a hash \
                 collision): its events cannot be stored"
            )));
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
                // A group stored under an older number (before numbers were derived from
                // names) by a concurrent batch, after this one read the stored numbers: the
                // next attempt reads it.
                || (db.code().as_deref() == Some("23505")
                    && db.constraint() == Some("event_groups_pkey"))
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

#[cfg(test)]
mod tests {
    use super::group_number;

    /// The numbers PostgreSQL computes with the SQL given in `group_number`'s documentation
    /// (for carrying a database over): the same.
    #[test]
    fn group_numbers_match_the_sql_formula() {
        assert_eq!(group_number("order-42"), 4321398832972926703);
        assert_eq!(group_number("é"), 5375421630974772051);
        assert_eq!(group_number(""), -2039914840885289964);
        assert_ne!(group_number("order-42"), group_number("order-43"));
    }
}
