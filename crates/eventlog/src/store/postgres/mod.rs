//! The PostgreSQL backend: for production, and for many servers writing to one log.
//!
//! A batch is one transaction with one `INSERT … SELECT FROM UNNEST(arrays)` statement for the
//! events (one round trip and one cached plan whatever the batch size) and one upsert each for
//! the group summaries. `COPY` cannot say `ON CONFLICT`, so it needs a staging table and an
//! `INSERT … SELECT` after it: measured slower at 1,000 events per batch and about even at
//! 5,000 (`cargo bench -p eventlog --bench pg_insert`), so UNNEST it is.
//!
//! This file connects; `write` holds the insert and delete paths, `read` the SQL of filters
//! and the row mapping, `contract` the store contract ([`crate::store::Store`]) built from them.

use std::str::FromStr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use sqlx::postgres::{PgConnectOptions, PgPool, PgPoolOptions};

use crate::error::StoreError;
use crate::store::ConnectOptions;

mod citus;
mod contract;
mod coverage;
mod data_keys;
mod follow;
mod outbox;
mod partition;
mod read;
mod search_plan;
mod write;

pub use partition::{CarryOver, Partition, PartitionInterval, UnknownInterval};
use read::push_filter;
pub use search_plan::SearchPlan;

// Users, sessions and API tokens: the same statements on both backends, on this pool.
impl crate::store::pool::HasSqlPool for PostgresStore {
    fn sql_pool(&self) -> crate::store::pool::SqlPool<'_> {
        crate::store::pool::SqlPool::Postgres(&self.pool)
    }
}

/// Connections per process: enough for the writer, the web handlers and a live tail at once,
/// small enough that several servers stay far below PostgreSQL's default 100 connections.
const MAX_CONNECTIONS: u32 = 10;

/// Batches worth writing at once (a bulk import): concurrent transactions compute their
/// events' index entries (the word index above all) on separate server processes, and take
/// the rows they share only at the end. Two keep both cores of a small server busy; each
/// holds a pooled connection, well within [`MAX_CONNECTIONS`].
const WRITE_CONCURRENCY: usize = 2;

/// How often a process checks that partitions exist ahead: they are made months ahead, so
/// the check can be rare.
const UPKEEP_EVERY: Duration = Duration::from_secs(600);

/// How long a process waits before looking for uuid claims to sweep again after finding
/// none (another server's purge is noticed within this time).
const SWEEP_IDLE: Duration = Duration::from_secs(5);

/// Events in a PostgreSQL database.
#[derive(Debug, Clone)]
pub struct PostgresStore {
    pool: PgPool,
    /// When partition upkeep last ran in this process (`WriteStore::maintain`).
    upkeep: Arc<Mutex<Option<Instant>>>,
    /// When the claims sweep last found nothing to do in this process (`WriteStore::maintain`
    /// then skips it for [`SWEEP_IDLE`]; a purge here clears it).
    claims_idle: Arc<Mutex<Option<Instant>>>,
    /// The search index's most common words (read from the statistics now and then), so a
    /// search leaves a word found in most events out of the index lookup.
    word_shares: Arc<Mutex<search_plan::WordShares>>,
    /// Which time ranges the partitions cover (`None` until read), so that an insert creates
    /// the partitions its events need first.
    coverage: Arc<Mutex<Option<coverage::Coverage>>>,
    /// Whether the database is a Citus coordinator's (its tables distributed over workers:
    /// see `citus`).
    citus: bool,
}

impl PostgresStore {
    /// Connects to `postgres://USER[:PASSWORD]@HOST[:PORT]/DB` with the default
    /// [`ConnectOptions`]. Does not migrate; [`crate::store::open`] does.
    pub async fn connect(url: &str) -> Result<Self, StoreError> {
        Self::connect_with(url, ConnectOptions::default()).await
    }

    /// Connects with pool timeouts of the caller's choosing. Does not migrate.
    pub async fn connect_with(url: &str, connect: ConnectOptions) -> Result<Self, StoreError> {
        // The store's statements read or write a bounded number of rows (a page, a plan's
        // few thousand matches, a batch). JIT compilation only pays off over millions of rows,
        // but the planner estimates a search over a dozen partitions past its threshold: it
        // took 512 ms of a 525 ms plan statement at 10M events. Parallel workers cost
        // 10-25 ms to start, more than such a statement's work, and under load they only
        // compete for the same cores (a rare word's plan: 43 ms with two workers, 1.5 ms
        // without).
        let mut settings = vec![
            ("jit", "off".to_owned()),
            ("max_parallel_workers_per_gather", "0".to_owned()),
            // Notices such as "relation _sqlx_migrations already exists, skipping" (every
            // migration run) are not for users; sqlx would log them at info.
            ("client_min_messages", "warning".to_owned()),
        ];
        if let Some(limit) = connect.statement_timeout {
            // Enforced by the server: a runaway query cannot hold a connection (and the
            // request waiting on it) longer than this.
            settings.push(("statement_timeout", format!("{}", limit.as_millis())));
        }
        let options = PgConnectOptions::from_str(url)?
            .application_name("eventlog")
            .options(settings);
        let options = crate::store::pool::quiet_slow_statements(options);
        let pool = PgPoolOptions::new()
            .max_connections(MAX_CONNECTIONS)
            // Callers get an error they can retry on (or show as "database unavailable")
            // quickly, instead of every one of them waiting while the server is down.
            .acquire_timeout(connect.acquire_timeout)
            .connect_with(options)
            .await?;
        let citus = citus::is_citus(&pool).await?;
        Ok(PostgresStore {
            pool,
            upkeep: Arc::default(),
            claims_idle: Arc::default(),
            word_shares: Arc::default(),
            coverage: Arc::default(),
            citus,
        })
    }

    /// Whether the claims sweep should look for work now.
    fn claims_due(&self) -> bool {
        let last = self.claims_idle.lock().unwrap_or_else(|e| e.into_inner());
        !last.is_some_and(|t| t.elapsed() < SWEEP_IDLE)
    }

    /// Records whether the claims sweep found work (if not, it rests for [`SWEEP_IDLE`]).
    fn claims_found(&self, found: bool) {
        let mut last = self.claims_idle.lock().unwrap_or_else(|e| e.into_inner());
        *last = (!found).then(Instant::now);
    }

    /// Whether partition upkeep is due (at most every [`UPKEEP_EVERY`]); marks it done.
    fn upkeep_due(&self) -> bool {
        let mut last = self.upkeep.lock().unwrap_or_else(|e| e.into_inner());
        if last.is_some_and(|t| t.elapsed() < UPKEEP_EVERY) {
            return false;
        }
        *last = Some(Instant::now());
        true
    }

    /// The number a group gets when it is first stored: the first 8 bytes of the SHA-256 of
    /// its name, as a big-endian signed integer (groups stored before numbers were derived
    /// from names keep theirs). For tools that load events in bulk (`COPY`) beside the store.
    pub fn group_number(group: &str) -> i64 {
        write::group_number(group)
    }

    /// Whether the database is a Citus coordinator's: its events and group tables are
    /// distributed over workers (see `docs/scaling.md`).
    pub fn is_citus(&self) -> bool {
        self.citus
    }

    /// The connection pool, for the users, sessions and tokens tables kept beside the events.
    pub fn pool(&self) -> &PgPool {
        &self.pool
    }
}
