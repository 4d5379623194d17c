//! The connection pool behind a store, for the store traits written once for every backend
//! (users, sessions, tokens): their methods run the same statements on whichever pool it is,
//! since `$n` placeholders work in SQLite too; only how a time is bound differs.
//!
//! The module is private: [`HasSqlPool`] is a supertrait nobody outside can name or
//! implement (the traits built on it are implemented by this crate's backends only).

/// A backend's connection pool.
pub enum SqlPool<'a> {
    /// An SQLite database's.
    #[cfg(feature = "sqlite")]
    Sqlite(&'a sqlx::SqlitePool),
    /// A PostgreSQL database's.
    #[cfg(feature = "postgres")]
    Postgres(&'a sqlx::PgPool),
}

/// A store whose data is in an SQL database reached through a pool.
pub trait HasSqlPool: Send + Sync + 'static {
    /// The store's pool.
    fn sql_pool(&self) -> SqlPool<'_>;
}

/// Evaluates `body` once for the store's backend: with `pool` bound to its pool and `time`
/// to the function turning a `DateTime<Utc>` into its time parameter (microseconds since the
/// epoch in SQLite, `TIMESTAMPTZ` in PostgreSQL). The same text is compiled for each
/// backend, so it may use whatever both pools and both row types offer. (`|pool| body` when
/// no time is bound.)
macro_rules! on_pool {
    ($store:expr, |$pool:ident| $body:expr) => {
        $crate::store::pool::on_pool!($store, |$pool, _time| $body)
    };
    ($store:expr, |$pool:ident, $time:ident| $body:expr) => {
        match $crate::store::pool::HasSqlPool::sql_pool($store) {
            #[cfg(feature = "sqlite")]
            $crate::store::pool::SqlPool::Sqlite($pool) => {
                let $time = $crate::store::row::time_to_micros;
                $body
            }
            #[cfg(feature = "postgres")]
            $crate::store::pool::SqlPool::Postgres($pool) => {
                let $time = std::convert::identity::<chrono::DateTime<chrono::Utc>>;
                $body
            }
        }
    };
}
pub(crate) use on_pool;

/// Marks a session or a token as seen: runs `sql`, an `UPDATE` whose `$1` is the time seen
/// (as the backend binds it) and `$2` the token hash of the row. Best effort: the request
/// that looked the session or token up is a read, and must not fail because this write
/// cannot be made (a full disk, a read-only database); the failure is logged.
pub(crate) async fn mark_seen<DB, T>(
    pool: &sqlx::Pool<DB>,
    sql: &'static str,
    seen: T,
    token_hash: &str,
) where
    DB: sqlx::Database<Arguments: sqlx::IntoArguments<DB>>,
    for<'c> &'c mut DB::Connection: sqlx::Executor<'c, Database = DB>,
    for<'q> T: sqlx::Encode<'q, DB> + sqlx::Type<DB> + Send,
    for<'q> &'q str: sqlx::Encode<'q, DB> + sqlx::Type<DB>,
{
    let written = sqlx::query(sql)
        .bind(seen)
        .bind(token_hash)
        .execute(pool)
        .await;
    if let Err(e) = written {
        let e = crate::error::StoreError::from(e);
        tracing::warn!(error = %e, "cannot record when a session or token was last used");
    }
}

/// Connection options with sqlx's slow-statement report lowered from WARN to DEBUG: the
/// statements that take long here are expected to (an import's `ANALYZE`, upkeep, a bounded
/// scan), and a warning on every import taught users to ignore warnings.
/// `EVENTLOG_LOG=sqlx=debug` shows them.
pub(crate) fn quiet_slow_statements<O: sqlx::ConnectOptions>(options: O) -> O {
    options.log_slow_statements(log::LevelFilter::Debug, std::time::Duration::from_secs(1))
}
