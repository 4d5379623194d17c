//! The PostgreSQL backend: for production, and for many servers writing to one log.
//!
//! A batch is one transaction with one `INSERT … SELECT FROM UNNEST(arrays)` statement for the
//! events (one round trip and one cached plan whatever the batch size) and one upsert each for
//! the group summaries. `COPY` cannot say `ON CONFLICT`, so it needs a staging table and an
//! `INSERT … SELECT` after it: measured slower at 1,000 events per batch and about even at
//! 5,000 (`cargo bench -p eventlog --bench pg_insert`), so UNNEST it is.

use std::collections::HashMap;
use std::str::FromStr;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use sqlx::postgres::{PgConnectOptions, PgPool, PgPoolOptions, PgRow};
use sqlx::{Postgres, QueryBuilder, Row, Transaction};
use uuid::Uuid;

use crate::error::StoreError;
use crate::event::{Event, GroupId, NewEvent};
use crate::store::ConnectOptions;
use crate::store::cursor::page_after;
use crate::store::filter::{like_pattern, search_words};
use crate::store::group_delta::group_deltas;
use crate::store::{
    Cursor, EventFilter, FollowCursor, GroupCursor, GroupFilter, GroupSummary, Inserted, Order,
    PURGE_BATCH, Page, Store,
};

mod follow;
mod outbox;
mod tokens;
mod users;

/// Connections per process: enough for the writer, the web handlers and a live tail at once,
/// small enough that several servers stay far below PostgreSQL's default 100 connections.
const MAX_CONNECTIONS: u32 = 10;

const EVENT_COLUMNS: &str = "id, uuid, event_type, \
     (SELECT group_id FROM event_groups g WHERE g.gid = events.gid) AS group_id, \
     ts, message, data, initiator, send_mail";

/// Ids are drawn in input order (`ORDER BY ord`), so events of equal timestamp keep the order
/// they were recorded in; the rows are then inserted in uuid order, so that two transactions
/// holding the same uuids (racing retries of one request) take their locks in the same order
/// instead of deadlocking.
const INSERT_EVENTS: &str = "WITH x AS MATERIALIZED (\
     SELECT nextval(pg_get_serial_sequence('events', 'id')) AS id, u, t, g, ts, m, d, i, s \
     FROM UNNEST(\
     $1::uuid[], $2::text[], $3::int8[], $4::timestamptz[], $5::text[], $6::text[], \
     $7::text[], $8::text[]) WITH ORDINALITY AS x(u, t, g, ts, m, d, i, s, ord) \
     ORDER BY ord) \
     INSERT INTO events \
     (id, uuid, event_type, gid, ts, message, data, initiator, send_mail) \
     OVERRIDING SYSTEM VALUE \
     SELECT id, u, t, g, ts, m, d::jsonb, i, s FROM x ORDER BY u, id \
     ON CONFLICT (uuid) DO NOTHING RETURNING id, uuid";

/// Attempts of a batch that keeps failing on a deadlock or serialization failure.
const ATTEMPTS: usize = 5;

const UPSERT_GROUPS: &str = "INSERT INTO event_groups (group_id, first_at, last_at, event_count) \
     SELECT * FROM UNNEST($1::text[], $2::timestamptz[], $3::timestamptz[], $4::int8[]) \
     ON CONFLICT (group_id) DO UPDATE SET \
     first_at = LEAST(event_groups.first_at, excluded.first_at), \
     last_at = GREATEST(event_groups.last_at, excluded.last_at), \
     event_count = event_groups.event_count + excluded.event_count \
     RETURNING group_id, gid";

const UPSERT_GROUP_TYPES: &str = "INSERT INTO event_group_types (group_id, event_type, event_count) \
     SELECT * FROM UNNEST($1::text[], $2::text[], $3::int8[]) \
     ON CONFLICT (group_id, event_type) DO UPDATE SET \
     event_count = event_group_types.event_count + excluded.event_count";

/// Events in a PostgreSQL database.
#[derive(Debug, Clone)]
pub struct PostgresStore {
    pool: PgPool,
}

impl PostgresStore {
    /// Connects to `postgres://USER[:PASSWORD]@HOST[:PORT]/DB` with the default
    /// [`ConnectOptions`]. Does not migrate; [`crate::store::open`] does.
    pub async fn connect(url: &str) -> Result<Self, StoreError> {
        Self::connect_with(url, ConnectOptions::default()).await
    }

    /// Connects with pool timeouts of the caller's choosing. Does not migrate.
    pub async fn connect_with(url: &str, connect: ConnectOptions) -> Result<Self, StoreError> {
        let mut options = PgConnectOptions::from_str(url)?.application_name("eventlog");
        if let Some(limit) = connect.statement_timeout {
            // Enforced by the server: a runaway query cannot hold a connection (and the
            // request waiting on it) longer than this.
            options = options.options([("statement_timeout", format!("{}", limit.as_millis()))]);
        }
        let pool = PgPoolOptions::new()
            .max_connections(MAX_CONNECTIONS)
            // Callers get an error they can retry on (or show as "database unavailable")
            // quickly, instead of every one of them waiting while the server is down.
            .acquire_timeout(connect.acquire_timeout)
            .connect_with(options)
            .await?;
        Ok(PostgresStore { pool })
    }

    /// The connection pool, for the users, sessions and tokens tables kept beside the events.
    pub fn pool(&self) -> &PgPool {
        &self.pool
    }

    /// Rebuilds the summaries of these groups from their remaining events (after a delete,
    /// or when a batch turned out to hold duplicates); drops groups left without events.
    async fn recompute_groups(
        tx: &mut Transaction<'static, Postgres>,
        mut gids: Vec<i64>,
    ) -> Result<(), StoreError> {
        if gids.is_empty() {
            return Ok(());
        }
        // Sorted, so that concurrent transactions lock summary rows in the same order.
        gids.sort_unstable();
        gids.dedup();
        for sql in [
            "SELECT 1 FROM event_groups WHERE gid = ANY($1) ORDER BY gid FOR UPDATE",
            "DELETE FROM event_group_types WHERE group_id IN \
             (SELECT group_id FROM event_groups WHERE gid = ANY($1))",
            "INSERT INTO event_group_types (group_id, event_type, event_count) \
             SELECT g.group_id, e.event_type, count(*) FROM events e \
             JOIN event_groups g ON g.gid = e.gid \
             WHERE e.gid = ANY($1) GROUP BY g.group_id, e.event_type",
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

    async fn insert_events(
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
            let existing: HashMap<Uuid, i64> = sqlx::query_as::<_, (Uuid, i64)>(
                "SELECT uuid, id FROM events WHERE uuid = ANY($1)",
            )
            .bind(&wanted)
            .fetch_all(&mut **tx)
            .await?
            .into_iter()
            .collect();
            for i in missing {
                results[i].id = *existing.get(&events[i].uuid).ok_or_else(|| {
                    StoreError::Corrupt(format!(
                        "event {} was neither inserted nor found",
                        events[i].uuid
                    ))
                })?;
            }
        }
        Ok(results)
    }

    /// One attempt at a batch, in one transaction.
    async fn insert_once(&self, events: &[NewEvent]) -> Result<Vec<Inserted>, StoreError> {
        let mut tx = self.pool.begin().await?;
        let gids = Self::upsert_groups(&mut tx, events).await?;
        let results = Self::insert_events(&mut tx, events, &gids).await?;
        // The mails of the new events, in the same transaction (the durable mail outbox).
        outbox::enqueue(&mut tx, events, &results).await?;
        // Duplicates are rare (retries, idempotent API calls): the summaries counted them as
        // new, so rebuild those groups from their stored events.
        let recount: Vec<i64> = events
            .iter()
            .zip(&results)
            .filter(|(_, r)| !r.created)
            .filter_map(|(e, _)| gids.get(e.group.as_str()).copied())
            .collect();
        Self::recompute_groups(&mut tx, recount).await?;
        tx.commit().await?;
        Ok(results)
    }

    /// Adds the batch to its groups' summaries (as if every event were new) and returns each
    /// group's gid.
    async fn upsert_groups(
        tx: &mut Transaction<'static, Postgres>,
        events: &[NewEvent],
    ) -> Result<HashMap<String, i64>, StoreError> {
        let all_new = vec![true; events.len()];
        let (mut groups, mut types) = group_deltas(events, &all_new);
        // Sorted, so that concurrent writers lock summary rows in the same order (no deadlock).
        groups.sort_by(|a, b| a.group.cmp(b.group));
        types.sort_by(|a, b| (a.group, a.event_type).cmp(&(b.group, b.event_type)));
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
        let names: Vec<&str> = types.iter().map(|t| t.group).collect();
        let type_names: Vec<&str> = types.iter().map(|t| t.event_type).collect();
        let counts: Vec<i64> = types.iter().map(|t| t.count).collect();
        sqlx::query(UPSERT_GROUP_TYPES)
            .bind(&names)
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

fn row_to_event(row: &PgRow) -> Result<Event, StoreError> {
    Ok(Event {
        id: row.try_get("id")?,
        uuid: row.try_get("uuid")?,
        event_type: row.try_get("event_type")?,
        group: row.try_get("group_id")?,
        timestamp: row.try_get("ts")?,
        message: row.try_get("message")?,
        data: row.try_get("data")?,
        initiator: row.try_get("initiator")?,
        send_mail: row.try_get("send_mail")?,
    })
}

fn push_filter(qb: &mut QueryBuilder<Postgres>, f: &EventFilter) {
    qb.push(" WHERE TRUE");
    if !f.types.is_empty() {
        qb.push(" AND event_type = ANY(")
            .push_bind(f.types.clone())
            .push(")");
    }
    if let Some(since) = f.since {
        qb.push(" AND ts >= ").push_bind(since);
    }
    if let Some(until) = f.until {
        qb.push(" AND ts < ").push_bind(until);
    }
    if let Some(text) = f.text.as_deref().filter(|t| !t.is_empty()) {
        // Word prefixes in the GIN indexes: the events whose message or initiator has them,
        // and the events of the groups whose id has them. The expressions are the indexed
        // ones, word for word, or the indexes are not used.
        match ts_query(text) {
            Some(query) => {
                qb.push(
                    " AND id IN (SELECT id FROM events WHERE \
                     eventlog_words(message || ' ' || coalesce(initiator, '')) \
                     @@ to_tsquery('simple', ",
                )
                .push_bind(query.clone())
                .push(
                    ") UNION ALL SELECT e.id FROM events e WHERE e.gid IN (SELECT gid \
                     FROM event_groups WHERE eventlog_words(group_id) @@ to_tsquery('simple', ",
                )
                .push_bind(query)
                .push(")))");
            }
            // No letters or digits: no word to find.
            None => {
                qb.push(" AND FALSE");
            }
        }
    }
    if let Some(group) = &f.group {
        qb.push(" AND gid = (SELECT gid FROM event_groups WHERE group_id = ")
            .push_bind(group.clone())
            .push(")");
    }
    if let Some(initiator) = &f.initiator {
        qb.push(" AND initiator = ").push_bind(initiator.clone());
    }
    for m in &f.data {
        // #>> yields strings unquoted and numbers and booleans as JSON spells them.
        qb.push(" AND data #>> ")
            .push_bind(m.path.clone())
            .push("::text[] = ")
            .push_bind(m.value.clone());
    }
}

/// The tsquery for a search text: every word as a prefix (`'word':*`), all required.
fn ts_query(text: &str) -> Option<String> {
    let words = search_words(text);
    if words.is_empty() {
        return None;
    }
    // Words hold only letters and digits: nothing to escape inside the quotes.
    let terms: Vec<String> = words.iter().map(|w| format!("'{w}':*")).collect();
    Some(terms.join(" & "))
}

fn row_to_group(row: &PgRow) -> Result<GroupSummary, StoreError> {
    Ok(GroupSummary {
        group: row.try_get("group_id")?,
        first_at: row.try_get("first_at")?,
        last_at: row.try_get("last_at")?,
        event_count: row.try_get("event_count")?,
        types: row.try_get("types")?,
    })
}

const GROUP_COLUMNS: &str = "g.group_id, g.first_at, g.last_at, g.event_count, \
     ARRAY(SELECT t.event_type FROM event_group_types t WHERE t.group_id = g.group_id) AS types";

fn limit_param(limit: usize) -> i64 {
    i64::try_from(limit).unwrap_or(i64::MAX)
}

#[async_trait]
impl Store for PostgresStore {
    fn backend(&self) -> crate::store::BackendKind {
        crate::store::BackendKind::Postgres
    }

    fn pool_status(&self) -> crate::store::PoolStatus {
        crate::store::PoolStatus::of(&self.pool)
    }

    async fn migrate(&self) -> Result<crate::store::Migrated, StoreError> {
        // sqlx holds an advisory lock while migrating: servers starting together are safe.
        // A migration may build an index over millions of rows: no statement timeout here.
        let mut conn = self.pool.acquire().await?;
        sqlx::query("SET statement_timeout = 0")
            .execute(&mut *conn)
            .await?;
        // `run_direct` is sqlx's way around "`Acquire` is not general enough" inside an
        // `async_trait` method; `run(&mut *conn)` does the same.
        // (Two servers starting together may both report a migration as applied by them;
        // the lock still lets only one apply it.)
        let migrated =
            crate::store::run_migrations(&sqlx::migrate!("migrations/postgres"), &mut *conn)
                .await?;
        sqlx::query("RESET statement_timeout")
            .execute(&mut *conn)
            .await?;
        Ok(migrated)
    }

    async fn insert_batch(&self, events: &[NewEvent]) -> Result<Vec<Inserted>, StoreError> {
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
        let mut attempt = 1;
        loop {
            match self.insert_once(events).await {
                Err(e) if attempt < ATTEMPTS && is_conflict(&e) => {
                    tracing::debug!(error = %e, attempt, "eventlog: batch insert retried");
                    attempt += 1;
                }
                outcome => return outcome,
            }
        }
    }

    async fn get(&self, id: i64) -> Result<Option<Event>, StoreError> {
        let sql = format!("SELECT {EVENT_COLUMNS} FROM events WHERE id = $1");
        let row = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(id)
            .fetch_optional(&self.pool)
            .await?;
        row.as_ref().map(row_to_event).transpose()
    }

    async fn get_by_uuid(&self, uuid: Uuid) -> Result<Option<Event>, StoreError> {
        let sql = format!("SELECT {EVENT_COLUMNS} FROM events WHERE uuid = $1");
        let row = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(uuid)
            .fetch_optional(&self.pool)
            .await?;
        row.as_ref().map(row_to_event).transpose()
    }

    async fn list(
        &self,
        filter: &EventFilter,
        order: Order,
        after: Option<&Cursor>,
        limit: usize,
    ) -> Result<Page<Event, Cursor>, StoreError> {
        let mut qb = QueryBuilder::<Postgres>::new(format!("SELECT {EVENT_COLUMNS} FROM events"));
        push_filter(&mut qb, filter);
        let (cmp, dir) = match order {
            Order::Desc => ("<", "DESC"),
            Order::Asc => (">", "ASC"),
        };
        if let Some(c) = after {
            // A row comparison: the (ts, id) indexes serve it as one range.
            qb.push(format!(" AND (ts, id) {cmp} ("))
                .push_bind(c.timestamp)
                .push(", ")
                .push_bind(c.id)
                .push(")");
        }
        qb.push(format!(" ORDER BY ts {dir}, id {dir} LIMIT "))
            .push_bind(limit_param(limit).saturating_add(1));
        let rows = qb.build().fetch_all(&self.pool).await?;
        let events = rows
            .iter()
            .map(row_to_event)
            .collect::<Result<Vec<_>, _>>()?;
        Ok(page_after(events, limit, |e| Cursor {
            timestamp: e.timestamp,
            id: e.id,
        }))
    }

    async fn follow_start(&self) -> Result<FollowCursor, StoreError> {
        follow::start(&self.pool).await
    }

    async fn follow(
        &self,
        filter: &EventFilter,
        cursor: &FollowCursor,
        limit: usize,
    ) -> Result<(Vec<Event>, FollowCursor), StoreError> {
        follow::read(&self.pool, filter, cursor, limit).await
    }

    async fn group_events(&self, group: &str, limit: usize) -> Result<Vec<Event>, StoreError> {
        let sql = format!(
            "SELECT {EVENT_COLUMNS} FROM events \
             WHERE gid = (SELECT gid FROM event_groups WHERE group_id = $1) ORDER BY ts, id LIMIT $2"
        );
        let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(group)
            .bind(limit_param(limit))
            .fetch_all(&self.pool)
            .await?;
        rows.iter().map(row_to_event).collect()
    }

    async fn groups(
        &self,
        filter: &GroupFilter,
        after: Option<&GroupCursor>,
        limit: usize,
    ) -> Result<Page<GroupSummary, GroupCursor>, StoreError> {
        let mut qb = QueryBuilder::<Postgres>::new(format!(
            "SELECT {GROUP_COLUMNS} FROM event_groups g WHERE TRUE"
        ));
        if !filter.types.is_empty() {
            qb.push(
                " AND EXISTS (SELECT 1 FROM event_group_types t \
                 WHERE t.group_id = g.group_id AND t.event_type = ANY(",
            )
            .push_bind(filter.types.clone())
            .push("))");
        }
        if let Some(since) = filter.since {
            qb.push(" AND g.last_at >= ").push_bind(since);
        }
        if let Some(until) = filter.until {
            qb.push(" AND g.first_at < ").push_bind(until);
        }
        if let Some(text) = filter.text.as_deref().filter(|t| !t.is_empty()) {
            qb.push(" AND g.group_id ILIKE ")
                .push_bind(like_pattern(text))
                .push(" ESCAPE '\\'");
        }
        if let Some(c) = after {
            qb.push(" AND (g.last_at, g.group_id) < (")
                .push_bind(c.last_at)
                .push(", ")
                .push_bind(c.group.clone())
                .push(")");
        }
        // group_id is COLLATE "C" (see the migration): byte order, the same as SQLite's.
        qb.push(" ORDER BY g.last_at DESC, g.group_id DESC LIMIT ")
            .push_bind(limit_param(limit).saturating_add(1));
        let rows = qb.build().fetch_all(&self.pool).await?;
        let groups = rows
            .iter()
            .map(row_to_group)
            .collect::<Result<Vec<_>, _>>()?;
        Ok(page_after(groups, limit, |g| GroupCursor {
            last_at: g.last_at,
            group: g.group.clone(),
        }))
    }

    async fn group_summary(&self, group: &str) -> Result<Option<GroupSummary>, StoreError> {
        let sql = format!("SELECT {GROUP_COLUMNS} FROM event_groups g WHERE g.group_id = $1");
        let row = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(group)
            .fetch_optional(&self.pool)
            .await?;
        row.as_ref().map(row_to_group).transpose()
    }

    async fn count(&self, filter: &EventFilter) -> Result<u64, StoreError> {
        let mut qb = QueryBuilder::<Postgres>::new("SELECT count(*) FROM events");
        push_filter(&mut qb, filter);
        let n: i64 = qb.build_query_scalar().fetch_one(&self.pool).await?;
        Ok(n.max(0) as u64)
    }

    async fn count_at_most(&self, filter: &EventFilter, bound: u64) -> Result<u64, StoreError> {
        let limit = i64::try_from(bound.saturating_add(1)).unwrap_or(i64::MAX);
        let mut qb = QueryBuilder::<Postgres>::new("SELECT count(*) FROM (SELECT 1 FROM events");
        push_filter(&mut qb, filter);
        qb.push(" LIMIT ").push_bind(limit).push(") AS matching");
        let n: i64 = qb.build_query_scalar().fetch_one(&self.pool).await?;
        Ok(n.max(0) as u64)
    }

    async fn histogram(
        &self,
        filter: &EventFilter,
        bucket_secs: i64,
    ) -> Result<Vec<(DateTime<Utc>, String, i64)>, StoreError> {
        let width = bucket_secs.max(1);
        // date_bin floors to multiples of the width counted from the Unix epoch, like the
        // SQLite backend's integer division.
        let mut qb = QueryBuilder::<Postgres>::new(format!(
            "SELECT date_bin(make_interval(secs => {width}), ts, TIMESTAMPTZ '1970-01-01 00:00:00+00') \
             AS bucket, event_type, count(*) AS n FROM events"
        ));
        push_filter(&mut qb, filter);
        qb.push(" GROUP BY bucket, event_type ORDER BY bucket, event_type");
        let rows = qb.build().fetch_all(&self.pool).await?;
        rows.iter()
            .map(|r| {
                Ok((
                    r.try_get("bucket")?,
                    r.try_get("event_type")?,
                    r.try_get("n")?,
                ))
            })
            .collect()
    }

    async fn delete(&self, ids: &[i64]) -> Result<u64, StoreError> {
        if ids.is_empty() {
            return Ok(0);
        }
        let mut tx = self.pool.begin().await?;
        let groups: Vec<i64> =
            sqlx::query_scalar("DELETE FROM events WHERE id = ANY($1) RETURNING gid")
                .bind(ids)
                .fetch_all(&mut *tx)
                .await?;
        let n = groups.len() as u64;
        Self::recompute_groups(&mut tx, groups).await?;
        tx.commit().await?;
        Ok(n)
    }

    async fn purge(
        &self,
        before: DateTime<Utc>,
        event_type: Option<&str>,
    ) -> Result<u64, StoreError> {
        let mut total = 0;
        loop {
            let mut tx = self.pool.begin().await?;
            let groups: Vec<i64> = sqlx::query_scalar(
                "DELETE FROM events WHERE id IN (SELECT id FROM events \
                 WHERE ts < $1 AND ($2::text IS NULL OR event_type = $2) ORDER BY ts LIMIT $3) \
                 RETURNING gid",
            )
            .bind(before)
            .bind(event_type)
            .bind(PURGE_BATCH as i64)
            .fetch_all(&mut *tx)
            .await?;
            let n = groups.len();
            total += n as u64;
            Self::recompute_groups(&mut tx, groups).await?;
            tx.commit().await?;
            if n < PURGE_BATCH {
                return Ok(total);
            }
        }
    }

    async fn purge_count(
        &self,
        before: DateTime<Utc>,
        event_type: Option<&str>,
    ) -> Result<u64, StoreError> {
        let n: i64 = sqlx::query_scalar(
            "SELECT count(*) FROM events WHERE ts < $1 AND ($2::text IS NULL OR event_type = $2)",
        )
        .bind(before)
        .bind(event_type)
        .fetch_one(&self.pool)
        .await?;
        Ok(n.max(0) as u64)
    }
}
