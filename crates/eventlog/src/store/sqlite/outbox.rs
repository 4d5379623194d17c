//! The mail outbox in SQLite (see [`crate::store::outbox`]). A claim is one `UPDATE …
//! RETURNING` statement: SQLite runs it under the database's single write lock, so two
//! processes can never claim the same row.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use sqlx::{QueryBuilder, Row, Sqlite};

use super::{SqliteStore, micros_to_time};
use crate::error::StoreError;
use crate::event::NewEvent;
use crate::store::Inserted;
use crate::store::outbox::{
    Delivery, GIVEN_UP, OutboxMail, OutboxStatus, OutboxStore, QUEUED, ROWS_PER_INSERT, SENT,
    status_from_rows,
};

/// Writes the outbox rows of a batch inside its transaction: one per newly created event that
/// has a recipient.
pub(super) async fn enqueue(
    conn: &mut sqlx::SqliteConnection,
    events: &[NewEvent],
    results: &[Inserted],
) -> Result<(), StoreError> {
    let rows: Vec<(i64, &NewEvent, &str)> = events
        .iter()
        .zip(results)
        .filter(|(_, r)| r.created)
        .filter_map(|(e, r)| Some((r.id, e, e.send_mail.as_deref()?)))
        .collect();
    if rows.is_empty() {
        return Ok(());
    }
    let now = Utc::now().timestamp_micros();
    for chunk in rows.chunks(ROWS_PER_INSERT) {
        let mut qb = QueryBuilder::<Sqlite>::new(
            "INSERT INTO mail_outbox (event_id, event_uuid, recipient, created_at, next_attempt_at) ",
        );
        qb.push_values(chunk, |mut row, (id, e, to)| {
            row.push_bind(*id)
                .push_bind(e.uuid)
                .push_bind(to.to_string())
                .push_bind(now)
                .push_bind(now);
        });
        qb.push(" ON CONFLICT (event_uuid, recipient) DO NOTHING");
        qb.build().execute(&mut *conn).await?;
    }
    Ok(())
}

#[async_trait]
impl OutboxStore for SqliteStore {
    async fn claim_mail(
        &self,
        now: DateTime<Utc>,
        lease_until: DateTime<Utc>,
        limit: usize,
    ) -> Result<Vec<OutboxMail>, StoreError> {
        let now = now.timestamp_micros();
        let rows = sqlx::query(
            "UPDATE mail_outbox SET lease_until = ?, attempts = attempts + 1 \
             WHERE id IN (SELECT id FROM mail_outbox \
                 WHERE state = 'queued' AND next_attempt_at <= ? \
                   AND (lease_until IS NULL OR lease_until <= ?) \
                 ORDER BY next_attempt_at, id LIMIT ?) \
             RETURNING id, event_id, event_uuid, recipient, attempts, created_at",
        )
        .bind(lease_until.timestamp_micros())
        .bind(now)
        .bind(now)
        .bind(limit as i64)
        .fetch_all(self.pool())
        .await?;
        let mut mails = rows
            .iter()
            .map(|r| {
                Ok(OutboxMail {
                    id: r.try_get("id")?,
                    event_id: r.try_get("event_id")?,
                    event_uuid: r.try_get("event_uuid")?,
                    recipient: r.try_get("recipient")?,
                    attempts: r.try_get::<i64, _>("attempts")?.clamp(0, u32::MAX as i64) as u32,
                    created_at: micros_to_time(r.try_get("created_at")?)?,
                })
            })
            .collect::<Result<Vec<_>, StoreError>>()?;
        // RETURNING gives no order guarantee.
        mails.sort_by_key(|m| m.id);
        Ok(mails)
    }

    async fn finish_mail(
        &self,
        id: i64,
        now: DateTime<Utc>,
        outcome: &Delivery,
    ) -> Result<(), StoreError> {
        let now = now.timestamp_micros();
        let query = match outcome {
            Delivery::Sent => sqlx::query(
                "UPDATE mail_outbox SET state = ?, finished_at = ?, lease_until = NULL, \
                 last_error = NULL WHERE id = ?",
            )
            .bind(SENT)
            .bind(now)
            .bind(id),
            Delivery::Retry { at, error } => sqlx::query(
                "UPDATE mail_outbox SET state = ?, next_attempt_at = ?, failures = failures + 1, \
                 lease_until = NULL, last_error = ? WHERE id = ?",
            )
            .bind(QUEUED)
            .bind(at.timestamp_micros())
            .bind(error.clone())
            .bind(id),
            Delivery::GiveUp { error } => sqlx::query(
                "UPDATE mail_outbox SET state = ?, finished_at = ?, failures = failures + 1, \
                 lease_until = NULL, last_error = ? WHERE id = ?",
            )
            .bind(GIVEN_UP)
            .bind(now)
            .bind(error.clone())
            .bind(id),
        };
        query.execute(self.pool()).await?;
        Ok(())
    }

    async fn outbox_status(&self) -> Result<OutboxStatus, StoreError> {
        let rows = sqlx::query(
            "SELECT state, COUNT(*) AS n, COALESCE(SUM(failures), 0) AS failures, \
             MIN(created_at) AS oldest FROM mail_outbox GROUP BY state",
        )
        .fetch_all(self.pool())
        .await?;
        let rows = rows
            .iter()
            .map(|r| {
                let oldest: Option<i64> = r.try_get("oldest")?;
                Ok((
                    r.try_get("state")?,
                    r.try_get("n")?,
                    r.try_get("failures")?,
                    oldest.map(micros_to_time).transpose()?,
                ))
            })
            .collect::<Result<Vec<_>, StoreError>>()?;
        Ok(status_from_rows(rows))
    }

    async fn prune_outbox(&self, before: DateTime<Utc>) -> Result<u64, StoreError> {
        let done = sqlx::query(
            "DELETE FROM mail_outbox WHERE id IN (SELECT id FROM mail_outbox \
             WHERE state <> 'queued' AND finished_at < ? LIMIT 5000)",
        )
        .bind(before.timestamp_micros())
        .execute(self.pool())
        .await?;
        Ok(done.rows_affected())
    }
}
