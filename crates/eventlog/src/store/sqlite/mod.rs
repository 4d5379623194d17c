//! The SQLite backend: one file in WAL mode, the embedded default.
//!
//! This file opens the database and runs write transactions (and keeps the WAL small);
//! `write` holds the insert and delete paths, `read` the SQL of filters and the row
//! mapping, `contract` the store contract ([`crate::store::Store`]) built from them.

use std::str::FromStr;
use std::time::Duration;

use sqlx::Sqlite;
use sqlx::pool::PoolConnection;
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous,
};

use crate::error::StoreError;
use crate::event::NewEvent;
pub(crate) use crate::store::row::{micros_to_time, time_to_micros};
use crate::store::summary_changes::Mail;
use crate::store::{ConnectOptions, Inserted};

mod contract;
mod data_keys;
mod follow;
mod integrity;
mod outbox;
mod read;
mod window;
mod write;

use read::push_filter;

// Users, sessions and API tokens: the same statements on both backends, on this pool.
impl crate::store::pool::HasSqlPool for SqliteStore {
    fn sql_pool(&self) -> crate::store::pool::SqlPool<'_> {
        crate::store::pool::SqlPool::Sqlite(&self.pool)
    }
}

/// Rows per multi-row INSERT: 8 parameters each stays below SQLite's 32,766 limit, and
/// a fixed size keeps the prepared statement cached.
const ROWS_PER_INSERT: usize = 3_000;

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
        let options = crate::store::pool::quiet_slow_statements(options)
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
            .pragma("cache_size", "-16384")
            // Checkpoint after 8,192 pages (32 MiB) of WAL, not SQLite's 1,000: the index
            // pages a run of batches keeps changing are copied into the database once per
            // checkpoint, so fewer checkpoints write less (import of 1M events 10–15% faster).
            // [`WAL_LIMIT`] still bounds the WAL while readers hold old snapshots.
            .pragma("wal_autocheckpoint", "8192");
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

    /// Stores a batch in one write transaction; with [`Mail::Queue`] its mails are queued in
    /// the same transaction. An empty batch touches nothing: no transaction, no lock.
    async fn insert_with(
        &self,
        events: &[NewEvent],
        mail: Mail,
    ) -> Result<Vec<Inserted>, StoreError> {
        if events.is_empty() {
            return Ok(Vec::new());
        }
        let mut conn = self.begin_write().await?;
        let work = Self::insert_in(&mut conn, events, mail).await;
        self.finish(conn, work).await
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
}
