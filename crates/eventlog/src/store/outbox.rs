//! The mail outbox: one row per (event, recipient), written in the event's own transaction.
//!
//! Why a table and not an in-memory queue: a mail must survive a dead SMTP server and a
//! restarted process, and must not be sent twice. So [`Store::insert_batch`] writes an outbox
//! row for every newly stored event that has a `send_mail` recipient, in the same transaction
//! as the event: the mail exists exactly when the event does. A sender (`eventlog::mail`) then
//! *claims* due rows, sends them and records the outcome. A claim is a lease
//! (`lease_until`): rows claimed by one process are invisible to the others until the lease
//! runs out, so several servers on one database never send the same row at the same time
//! (PostgreSQL adds `FOR UPDATE SKIP LOCKED` so they do not even wait for each other), and a
//! process that dies mid-send only delays its rows until their lease expires.
//!
//! [`Store::insert_batch`]: super::Store::insert_batch

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde::Serialize;
use uuid::Uuid;

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

    /// Records the outcome of an attempt on row `id` and releases its lease.
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
}

/// Outbox state names as stored.
pub(crate) const QUEUED: &str = "queued";
pub(crate) const SENT: &str = "sent";
pub(crate) const GIVEN_UP: &str = "given_up";

/// Rows per outbox insert statement (5 bound values each: well under SQLite's 32,766).
pub(crate) const ROWS_PER_INSERT: usize = 1_000;

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
