//! The SQLite backend: one file in WAL mode, the embedded default.

use std::collections::HashMap;
use std::str::FromStr;
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use sqlx::pool::PoolConnection;
use sqlx::sqlite::SqliteConnection;
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteRow,
    SqliteSynchronous,
};
use sqlx::{QueryBuilder, Row, Sqlite};
use uuid::Uuid;

use crate::error::StoreError;
use crate::event::{Event, NewEvent};
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

/// Rows per multi-row INSERT: 8 parameters each stays below SQLite's 32,766 limit, and
/// a fixed size keeps the prepared statement cached.
const ROWS_PER_INSERT: usize = 3_000;

const EVENT_COLUMNS: &str = "id, uuid, event_type, (SELECT group_id FROM event_groups g WHERE g.gid = events.gid) AS group_id, \
     ts, message, data, initiator, send_mail";

/// Events in a SQLite database file.
#[derive(Debug, Clone)]
pub struct SqliteStore {
    pool: SqlitePool,
    /// The `-wal` file next to the database (`None` in memory).
    wal: Option<std::path::PathBuf>,
}

/// Size of the WAL file past which a write checkpoints and truncates it.
pub const WAL_LIMIT: u64 = 64 * 1024 * 1024;

/// How long without writes before upkeep truncates the WAL.
pub const IDLE_CHECKPOINT: Duration = Duration::from_secs(1);

fn options_filename(url: &str) -> std::path::PathBuf {
    SqliteConnectOptions::from_str(url)
        .map(|o| o.get_filename().to_owned())
        .unwrap_or_default()
}

/// Creates the database file readable and writable by its owner only (0600), whatever the
/// umask: it holds password and token hashes. SQLite gives the `-wal` and `-shm` files the
/// mode of the database file. An existing file is left as it is.
fn create_private(path: &std::path::Path) -> Result<(), StoreError> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        match std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(path)
        {
            Ok(_) => {}
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
            Err(e) => return Err(sqlx::Error::Io(e).into()),
        }
    }
    #[cfg(not(unix))]
    let _ = path;
    Ok(())
}

impl SqliteStore {
    /// Opens (creating if missing) the database at `sqlite://PATH` in WAL mode, with the
    /// default [`ConnectOptions`]. Does not migrate; [`crate::store::open`] does.
    pub async fn connect(url: &str) -> Result<Self, StoreError> {
        Self::connect_with(url, ConnectOptions::default()).await
    }

    /// Opens the database with pool timeouts of the caller's choosing. Does not migrate.
    pub async fn connect_with(url: &str, connect: ConnectOptions) -> Result<Self, StoreError> {
        let in_memory = url.contains(":memory:") || url.contains("mode=memory");
        let options = SqliteConnectOptions::from_str(url)?;
        if !in_memory {
            create_private(options.get_filename())?;
        }
        let options = options
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            // NORMAL in WAL mode: a commit survives a crash of the application; the last
            // commits may be lost on power failure. The usual production setting for WAL.
            .synchronous(SqliteSynchronous::Normal)
            .busy_timeout(Duration::from_secs(30))
            .pragma("temp_store", "memory")
            // Page cache per connection, sized on purpose: 16 MiB (negative = KiB) × at
            // most 8 connections bounds it at 128 MiB, enough for the hot index pages of
            // millions of events without letting memory grow with load.
            .pragma("cache_size", "-16384");
        let pool = SqlitePoolOptions::new()
            // An in-memory database exists per connection: share exactly one.
            .max_connections(if in_memory { 1 } else { 8 })
            .acquire_timeout(connect.acquire_timeout)
            .connect_with(options)
            .await?;
        let wal = (!in_memory).then(|| {
            let mut p = options_filename(url).into_os_string();
            p.push("-wal");
            std::path::PathBuf::from(p)
        });
        Ok(SqliteStore { pool, wal })
    }

    /// Starts a write transaction on a connection of its own. IMMEDIATE takes the write lock
    /// up front, so a busy database waits in the busy handler instead of failing on a
    /// read-to-write upgrade. End it with [`Self::finish`].
    async fn begin_write(&self) -> Result<PoolConnection<Sqlite>, StoreError> {
        let mut conn = self.pool.acquire().await?;
        sqlx::query("BEGIN IMMEDIATE").execute(&mut *conn).await?;
        Ok(conn)
    }

    /// Commits when `work` succeeded, otherwise rolls back. SQLite ends some transactions by
    /// itself on an error (a full disk does); sqlx's own transaction guard then lost track and
    /// refused every later `begin` on that connection ("non-zero transaction depth"). Plain
    /// BEGIN/COMMIT/ROLLBACK statements keep no such state: the next request starts clean.
    async fn finish<T>(
        &self,
        mut conn: PoolConnection<Sqlite>,
        work: Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        let outcome = match work {
            Ok(value) => match sqlx::query("COMMIT").execute(&mut *conn).await {
                Ok(_) => Ok(value),
                Err(e) => Err(e.into()),
            },
            Err(e) => Err(e),
        };
        if outcome.is_err() {
            // Either the rollback ends the transaction, or SQLite already ended it ("no
            // transaction is active"): both leave the connection clean. Anything else (the
            // connection itself broke) and it is closed instead of reused.
            match sqlx::query("ROLLBACK").execute(&mut *conn).await {
                Ok(_) => {}
                Err(e) if e.to_string().contains("no transaction is active") => {}
                Err(_) => conn.close_on_drop(),
            }
        } else {
            drop(conn);
            self.checkpoint_if_large().await;
        }
        outcome
    }

    /// Checkpoints the WAL into the database and truncates it to zero bytes. Readers still
    /// using old pages make it a partial checkpoint; the next call finishes it.
    pub async fn checkpoint(&self) -> Result<(), StoreError> {
        sqlx::query("PRAGMA wal_checkpoint(TRUNCATE)")
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// Truncates the WAL once nothing has been written for [`IDLE_CHECKPOINT`]: an idle
    /// database is one file again.
    async fn checkpoint_if_idle(&self) -> Result<(), StoreError> {
        let Some(wal) = &self.wal else { return Ok(()) };
        let Ok(meta) = std::fs::metadata(wal) else {
            return Ok(());
        };
        let quiet = meta
            .modified()
            .ok()
            .and_then(|m| m.elapsed().ok())
            .is_some_and(|e| e >= IDLE_CHECKPOINT);
        if meta.len() > 0 && quiet {
            self.checkpoint().await?;
        }
        Ok(())
    }

    /// The WAL grows past SQLite's automatic checkpoints while readers hold old snapshots
    /// (large batches under a steady read load): truncate it once it passes [`WAL_LIMIT`].
    async fn checkpoint_if_large(&self) {
        let Some(wal) = &self.wal else { return };
        let size = std::fs::metadata(wal).map(|m| m.len()).unwrap_or(0);
        if size > WAL_LIMIT
            && let Err(e) = self.checkpoint().await
        {
            tracing::warn!(error = %e, "eventlog: WAL checkpoint failed");
        }
    }

    /// The connection pool, for the users and sessions tables kept beside the events.
    pub fn pool(&self) -> &SqlitePool {
        &self.pool
    }

    /// Rebuilds the summaries of these groups from their events (after deletes, or when a
    /// batch turned out to hold duplicates); drops groups left without events.
    async fn recompute_groups(
        conn: &mut SqliteConnection,
        mut gids: Vec<i64>,
    ) -> Result<(), StoreError> {
        if gids.is_empty() {
            return Ok(());
        }
        gids.sort_unstable();
        gids.dedup();
        let gids = serde_json::Value::from(gids).to_string();
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
    async fn upsert_groups(
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
    async fn resolve_conflicts(
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
    async fn insert_in(
        conn: &mut SqliteConnection,
        events: &[NewEvent],
    ) -> Result<Vec<Inserted>, StoreError> {
        let gids = Self::upsert_groups(conn, events).await?;
        let results = Self::insert_events(conn, events, &gids).await?;
        // The mails of the new events, in the same transaction (the durable mail outbox).
        outbox::enqueue(conn, events, &results).await?;
        // Duplicates are rare (retries, idempotent API calls): the summaries counted them as
        // new, so rebuild those groups from their stored events.
        let recount: Vec<i64> = events
            .iter()
            .zip(&results)
            .filter(|(_, r)| !r.created)
            .filter_map(|(e, _)| gids.get(e.group.as_str()).copied())
            .collect();
        Self::recompute_groups(conn, recount).await?;
        Ok(results)
    }

    /// Deletes events by id and rebuilds their groups' summaries, inside a transaction.
    async fn delete_in(conn: &mut SqliteConnection, ids: &[i64]) -> Result<u64, StoreError> {
        let mut groups = Vec::new();
        for chunk in ids.chunks(ROWS_PER_INSERT) {
            let mut qb = QueryBuilder::<Sqlite>::new("DELETE FROM events WHERE id IN (");
            let mut sep = qb.separated(", ");
            for id in chunk {
                sep.push_bind(*id);
            }
            qb.push(") RETURNING gid");
            let deleted: Vec<i64> = qb.build_query_scalar().fetch_all(&mut *conn).await?;
            groups.extend(deleted);
        }
        let n = groups.len() as u64;
        Self::recompute_groups(conn, groups).await?;
        Ok(n)
    }

    /// Deletes one batch of at most [`PURGE_BATCH`] old events, inside a transaction.
    async fn purge_batch(
        conn: &mut SqliteConnection,
        before: DateTime<Utc>,
        event_type: Option<&str>,
    ) -> Result<usize, StoreError> {
        let groups: Vec<i64> = sqlx::query_scalar(
            "DELETE FROM events WHERE id IN (SELECT id FROM events \
             WHERE ts < ?1 AND (?2 IS NULL OR event_type = ?2) ORDER BY ts LIMIT ?3) \
             RETURNING gid",
        )
        .bind(before.timestamp_micros())
        .bind(event_type)
        .bind(PURGE_BATCH as i64)
        .fetch_all(&mut *conn)
        .await?;
        let n = groups.len();
        Self::recompute_groups(conn, groups).await?;
        Ok(n)
    }

    async fn insert_events(
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

pub(crate) fn micros_to_time(micros: i64) -> Result<DateTime<Utc>, StoreError> {
    DateTime::from_timestamp_micros(micros)
        .ok_or_else(|| StoreError::Corrupt(format!("timestamp {micros} out of range")))
}

fn row_to_event(row: &SqliteRow) -> Result<Event, StoreError> {
    let data: Option<String> = row.try_get("data")?;
    let data = match data {
        Some(text) => Some(
            serde_json::from_str(&text)
                .map_err(|e| StoreError::Corrupt(format!("data is not JSON: {e}")))?,
        ),
        None => None,
    };
    Ok(Event {
        id: row.try_get("id")?,
        uuid: row.try_get("uuid")?,
        event_type: row.try_get("event_type")?,
        group: row.try_get("group_id")?,
        timestamp: micros_to_time(row.try_get("ts")?)?,
        message: row.try_get("message")?,
        data,
        initiator: row.try_get("initiator")?,
        send_mail: row.try_get("send_mail")?,
    })
}

/// `$."a"."b"`: a JSON path for SQLite's json functions, keys quoted so that dots and spaces
/// in keys are literal.
fn json_path(path: &[String]) -> String {
    let mut p = String::from("$");
    for key in path {
        p.push_str(".\"");
        p.push_str(&key.replace('"', ""));
        p.push('"');
    }
    p
}

fn push_filter(qb: &mut QueryBuilder<Sqlite>, f: &EventFilter) {
    qb.push(" WHERE 1 = 1");
    if !f.types.is_empty() {
        qb.push(" AND event_type IN (");
        let mut sep = qb.separated(", ");
        for t in &f.types {
            sep.push_bind(t.clone());
        }
        qb.push(")");
    }
    if let Some(since) = f.since {
        qb.push(" AND ts >= ").push_bind(since.timestamp_micros());
    }
    if let Some(until) = f.until {
        qb.push(" AND ts < ").push_bind(until.timestamp_micros());
    }
    if let Some(text) = f.text.as_deref().filter(|t| !t.is_empty()) {
        // Word prefixes in the FTS5 indexes (kept by triggers in every insert transaction):
        // the events whose message or initiator has them, and the events of the groups whose
        // id has them. One id list (a UNION, not an OR) so the lookups stay index-driven.
        match fts_query(text) {
            Some(query) => {
                qb.push(" AND id IN (SELECT rowid FROM events_search WHERE events_search MATCH ")
                    .push_bind(query.clone())
                    .push(
                        " UNION ALL SELECT e.id FROM events e WHERE e.gid IN \
                         (SELECT rowid FROM groups_search WHERE groups_search MATCH ",
                    )
                    .push_bind(query)
                    .push("))");
            }
            // No letters or digits: no word to find.
            None => {
                qb.push(" AND 0");
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
        let path = json_path(&m.path);
        // json_extract turns true/false into 1/0; compare them as JSON spells them.
        qb.push(" AND (CASE json_type(data, ")
            .push_bind(path.clone())
            .push(
                ") WHEN 'true' THEN 'true' WHEN 'false' THEN 'false' ELSE CAST(json_extract(data, ",
            )
            .push_bind(path)
            .push(") AS TEXT) END) = ")
            .push_bind(m.value.clone());
    }
}

/// The FTS5 query for a search text: every word as a prefix (`"word"*`), all required.
fn fts_query(text: &str) -> Option<String> {
    let words = search_words(text);
    if words.is_empty() {
        return None;
    }
    // Words hold only letters and digits: nothing to escape inside the quotes.
    let terms: Vec<String> = words.iter().map(|w| format!("\"{w}\"*")).collect();
    Some(terms.join(" AND "))
}

fn split_types(types: Option<String>) -> Vec<String> {
    types
        .map(|t| {
            t.split(',')
                .filter(|s| !s.is_empty())
                .map(str::to_owned)
                .collect()
        })
        .unwrap_or_default()
}

fn row_to_group(row: &SqliteRow) -> Result<GroupSummary, StoreError> {
    Ok(GroupSummary {
        group: row.try_get("group_id")?,
        first_at: micros_to_time(row.try_get("first_at")?)?,
        last_at: micros_to_time(row.try_get("last_at")?)?,
        event_count: row.try_get("event_count")?,
        types: split_types(row.try_get("types")?),
    })
}

const GROUP_COLUMNS: &str = "g.group_id, g.first_at, g.last_at, g.event_count, \
     (SELECT group_concat(t.event_type, ',') FROM event_group_types t WHERE t.gid = g.gid) AS types";

#[async_trait]
impl Store for SqliteStore {
    async fn maintain(&self, _budget: usize) -> Result<usize, StoreError> {
        // Search is indexed in the insert transaction: the only upkeep is the WAL.
        self.checkpoint_if_idle().await?;
        Ok(0)
    }

    async fn close(&self) {
        if let Err(e) = self.checkpoint().await {
            tracing::warn!(error = %e, "eventlog: WAL checkpoint at close failed");
        }
        self.pool.close().await;
    }

    fn backend(&self) -> crate::store::BackendKind {
        crate::store::BackendKind::Sqlite
    }

    fn pool_status(&self) -> crate::store::PoolStatus {
        crate::store::PoolStatus::of(&self.pool)
    }

    async fn migrate(&self) -> Result<crate::store::Migrated, StoreError> {
        let mut conn = self.pool.acquire().await?;
        crate::store::run_migrations(&sqlx::migrate!("migrations/sqlite"), &mut *conn).await
    }

    async fn insert_batch(&self, events: &[NewEvent]) -> Result<Vec<Inserted>, StoreError> {
        if events.is_empty() {
            return Ok(Vec::new());
        }
        let mut conn = self.begin_write().await?;
        let work = Self::insert_in(&mut conn, events).await;
        self.finish(conn, work).await
    }

    async fn get(&self, id: i64) -> Result<Option<Event>, StoreError> {
        let sql = format!("SELECT {EVENT_COLUMNS} FROM events WHERE id = ?");
        let row = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(id)
            .fetch_optional(&self.pool)
            .await?;
        row.as_ref().map(row_to_event).transpose()
    }

    async fn get_by_uuid(&self, uuid: Uuid) -> Result<Option<Event>, StoreError> {
        let sql = format!("SELECT {EVENT_COLUMNS} FROM events WHERE uuid = ?");
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
        let mut qb = QueryBuilder::<Sqlite>::new(format!("SELECT {EVENT_COLUMNS} FROM events"));
        push_filter(&mut qb, filter);
        // A range on ts (which the indexes serve) plus a tie-break on id.
        let (cmp_eq, cmp, dir) = match order {
            Order::Desc => ("<=", "<", "DESC"),
            Order::Asc => (">=", ">", "ASC"),
        };
        if let Some(c) = after {
            let micros = c.timestamp.timestamp_micros();
            qb.push(format!(" AND ts {cmp_eq} "))
                .push_bind(micros)
                .push(format!(" AND (ts {cmp} "))
                .push_bind(micros)
                .push(format!(" OR id {cmp} "))
                .push_bind(c.id)
                .push(")");
        }
        qb.push(format!(" ORDER BY ts {dir}, id {dir} LIMIT "))
            .push_bind(limit as i64 + 1);
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
             WHERE gid = (SELECT gid FROM event_groups WHERE group_id = ?) ORDER BY ts, id LIMIT ?"
        );
        let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(group)
            .bind(limit as i64)
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
        let mut qb = QueryBuilder::<Sqlite>::new(format!(
            "SELECT {GROUP_COLUMNS} FROM event_groups g WHERE 1 = 1"
        ));
        if !filter.types.is_empty() {
            qb.push(
                " AND EXISTS (SELECT 1 FROM event_group_types t \
                 WHERE t.gid = g.gid AND t.event_type IN (",
            );
            let mut sep = qb.separated(", ");
            for t in &filter.types {
                sep.push_bind(t.clone());
            }
            qb.push("))");
        }
        if let Some(since) = filter.since {
            qb.push(" AND g.last_at >= ")
                .push_bind(since.timestamp_micros());
        }
        if let Some(until) = filter.until {
            qb.push(" AND g.first_at < ")
                .push_bind(until.timestamp_micros());
        }
        if let Some(text) = filter.text.as_deref().filter(|t| !t.is_empty()) {
            qb.push(" AND g.group_id LIKE ")
                .push_bind(like_pattern(text))
                .push(" ESCAPE '\\'");
        }
        if let Some(c) = after {
            let micros = c.last_at.timestamp_micros();
            qb.push(" AND g.last_at <= ")
                .push_bind(micros)
                .push(" AND (g.last_at < ")
                .push_bind(micros)
                .push(" OR g.group_id < ")
                .push_bind(c.group.clone())
                .push(")");
        }
        qb.push(" ORDER BY g.last_at DESC, g.group_id DESC LIMIT ")
            .push_bind(limit as i64 + 1);
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
        let sql = format!("SELECT {GROUP_COLUMNS} FROM event_groups g WHERE g.group_id = ?");
        let row = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(group)
            .fetch_optional(&self.pool)
            .await?;
        row.as_ref().map(row_to_group).transpose()
    }

    async fn count(&self, filter: &EventFilter) -> Result<u64, StoreError> {
        let mut qb = QueryBuilder::<Sqlite>::new("SELECT count(*) FROM events");
        push_filter(&mut qb, filter);
        let n: i64 = qb.build_query_scalar().fetch_one(&self.pool).await?;
        Ok(n as u64)
    }

    async fn count_at_most(&self, filter: &EventFilter, bound: u64) -> Result<u64, StoreError> {
        let limit = i64::try_from(bound.saturating_add(1)).unwrap_or(i64::MAX);
        let mut qb = QueryBuilder::<Sqlite>::new("SELECT count(*) FROM (SELECT 1 FROM events");
        push_filter(&mut qb, filter);
        qb.push(" LIMIT ").push_bind(limit).push(") AS matching");
        let n: i64 = qb.build_query_scalar().fetch_one(&self.pool).await?;
        Ok(n as u64)
    }

    async fn histogram(
        &self,
        filter: &EventFilter,
        bucket_secs: i64,
    ) -> Result<Vec<(DateTime<Utc>, String, i64)>, StoreError> {
        let width = bucket_secs.max(1) * 1_000_000;
        let mut qb = QueryBuilder::<Sqlite>::new(format!(
            "SELECT (ts / {width}) * {width} AS bucket, event_type, count(*) AS n FROM events"
        ));
        push_filter(&mut qb, filter);
        qb.push(" GROUP BY bucket, event_type ORDER BY bucket");
        let rows = qb.build().fetch_all(&self.pool).await?;
        rows.iter()
            .map(|r| {
                Ok((
                    micros_to_time(r.try_get("bucket")?)?,
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
        let mut conn = self.begin_write().await?;
        let work = Self::delete_in(&mut conn, ids).await;
        self.finish(conn, work).await
    }

    async fn purge(
        &self,
        before: DateTime<Utc>,
        event_type: Option<&str>,
    ) -> Result<u64, StoreError> {
        let mut total = 0;
        loop {
            let mut conn = self.begin_write().await?;
            let work = Self::purge_batch(&mut conn, before, event_type).await;
            let n = self.finish(conn, work).await?;
            total += n as u64;
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
            "SELECT count(*) FROM events WHERE ts < ?1 AND (?2 IS NULL OR event_type = ?2)",
        )
        .bind(before.timestamp_micros())
        .bind(event_type)
        .fetch_one(&self.pool)
        .await?;
        Ok(n as u64)
    }
}
