//! Storage: a contract split by capability, one implementation per backend, chosen once
//! from the URL.
//!
//! - [`WriteStore`]: insert, import, delete, purge, migrate, maintain;
//! - [`ReadStore`]: get, list, groups, count, histogram, follow;
//! - [`ListingQuery`]: the admin list's page and chart counts, read together;
//! - [`Store`]: all three; [`Backend`]: a store with its users, tokens and mail outbox.
//!
//! Each part asks only for what it does: the batching writer holds a `dyn WriteStore`, a read
//! replica ([`open_replica`]) is a `dyn ListingQuery` and cannot be written to, and
//! `Arc<dyn Backend>` upcasts to any of them. Each backend keeps its own versioned
//! migrations (`migrations/sqlite`, `migrations/postgres`), applied by [`open`].

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::error::StoreError;
use crate::event::{Event, NewEvent};

pub(crate) mod backend_kind;
mod cursor;
mod data_keys;
mod filter;
mod follow;
pub mod group_commit;
mod integrity;
mod listing;
#[cfg(any(feature = "sqlite", feature = "postgres"))]
mod migrations;
#[cfg(any(feature = "sqlite", feature = "postgres"))]
mod notify_outbox;
mod open;
pub mod outbox;
mod outbox_sql;
mod period_counts;
mod pool;
#[cfg(feature = "postgres")]
pub mod postgres;
mod row;
pub mod scan;
#[cfg(any(feature = "sqlite", feature = "postgres"))]
mod sql;
#[cfg(feature = "sqlite")]
pub mod sqlite;
mod summary_changes;
pub mod tokens;
mod unicode61;
mod users;

pub use backend_kind::BackendKind;
pub use cursor::{Cursor, GroupCursor};
pub use data_keys::{DataKey, DataKeyError, DataKeysApplied};
pub use filter::{DataMatch, EventFilter, GroupFilter, MAX_SEARCH_WORDS, Order, search_words};
pub use follow::FollowCursor;
pub use group_commit::GroupCommit;
pub use integrity::{Integrity, MAX_PROBLEMS};
pub(crate) use listing::CountedMinute;
pub use listing::{Counted, ListingQuery, NewestCounts, NewestRequest};
pub use open::{ConnectOptions, connect_with, open, open_replica, open_with, redact};
pub use outbox::{OutboxStatus, OutboxStore};
pub use scan::{Bounded, Scan, ScanBudget, ScanStep};
pub use tokens::{TokenError, TokenInfo, TokenScope, TokenStore, VerifiedToken};
pub use users::{Role, Session, User, UserStore};

/// Every capability of a store of events: writing, reading and the admin list's reads.
/// `Arc<dyn Store>` upcasts to any one of them.
pub trait Store: WriteStore + ListingQuery {}

impl<T: WriteStore + ListingQuery> Store for T {}

/// Everything a backend stores: events, admin users and sessions, API tokens, the mail outbox.
/// `Arc<dyn Backend>` upcasts to `Arc<dyn Store>` (or the other parts) where only one is needed.
pub trait Backend: Store + UserStore + TokenStore + OutboxStore {}

impl<T: Store + UserStore + TokenStore + OutboxStore> Backend for T {}

/// How many rows a purge deletes per transaction, so it never holds a large lock for long.
pub const PURGE_BATCH: usize = 5_000;

/// What became of one event handed to [`WriteStore::insert_batch`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Inserted {
    /// The event's id in the store.
    pub id: i64,
    /// `false` when an event with the same uuid was already stored (nothing was written).
    pub created: bool,
}

impl Inserted {
    /// The `id` of a repeat whose first copy is no longer stored: on PostgreSQL, an event
    /// purged with its time partition keeps its uuid claimed until upkeep
    /// ([`WriteStore::maintain`]) deletes the claims of dropped partitions; until then, sending
    /// the uuid again stores nothing and reports this id (real ids start at 1).
    pub const PURGED: i64 = 0;
}

/// A page of results and the cursor of the next page, if there is one.
#[derive(Debug, Clone, PartialEq)]
pub struct Page<T, C> {
    /// The items of this page.
    pub items: Vec<T>,
    /// Where the next page starts; `None` on the last page.
    pub next: Option<C>,
}

/// One group, summarised: the groups page of the admin.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GroupSummary {
    /// The group id.
    pub group: String,
    /// Time of its first event.
    pub first_at: DateTime<Utc>,
    /// Time of its last event.
    pub last_at: DateTime<Utc>,
    /// Number of events.
    pub event_count: i64,
    /// The distinct type names of its events (unordered); the status is the most severe.
    pub types: Vec<String>,
}

/// What [`WriteStore::migrate`] did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Migrated {
    /// The migrations this call applied, oldest first: version and description.
    pub applied: Vec<(i64, String)>,
    /// The newest migration the database has now.
    pub version: Option<i64>,
}

/// Runs `migrator` on `conn` and reports the migrations it applied (versions the database
/// did not have before).
#[cfg(any(feature = "sqlite", feature = "postgres"))]
pub(crate) async fn run_migrations<C: sqlx::migrate::Migrate>(
    migrator: &sqlx::migrate::Migrator,
    conn: &mut C,
) -> Result<Migrated, StoreError> {
    conn.ensure_migrations_table(&migrator.table_name).await?;
    let before: std::collections::HashSet<i64> = conn
        .list_applied_migrations(&migrator.table_name)
        .await?
        .into_iter()
        .map(|m| m.version)
        .collect();
    migrator.run_direct(None, conn, false).await?;
    let known = migrator
        .iter()
        .filter(|m| !m.migration_type.is_down_migration());
    Ok(Migrated {
        applied: known
            .clone()
            .filter(|m| !before.contains(&m.version))
            .map(|m| (m.version, m.description.to_string()))
            .collect(),
        version: known.map(|m| m.version).max(),
    })
}

/// Connections of a store's pool at one moment.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct PoolStatus {
    /// Connections open (in use or idle).
    pub open: u32,
    /// Open connections not in use.
    pub idle: u32,
    /// Most connections the pool opens.
    pub max: u32,
}

impl PoolStatus {
    #[cfg(any(feature = "sqlite", feature = "postgres"))]
    fn of<DB: sqlx::Database>(pool: &sqlx::Pool<DB>) -> Self {
        PoolStatus {
            open: pool.size(),
            idle: u32::try_from(pool.num_idle()).unwrap_or(u32::MAX),
            max: pool.options().get_max_connections(),
        }
    }

    /// Connections in use.
    pub fn in_use(&self) -> u32 {
        self.open.saturating_sub(self.idle)
    }

    /// Sets the pool gauges of [`crate::metrics`] to this status.
    pub fn record(&self) {
        ::metrics::gauge!(crate::metrics::POOL_CONNECTIONS, "state" => "in_use")
            .set(f64::from(self.in_use()));
        ::metrics::gauge!(crate::metrics::POOL_CONNECTIONS, "state" => "idle")
            .set(f64::from(self.idle));
        ::metrics::gauge!(crate::metrics::POOL_MAX_CONNECTIONS).set(f64::from(self.max));
    }
}

/// Writing events, and looking after the database they are written to.
#[async_trait]
pub trait WriteStore: Send + Sync + 'static {
    /// Which database this store keeps its data in.
    fn backend(&self) -> BackendKind;

    /// The connection pool right now (for metrics).
    fn pool_status(&self) -> PoolStatus {
        PoolStatus::default()
    }

    /// How many batches are worth writing at once, each in its own transaction (a bulk
    /// import keeps this many in flight): 1 where writers take turns anyway (SQLite's single
    /// write lock); more where concurrent transactions insert side by side (PostgreSQL).
    fn write_concurrency(&self) -> usize {
        1
    }

    /// Applies pending schema migrations; says which it applied.
    async fn migrate(&self) -> Result<Migrated, StoreError>;

    /// Makes the declared data keys the indexed ones: creates an index for each key of
    /// `declared` that has none and drops the index of every key no longer declared, so
    /// that a `data.KEY=VALUE` filter on a declared key is an index lookup. Run after
    /// [`WriteStore::migrate`]; says what it changed.
    async fn index_data_keys(&self, declared: &[DataKey]) -> Result<DataKeysApplied, StoreError>;

    /// Background upkeep kept off the insert path, at most `budget` rows of work: on SQLite,
    /// truncating the WAL once writes have stopped for a moment; on PostgreSQL, creating
    /// partitions ahead and deleting, one bounded step per call, the uuid claims of dropped
    /// partitions. Returns the rows handled
    /// (0: nothing pending).
    /// Safe to call from several processes at once.
    async fn maintain(&self, _budget: usize) -> Result<usize, StoreError> {
        Ok(0)
    }

    /// After a bulk load (an import): brings the query planner's statistics up to date, so
    /// that pages are fast at once rather than after the database's own autovacuum has come
    /// by. On PostgreSQL, `ANALYZE`; nothing to do on SQLite, whose planner needs none.
    async fn analyze(&self) -> Result<(), StoreError> {
        Ok(())
    }

    /// Looks for damage in the stored data (a disk fault, a file copied while written): on
    /// SQLite, its own `integrity_check` and the search indexes' integrity checks. Reads the
    /// whole database: for `eventlog check`, not for a running server.
    async fn check_integrity(&self) -> Result<Integrity, StoreError>;

    /// Leaves the database tidy and closes the connections: on SQLite, the WAL is
    /// checkpointed and truncated. Called once nothing more will be written.
    async fn close(&self) {}

    /// Stores events in one transaction. An event whose uuid is already stored (or appears
    /// earlier in the batch) is not written again; its existing id is returned. The result is
    /// in input order.
    async fn insert_batch(&self, events: &[NewEvent]) -> Result<Vec<Inserted>, StoreError>;

    /// Stores events as [`WriteStore::insert_batch`] does, but queues no mail for them:
    /// imported events (an export loaded back, a django-eventlog database) were already
    /// notified where they were first recorded, and a re-import must not mail anyone again.
    async fn import_batch(&self, events: &[NewEvent]) -> Result<Vec<Inserted>, StoreError>;

    /// Deletes events by id; returns how many existed.
    async fn delete(&self, ids: &[i64]) -> Result<u64, StoreError>;

    /// Deletes events older than `before` (optionally of one type) in batches of
    /// [`PURGE_BATCH`] rows, one transaction each. Returns the number deleted.
    async fn purge(
        &self,
        before: DateTime<Utc>,
        event_type: Option<&str>,
    ) -> Result<u64, StoreError>;

    /// How many events [`WriteStore::purge`] would delete.
    async fn purge_count(
        &self,
        before: DateTime<Utc>,
        event_type: Option<&str>,
    ) -> Result<u64, StoreError>;
}

/// Reading events and groups: what a read replica serves.
#[async_trait]
pub trait ReadStore: Send + Sync + 'static {
    /// One event by id.
    async fn get(&self, id: i64) -> Result<Option<Event>, StoreError>;

    /// One event by uuid.
    async fn get_by_uuid(&self, uuid: Uuid) -> Result<Option<Event>, StoreError>;

    /// A page of events matching `filter`, in `order`, starting after `after`. Keyset
    /// pagination on (timestamp, id): as fast on page 5,000 as on page 1, and no COUNT.
    async fn list(
        &self,
        filter: &EventFilter,
        order: Order,
        after: Option<&Cursor>,
        limit: usize,
    ) -> Result<Page<Event, Cursor>, StoreError>;

    /// Where following the log starts: after every event committed so far.
    async fn follow_start(&self) -> Result<FollowCursor, StoreError>;

    /// The live tail: events matching `filter` committed after `cursor`, at most `limit`, in
    /// id order, and the cursor to read on from. Successive calls return every committed
    /// event exactly once, whatever order concurrent transactions commit in. Fewer than
    /// `limit` events: there was nothing more to read.
    async fn follow(
        &self,
        filter: &EventFilter,
        cursor: &FollowCursor,
        limit: usize,
    ) -> Result<(Vec<Event>, FollowCursor), StoreError>;

    /// Every event of a group in time order (ties by id), at most `limit`.
    async fn group_events(&self, group: &str, limit: usize) -> Result<Vec<Event>, StoreError>;

    /// A page of groups, most recently active first.
    async fn groups(
        &self,
        filter: &GroupFilter,
        after: Option<&GroupCursor>,
        limit: usize,
    ) -> Result<Page<GroupSummary, GroupCursor>, StoreError>;

    /// One group's summary.
    async fn group_summary(&self, group: &str) -> Result<Option<GroupSummary>, StoreError>;

    /// Number of events matching `filter`. Exact, so it scans: not for page rendering.
    async fn count(&self, filter: &EventFilter) -> Result<u64, StoreError>;

    /// Number of events matching `filter`, counted no further than `bound + 1`: the exact
    /// number when it is at most `bound`, else `bound + 1` ("more than `bound`"). It reads at
    /// most `bound + 1` index entries, so a page can show it on every load of a huge table.
    async fn count_at_most(&self, filter: &EventFilter, bound: u64) -> Result<u64, StoreError>;

    /// Number of events per (time bucket, type) for the chart; `bucket_secs` wide buckets,
    /// keyed by bucket start.
    async fn histogram(
        &self,
        filter: &EventFilter,
        bucket_secs: i64,
    ) -> Result<Vec<(DateTime<Utc>, String, i64)>, StoreError>;
}
