//! The outbox: one row per (event, recipient), written in the event's own transaction. A row
//! is a mail (kind `mail`, the recipient an address) or a notification (kind `notify`, the
//! recipient a `[[notify.channel]]` name; see `store::notify_outbox`).
//!
//! Why a table and not an in-memory queue: a mail must survive a dead SMTP server and a
//! restarted process, and must not be sent twice. So [`WriteStore::insert_batch`] writes an outbox
//! row for every newly stored event that has a `send_mail` recipient, in the same transaction
//! as the event: the mail exists exactly when the event does. A sender (`eventlog::mail`) then
//! *claims* due rows, sends them and records the outcome. A claim is a lease
//! (`lease_until`): rows claimed by one process are invisible to the others until the lease
//! runs out, so several servers on one database never send the same row at the same time
//! (PostgreSQL adds `FOR UPDATE SKIP LOCKED` so they do not even wait for each other), and a
//! process that dies mid-send only delays its rows until their lease expires.
//!
//! [`WriteStore::insert_batch`]: super::WriteStore::insert_batch

#[cfg(any(feature = "sqlite", feature = "postgres"))]
pub(crate) use super::outbox_sql::OutboxSql;
use super::outbox_sql::ROWS_PER_INSERT;
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde::Serialize;
use uuid::Uuid;

pub use super::notify_outbox::{NoticeRecord, NotifyRoute, OutboxNotice};
use crate::error::StoreError;

/// Finished rows (sent or given up) are deleted this long after they finished; the counts of
/// [`OutboxStatus`] cover this period.
pub const KEEP_FINISHED: chrono::TimeDelta = chrono::TimeDelta::days(7);

/// One mail to send, as claimed from the outbox.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutboxMail {
    /// The outbox row.
    pub id: i64,
    /// The event to mail (its stored id).
    pub event_id: i64,
    /// The event's uuid: with the recipient, it names the mail (its Message-ID).
    pub event_uuid: Uuid,
    /// Where to send it.
    pub recipient: String,
    /// Attempts so far, this one included.
    pub attempts: u32,
    /// When the row was written (the event's commit).
    pub created_at: DateTime<Utc>,
}

/// What became of one attempt to send an [`OutboxMail`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Delivery {
    /// The SMTP server accepted the mail.
    Sent,
    /// It failed for a reason that may pass (server down, timeout): try again at `at`.
    Retry {
        /// When the next attempt is due.
        at: DateTime<Utc>,
        /// Why this attempt failed.
        error: String,
    },
    /// It failed for good (bad recipient, permanent SMTP refusal, retry period over).
    GiveUp {
        /// Why.
        error: String,
    },
}

/// What the outbox holds, for `eventlog mail status`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct OutboxStatus {
    /// Mails waiting to be sent (first attempt or a retry).
    pub queued: u64,
    /// Mails sent (within the last [`KEEP_FINISHED`]).
    pub sent: u64,
    /// Failed attempts that were followed by another attempt.
    pub retried: u64,
    /// Mails given up (within the last [`KEEP_FINISHED`]).
    pub given_up: u64,
    /// When the oldest queued mail was written.
    pub oldest_queued: Option<DateTime<Utc>>,
}

/// The outbox queries of a backend.
#[async_trait]
pub trait OutboxStore: Send + Sync {
    /// Claims up to `limit` due rows (queued, `next_attempt_at <= now`, no live lease) until
    /// `lease_until`, counting an attempt on each. Oldest due first.
    async fn claim_mail(
        &self,
        now: DateTime<Utc>,
        lease_until: DateTime<Utc>,
        limit: usize,
    ) -> Result<Vec<OutboxMail>, StoreError>;

    /// Records the outcome of an attempt on row `id` (a mail or a notification) and releases
    /// its lease.
    async fn finish_mail(
        &self,
        id: i64,
        now: DateTime<Utc>,
        outcome: &Delivery,
    ) -> Result<(), StoreError>;

    /// Counts by state.
    async fn outbox_status(&self) -> Result<OutboxStatus, StoreError>;

    /// Deletes finished rows that finished before `before`; returns how many.
    async fn prune_outbox(&self, before: DateTime<Utc>) -> Result<u64, StoreError>;

    /// Replaces the notification routes: from now on, each committed event gets a row for
    /// every channel whose route takes its type. Queued rows of channels no route names any
    /// more are given up.
    async fn set_notify_routes(&self, routes: &[NotifyRoute]) -> Result<(), StoreError>;

    /// Claims up to `limit` due notification rows of `channel` until `lease_until`, oldest
    /// due first.
    async fn claim_notify(
        &self,
        channel: &str,
        now: DateTime<Utc>,
        lease_until: DateTime<Utc>,
        limit: usize,
    ) -> Result<Vec<OutboxNotice>, StoreError>;

    /// Claims up to `limit` more queued rows of `channel` and `group`, due or not: the rest
    /// of a digest.
    async fn claim_digest(
        &self,
        channel: &str,
        group: &str,
        now: DateTime<Utc>,
        lease_until: DateTime<Utc>,
        limit: usize,
    ) -> Result<Vec<OutboxNotice>, StoreError>;

    /// Releases claimed row `id`, due again at `at`, without counting the attempt.
    async fn defer_notify(&self, id: i64, at: DateTime<Utc>) -> Result<(), StoreError>;

    /// The newest `limit` notification rows, of `channel` or of every channel.
    async fn recent_notices(
        &self,
        channel: Option<&str>,
        limit: usize,
    ) -> Result<Vec<NoticeRecord>, StoreError>;
}

/// Outbox state names as stored.
pub(crate) const QUEUED: &str = "queued";
pub(crate) const SENT: &str = "sent";
pub(crate) const GIVEN_UP: &str = "given_up";

/// The wait before attempt `attempts + 1` after `attempts` failed ones: 1 s, doubling each
/// time, at most `max`. Mails and notifications back off alike.
pub fn retry_wait(attempts: u32, max: std::time::Duration) -> std::time::Duration {
    let doublings = attempts.saturating_sub(1).min(20);
    (std::time::Duration::from_secs(1) * 2u32.pow(doublings)).min(max)
}

/// Mails a committed batch queued: its new events that have a recipient (for the metrics).
pub(crate) fn mails_queued(events: &[crate::event::NewEvent], results: &[super::Inserted]) -> u64 {
    events
        .iter()
        .zip(results)
        .filter(|(e, r)| r.created && e.send_mail.is_some())
        .count() as u64
}

/// Sums per-state rows `(state, count, failures, oldest)` into an [`OutboxStatus`].
pub(crate) fn status_from_rows(
    rows: impl IntoIterator<Item = (String, i64, i64, Option<DateTime<Utc>>)>,
) -> OutboxStatus {
    let mut status = OutboxStatus::default();
    let mut failures = 0u64;
    for (state, count, fails, oldest) in rows {
        let count = count.max(0) as u64;
        failures += fails.max(0) as u64;
        match state.as_str() {
            QUEUED => {
                status.queued = count;
                status.oldest_queued = oldest;
            }
            SENT => status.sent = count,
            _ => status.given_up += count,
        }
    }
    // The last failure of a mail given up was not followed by another attempt.
    status.retried = failures.saturating_sub(status.given_up);
    status
}

/// Writes the outbox rows of a batch inside its transaction: a mail for each newly created
/// event that has a recipient, and a notification for each channel whose route takes its type.
#[cfg(any(feature = "sqlite", feature = "postgres"))]
pub(crate) async fn enqueue<DB: OutboxSql>(
    conn: &mut DB::Connection,
    events: &[crate::event::NewEvent],
    results: &[super::Inserted],
) -> Result<(), StoreError>
where
    for<'c> &'c mut DB::Connection: sqlx::Executor<'c, Database = DB>,
    for<'q> i64: sqlx::Encode<'q, DB> + sqlx::Type<DB>,
    for<'q> Uuid: sqlx::Encode<'q, DB> + sqlx::Type<DB>,
    for<'q> String: sqlx::Encode<'q, DB> + sqlx::Type<DB>,
{
    enqueue_mail::<DB>(conn, events, results).await?;
    super::notify_outbox::enqueue_notify::<DB>(conn, events, results).await
}

#[cfg(any(feature = "sqlite", feature = "postgres"))]
async fn enqueue_mail<DB: OutboxSql>(
    conn: &mut DB::Connection,
    events: &[crate::event::NewEvent],
    results: &[super::Inserted],
) -> Result<(), StoreError>
where
    for<'c> &'c mut DB::Connection: sqlx::Executor<'c, Database = DB>,
    for<'q> i64: sqlx::Encode<'q, DB> + sqlx::Type<DB>,
    for<'q> Uuid: sqlx::Encode<'q, DB> + sqlx::Type<DB>,
    for<'q> String: sqlx::Encode<'q, DB> + sqlx::Type<DB>,
{
    let rows: Vec<(i64, &crate::event::NewEvent, &str)> = events
        .iter()
        .zip(results)
        .filter(|(_, r)| r.created)
        .filter_map(|(e, r)| Some((r.id, e, e.send_mail.as_deref()?)))
        .collect();
    if rows.is_empty() {
        return Ok(());
    }
    let now = DB::time(Utc::now());
    for chunk in rows.chunks(ROWS_PER_INSERT) {
        let mut qb = sqlx::QueryBuilder::<DB>::new(
            "INSERT INTO mail_outbox \
             (event_id, event_uuid, recipient, created_at, next_attempt_at) ",
        );
        qb.push_values(chunk, |mut row, (id, e, to)| {
            row.push_bind(*id)
                .push_bind(e.uuid)
                .push_bind(to.to_string())
                .push_bind(now)
                .push_bind(now);
        });
        qb.push(" ON CONFLICT (event_uuid, kind, recipient) DO NOTHING");
        qb.build().execute(&mut *conn).await?;
    }
    Ok(())
}

/// [`OutboxStore::claim_mail`] on `pool`.
#[cfg(any(feature = "sqlite", feature = "postgres"))]
pub(crate) async fn claim_mail<DB: OutboxSql>(
    pool: &sqlx::Pool<DB>,
    now: DateTime<Utc>,
    lease_until: DateTime<Utc>,
    limit: usize,
) -> Result<Vec<OutboxMail>, StoreError>
where
    for<'c> &'c mut DB::Connection: sqlx::Executor<'c, Database = DB>,
    for<'q> i64: sqlx::Encode<'q, DB> + sqlx::Type<DB>,
{
    use super::row::StoredRow as _;
    let sql = format!(
        "UPDATE mail_outbox SET lease_until = $1, attempts = attempts + 1 \
         WHERE id IN (SELECT id FROM mail_outbox \
             WHERE kind = 'mail' AND state = 'queued' AND next_attempt_at <= $2 \
               AND (lease_until IS NULL OR lease_until <= $2) \
             ORDER BY next_attempt_at, id LIMIT $3{}) RETURNING id, event_id, event_uuid, \
         recipient, CAST(attempts AS BIGINT) AS attempts, created_at",
        DB::CLAIM_LOCK
    );
    let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(DB::time(lease_until))
        .bind(DB::time(now))
        .bind(super::sql::limit_param(limit))
        .fetch_all(pool)
        .await?;
    let mut mails = rows
        .iter()
        .map(|r| {
            Ok(OutboxMail {
                id: r.int("id")?,
                event_id: r.int("event_id")?,
                event_uuid: r.uuid("event_uuid")?,
                recipient: r.text("recipient")?,
                attempts: r.int("attempts")?.clamp(0, i64::from(u32::MAX)) as u32,
                created_at: r.time("created_at")?,
            })
        })
        .collect::<Result<Vec<_>, StoreError>>()?;
    // RETURNING gives no order guarantee.
    mails.sort_by_key(|m| m.id);
    Ok(mails)
}

/// [`OutboxStore::finish_mail`] on `pool`.
#[cfg(any(feature = "sqlite", feature = "postgres"))]
pub(crate) async fn finish_mail<DB: OutboxSql>(
    pool: &sqlx::Pool<DB>,
    id: i64,
    now: DateTime<Utc>,
    outcome: &Delivery,
) -> Result<(), StoreError>
where
    for<'c> &'c mut DB::Connection: sqlx::Executor<'c, Database = DB>,
    for<'q> i64: sqlx::Encode<'q, DB> + sqlx::Type<DB>,
    for<'q> &'q str: sqlx::Encode<'q, DB> + sqlx::Type<DB>,
    for<'q> String: sqlx::Encode<'q, DB> + sqlx::Type<DB>,
{
    let query = match outcome {
        Delivery::Sent => sqlx::query(
            "UPDATE mail_outbox SET state = $1, finished_at = $2, \
             lease_until = NULL, last_error = NULL WHERE id = $3",
        )
        .bind(SENT)
        .bind(DB::time(now))
        .bind(id),
        Delivery::Retry { at, error } => sqlx::query(
            "UPDATE mail_outbox SET state = $1, next_attempt_at = $2, \
             failures = failures + 1, lease_until = NULL, last_error = $3 \
             WHERE id = $4",
        )
        .bind(QUEUED)
        .bind(DB::time(*at))
        .bind(error.clone())
        .bind(id),
        Delivery::GiveUp { error } => sqlx::query(
            "UPDATE mail_outbox SET state = $1, finished_at = $2, \
             failures = failures + 1, lease_until = NULL, last_error = $3 \
             WHERE id = $4",
        )
        .bind(GIVEN_UP)
        .bind(DB::time(now))
        .bind(error.clone())
        .bind(id),
    };
    query.execute(pool).await?;
    Ok(())
}

/// [`OutboxStore::outbox_status`] on `pool`.
#[cfg(any(feature = "sqlite", feature = "postgres"))]
pub(crate) async fn outbox_status<DB: OutboxSql>(
    pool: &sqlx::Pool<DB>,
) -> Result<OutboxStatus, StoreError>
where
    for<'c> &'c mut DB::Connection: sqlx::Executor<'c, Database = DB>,
{
    use super::row::StoredRow as _;
    let rows = sqlx::query(
        "SELECT state, COUNT(*) AS n, \
         CAST(COALESCE(SUM(failures), 0) AS BIGINT) AS failures, \
         MIN(created_at) AS oldest FROM mail_outbox WHERE kind = 'mail' GROUP BY state",
    )
    .fetch_all(pool)
    .await?;
    let rows = rows
        .iter()
        .map(|r| {
            Ok((
                r.text("state")?,
                r.int("n")?,
                r.int("failures")?,
                r.opt_time("oldest")?,
            ))
        })
        .collect::<Result<Vec<_>, StoreError>>()?;
    Ok(status_from_rows(rows))
}

/// [`OutboxStore::prune_outbox`] on `pool`.
#[cfg(any(feature = "sqlite", feature = "postgres"))]
pub(crate) async fn prune_outbox<DB: OutboxSql>(
    pool: &sqlx::Pool<DB>,
    before: DateTime<Utc>,
) -> Result<u64, StoreError>
where
    for<'c> &'c mut DB::Connection: sqlx::Executor<'c, Database = DB>,
{
    let done = sqlx::query(
        "DELETE FROM mail_outbox WHERE id IN (SELECT id FROM mail_outbox \
         WHERE state <> 'queued' AND finished_at < $1 LIMIT 5000)",
    )
    .bind(DB::time(before))
    .execute(pool)
    .await?;
    Ok(DB::rows_affected(&done))
}
