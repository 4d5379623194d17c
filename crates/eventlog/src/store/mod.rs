// Over 500 lines on purpose: the `Store` trait is the one contract of both backends.
//! Storage: one [`Store`] trait, one implementation per backend, chosen once from the URL.
//!
//! Handlers and the writer see only `Arc<dyn Store>`. Each backend keeps its own versioned
//! migrations (`migrations/sqlite`, `migrations/postgres`), applied by [`open`].

use std::sync::Arc;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::error::StoreError;
use crate::event::{Event, NewEvent};

mod cursor;
mod filter;
mod follow;
pub mod group_commit;
mod group_delta;
pub(crate) mod kind;
#[cfg(any(feature = "sqlite", feature = "postgres"))]
mod migrations;
pub mod outbox;
mod periods;
mod pool;
#[cfg(feature = "postgres")]
pub mod postgres;
mod row;
#[cfg(any(feature = "sqlite", feature = "postgres"))]
mod shared_impl;
#[cfg(any(feature = "sqlite", feature = "postgres"))]
mod sql;
#[cfg(feature = "sqlite")]
pub mod sqlite;
pub mod tokens;
mod unicode61;
mod users;

pub use cursor::{Cursor, GroupCursor};
pub use filter::{DataMatch, EventFilter, GroupFilter, MAX_SEARCH_WORDS, Order, search_words};
pub use follow::FollowCursor;
pub use group_commit::GroupCommit;
pub use kind::BackendKind;
pub use outbox::{OutboxStatus, OutboxStore};
pub use tokens::{TokenError, TokenInfo, TokenScope, TokenStore, VerifiedToken};
pub use users::{Role, Session, User, UserStore};

/// Everything a backend stores: events, admin users and sessions, API tokens, the mail outbox.
/// `Arc<dyn Backend>` upcasts to `Arc<dyn Store>` (or the other parts) where only one is needed.
pub trait Backend: Store + UserStore + TokenStore + OutboxStore {}

impl<T: Store + UserStore + TokenStore + OutboxStore> Backend for T {}

/// How many rows a purge deletes per transaction, so it never holds a large lock for long.
pub const PURGE_BATCH: usize = 5_000;

/// What became of one event handed to [`Store::insert_batch`].
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
    /// ([`Store::maintain`]) deletes the claims of dropped partitions; until then, sending
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

/// What [`Store::migrate`] did.
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

/// The storage backend interface.
#[async_trait]
pub trait Store: Send + Sync + 'static {
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

    /// Background upkeep kept off the insert path, at most `budget` rows of work: on SQLite,
    /// truncating the WAL once writes have stopped for a moment; on PostgreSQL, creating
    /// partitions ahead and deleting, one bounded step per call, the uuid claims of dropped
    /// partitions. Returns the rows handled
    /// (0: nothing pending).
    /// Safe to call from several processes at once.
    async fn maintain(&self, _budget: usize) -> Result<usize, StoreError> {
        Ok(0)
    }

    /// Leaves the database tidy and closes the connections: on SQLite, the WAL is
    /// checkpointed and truncated. Called once nothing more will be written.
    async fn close(&self) {}

    /// Stores events in one transaction. An event whose uuid is already stored (or appears
    /// earlier in the batch) is not written again; its existing id is returned. The result is
    /// in input order.
    async fn insert_batch(&self, events: &[NewEvent]) -> Result<Vec<Inserted>, StoreError>;

    /// Stores events as [`Store::insert_batch`] does, but queues no mail for them: imported
    /// events (an export loaded back, a django-eventlog database) were already notified
    /// where they were first recorded, and a re-import must not mail anyone again.
    async fn import_batch(&self, events: &[NewEvent]) -> Result<Vec<Inserted>, StoreError>;

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

    /// The chart's counts of a filter that is not by type and time only (see
    /// [`EventFilter::by_type_and_time`]): events per (minute, type) of the newest `matches`
    /// events matching `filter`, found along the time index. A search for a frequent word
    /// (its plan found thousands of matches) is tested row by row, so it counts only the
    /// matches among the newest `events` events the rest of the filter selects: counting
    /// the newest 10,000 matches of a word in 3% of the events would test 330,000 rows.
    async fn histogram_newest(
        &self,
        filter: &EventFilter,
        matches: usize,
        events: usize,
    ) -> Result<NewestCounts, StoreError>;

    /// A page of events ([`Store::list`] of `filter`) and the chart's counts
    /// ([`Store::histogram_newest`] of `newest`), as the admin's list shows a filter that is
    /// not by type and time. One call so that a backend can plan a search once for both
    /// reads when both filters search the same text (on PostgreSQL, planning a search reads
    /// up to 5,000 of its matches); the results are those of the two calls.
    async fn list_with_newest(
        &self,
        filter: &EventFilter,
        order: Order,
        after: Option<&Cursor>,
        limit: usize,
        newest: &NewestRequest<'_>,
    ) -> Result<(Page<Event, Cursor>, NewestCounts), StoreError> {
        let listed = self.list(filter, order, after, limit).await?;
        let counts = self
            .histogram_newest(newest.filter, newest.matches, newest.events)
            .await?;
        Ok((listed, counts))
    }

    /// Deletes events by id; returns how many existed.
    async fn delete(&self, ids: &[i64]) -> Result<u64, StoreError>;

    /// Deletes events older than `before` (optionally of one type) in batches of
    /// [`PURGE_BATCH`] rows, one transaction each. Returns the number deleted.
    async fn purge(
        &self,
        before: DateTime<Utc>,
        event_type: Option<&str>,
    ) -> Result<u64, StoreError>;

    /// How many events [`Store::purge`] would delete.
    async fn purge_count(
        &self,
        before: DateTime<Utc>,
        event_type: Option<&str>,
    ) -> Result<u64, StoreError>;
}

/// The arguments of [`Store::histogram_newest`], for [`Store::list_with_newest`].
#[derive(Debug, Clone, Copy)]
pub struct NewestRequest<'a> {
    /// The events counted.
    pub filter: &'a EventFilter,
    /// The most matches counted (the newest).
    pub matches: usize,
    /// A frequent search: the newest events tested.
    pub events: usize,
}

/// What [`Store::histogram_newest`] counted.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct NewestCounts {
    /// Events per (minute, type), keyed by the minute's start, in time order.
    pub rows: Vec<(DateTime<Utc>, String, i64)>,
    /// How many matches were counted.
    pub total: u64,
    /// The time of the oldest and of the newest match counted (`None`: no match).
    pub range: Option<(DateTime<Utc>, DateTime<Utc>)>,
    /// How far back the count is complete.
    pub counted: Counted,
}

/// How far back [`Store::histogram_newest`] counted.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Counted {
    /// Every match.
    #[default]
    All,
    /// The newest `matches`: there may be older ones.
    NewestMatches,
    /// A frequent search: the matches among the newest `events` events from this time on;
    /// at least `at_least` events match in all.
    Since {
        /// Where the events tested start.
        from: DateTime<Utc>,
        /// How many events match at least (the search plan counted them).
        at_least: u64,
    },
}

impl NewestCounts {
    /// Counts from rows of (minute, type, events, oldest and newest time among them),
    /// `bound` the most matches that were read.
    pub(crate) fn of(rows: Vec<CountedMinute>, bound: usize) -> Self {
        let total: i64 = rows.iter().map(|r| r.2).sum();
        let oldest = rows.iter().map(|r| r.3).min();
        let newest = rows.iter().map(|r| r.4).max();
        NewestCounts {
            total: total.max(0) as u64,
            range: oldest.zip(newest),
            counted: if total >= bound as i64 {
                Counted::NewestMatches
            } else {
                Counted::All
            },
            rows: rows
                .into_iter()
                .map(|(t, ty, n, _, _)| (t, ty, n))
                .collect(),
        }
    }

    /// Marks the counts as those of a frequent search among the events from `from` on (no
    /// `from`: every event was tested).
    pub(crate) fn among_events_from(mut self, from: Option<DateTime<Utc>>) -> Self {
        if let Some(from) = from {
            self.counted = Counted::Since {
                from,
                at_least: filter::FREQUENT_MATCHES.max(0) as u64,
            };
        }
        self
    }
}

/// A row of [`Store::histogram_newest`]'s query: (minute, type, events, oldest, newest).
pub(crate) type CountedMinute = (DateTime<Utc>, String, i64, DateTime<Utc>, DateTime<Utc>);

/// How a store connects: pool timeouts. [`open`] uses the defaults.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct ConnectOptions {
    /// How long an operation waits for a pooled connection (or for a new connection to be
    /// made) before it fails with a transient error. Default 2 s: an unreachable database
    /// is reported fast instead of holding every caller.
    pub acquire_timeout: std::time::Duration,
    /// PostgreSQL: the server cancels statements running longer than this
    /// (`statement_timeout`, not applied to migrations). `None` (the default): no limit,
    /// as long exports and imports need.
    pub statement_timeout: Option<std::time::Duration>,
}

impl Default for ConnectOptions {
    fn default() -> Self {
        ConnectOptions {
            acquire_timeout: std::time::Duration::from_secs(2),
            statement_timeout: None,
        }
    }
}

impl ConnectOptions {
    /// Options with this acquire timeout and statement timeout.
    pub fn new(
        acquire_timeout: std::time::Duration,
        statement_timeout: Option<std::time::Duration>,
    ) -> Self {
        ConnectOptions {
            acquire_timeout,
            statement_timeout,
        }
    }
}

/// Opens the store a URL names and applies its migrations: `sqlite://PATH` (created if missing,
/// WAL mode), `sqlite::memory:`, `postgres://…` or `postgresql://…`.
pub async fn open(url: &str) -> Result<Arc<dyn Backend>, StoreError> {
    open_with(url, ConnectOptions::default()).await
}

/// Like [`open`], with pool timeouts of the caller's choosing.
pub async fn open_with(url: &str, options: ConnectOptions) -> Result<Arc<dyn Backend>, StoreError> {
    let store = connect_with(url, options).await?;
    store.migrate().await?;
    Ok(store)
}

/// Connects to the store a URL names without migrating it (then call [`Store::migrate`],
/// which reports what it applied).
pub async fn connect_with(
    url: &str,
    options: ConnectOptions,
) -> Result<Arc<dyn Backend>, StoreError> {
    match BackendKind::from_url(url) {
        Some(kind) => connect_kind(kind, url, options).await,
        None => Err(StoreError::UnsupportedUrl { url: redact(url) }),
    }
}

/// Opens a read-only replica of a PostgreSQL store (a hot standby that streams from the
/// primary): no migrations are applied, since the replica follows the primary's schema.
/// Only `postgres://` URLs: a SQLite file has no replicas.
pub async fn open_replica(
    url: &str,
    options: ConnectOptions,
) -> Result<Arc<dyn Backend>, StoreError> {
    match BackendKind::from_url(url) {
        Some(BackendKind::Postgres) => connect_kind(BackendKind::Postgres, url, options).await,
        _ => Err(StoreError::UnsupportedUrl { url: redact(url) }),
    }
}

/// Connects to a store of this kind: [`StoreError::BackendDisabled`] when this build was made
/// without the backend's cargo feature.
async fn connect_kind(
    kind: BackendKind,
    url: &str,
    options: ConnectOptions,
) -> Result<Arc<dyn Backend>, StoreError> {
    match kind {
        #[cfg(feature = "sqlite")]
        BackendKind::Sqlite => Ok(Arc::new(
            sqlite::SqliteStore::connect_with(url, options).await?,
        )),
        #[cfg(feature = "postgres")]
        BackendKind::Postgres => Ok(Arc::new(
            postgres::PostgresStore::connect_with(url, options).await?,
        )),
        #[allow(unreachable_patterns)]
        disabled => {
            let _ = (url, options);
            Err(StoreError::BackendDisabled(disabled))
        }
    }
}

/// The URL without its password, for messages: `postgres://u:***@h/db` when there is a
/// password, the URL unchanged when there is none.
pub fn redact(url: &str) -> String {
    match url::Url::parse(url) {
        Ok(mut parsed) if parsed.password().is_some() => {
            if parsed.set_password(Some("***")).is_ok() {
                parsed.to_string()
            } else {
                "<database URL>".to_owned()
            }
        }
        Ok(_) => url.to_owned(),
        // Not a URL a parser accepts: show only what precedes a possible password.
        Err(_) => match (url.find("://"), url.rfind('@')) {
            (Some(s), Some(at)) if at > s => {
                let userinfo = &url[s + 3..at];
                match userinfo.split_once(':') {
                    Some((user, _)) => format!("{}://{}:***{}", &url[..s], user, &url[at..]),
                    None => url.to_owned(),
                }
            }
            _ => url.to_owned(),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn unknown_schemes_are_a_clear_error() {
        let err = match open("mysql://root:secret@localhost/db").await {
            Err(e) => e,
            Ok(_) => panic!("mysql must not open"),
        };
        let msg = err.to_string();
        assert!(msg.contains("unsupported database URL"), "{msg}");
        assert!(msg.contains("sqlite://PATH"), "{msg}");
        assert!(!msg.contains("secret"), "password leaked: {msg}");
    }

    #[test]
    fn redact_hides_only_a_real_password() {
        assert_eq!(
            redact("postgres://eventlog:s3cr%40t@db.example:5432/events"),
            "postgres://eventlog:***@db.example:5432/events"
        );
        // No password: nothing to hide, and no `:***` that reads like one.
        assert_eq!(
            redact("postgres://eventlog@localhost/events"),
            "postgres://eventlog@localhost/events"
        );
        assert_eq!(redact("sqlite:///var/lib/ev.db"), "sqlite:///var/lib/ev.db");
        assert_eq!(redact("sqlite://ev.db"), "sqlite://ev.db");
        assert!(!redact("postgres://u:pa@ss@h/db").contains("pa"));
    }
}
