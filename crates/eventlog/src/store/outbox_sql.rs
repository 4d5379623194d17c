//! What the rows of both outboxes (mail and notifications) share: their kind, how many go in
//! one insert, and each backend's SQL dialect for them.

use chrono::{DateTime, Utc};

/// The kind of an outbox row that is a notification through a `[[notify.channel]]` (mails
/// are of kind `mail`, the column's default).
pub(crate) const KIND_NOTIFY: &str = "notify";

/// Rows per outbox insert statement (5 bound values each: well under SQLite's 32,766).
pub(crate) const ROWS_PER_INSERT: usize = 1_000;

/// One backend's outbox SQL: how a time is bound, and what ends a claim's row selection:
/// PostgreSQL's `FOR UPDATE SKIP LOCKED` (several servers claiming at once each get different
/// rows, none waits for another's transaction), nothing on SQLite (its claim runs under the
/// database's single write lock). The statements themselves are the same on both (`$n`
/// placeholders work in SQLite too): the functions below.
#[cfg(any(feature = "sqlite", feature = "postgres"))]
pub(crate) trait OutboxSql:
    sqlx::Database<Arguments: sqlx::IntoArguments<Self>, Row: super::row::StoredRow>
{
    /// A time as the backend's columns hold it.
    type Time: for<'q> sqlx::Encode<'q, Self> + sqlx::Type<Self> + Send + Copy;
    /// `time` as a parameter.
    fn time(time: DateTime<Utc>) -> Self::Time;
    /// What ends the claim's row selection.
    const CLAIM_LOCK: &'static str;
    /// The rows a statement changed.
    fn rows_affected(done: &Self::QueryResult) -> u64;
}
