//! Notifications in the outbox: rows of kind `notify`, one per (event, channel).
//!
//! Which channels an event goes to is decided in the event's own transaction, like its mail:
//! [`enqueue_notify`] reads the routes (`notify_routes`: channel, event type or `*`, digest
//! delay), which the process that sends notifications wrote from its `[notify]` configuration.
//! So an event notifies the same channels whether it came through [`crate::EventLog`], the
//! HTTP API or the CLI, and a crash after the commit loses no notification.
//!
//! An event's own `notify` list (from the library, the HTTP API, the CLI or a group's default)
//! replaces the routes by type: exactly those channels, none for an empty list.
//!
//! A row waits out its channel's digest window (`next_attempt_at` = commit + delay). The
//! sender claims due rows like mails, then gathers the other queued rows of the same channel
//! and group ([`claim_digest`]) so a burst becomes one message.

use chrono::{DateTime, TimeDelta, Utc};
use serde::Serialize;
use uuid::Uuid;

use super::outbox_sql::{KIND_NOTIFY, OutboxSql, ROWS_PER_INSERT};
use crate::error::StoreError;

/// Which event types a channel receives, and how long its rows wait for more of their group.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NotifyRoute {
    /// The channel's name.
    pub channel: String,
    /// An event type's name, or `*` for every type.
    pub event_type: String,
    /// The digest window: a row is first sent this long after its event's commit.
    pub delay: std::time::Duration,
}

/// One notification to send, as claimed from the outbox.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutboxNotice {
    /// The outbox row.
    pub id: i64,
    /// The event (its stored id).
    pub event_id: i64,
    /// The event's uuid (the idempotency key of a message about it).
    pub event_uuid: Uuid,
    /// The channel's name.
    pub channel: String,
    /// The event's group.
    pub group: String,
    /// Attempts so far, this one included.
    pub attempts: u32,
    /// When the row was written (the event's commit).
    pub created_at: DateTime<Utc>,
}

/// One notification as the admin lists it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct NoticeRecord {
    /// The outbox row.
    pub id: i64,
    /// The event's uuid.
    pub event_uuid: Uuid,
    /// The event (its stored id).
    pub event_id: i64,
    /// The channel's name.
    pub channel: String,
    /// `queued`, `sent` or `given_up`.
    pub state: String,
    /// Attempts so far.
    pub attempts: i64,
    /// Failed attempts.
    pub failures: i64,
    /// Why the last attempt failed.
    pub last_error: Option<String>,
    /// When the row was written.
    pub created_at: DateTime<Utc>,
    /// When it was sent or given up.
    pub finished_at: Option<DateTime<Utc>>,
}

const CLAIMED_COLUMNS: &str = "id, event_id, event_uuid, recipient, group_key, \
     CAST(attempts AS BIGINT) AS attempts, created_at";

fn notice(r: &impl super::row::StoredRow) -> Result<OutboxNotice, StoreError> {
    Ok(OutboxNotice {
        id: r.int("id")?,
        event_id: r.int("event_id")?,
        event_uuid: r.uuid("event_uuid")?,
        channel: r.text("recipient")?,
        group: r.opt_text("group_key")?.unwrap_or_default(),
        attempts: r.int("attempts")?.clamp(0, i64::from(u32::MAX)) as u32,
        created_at: r.time("created_at")?,
    })
}

/// Writes a notification row for each newly created event of the batch and each route that
/// takes its type, inside the batch's transaction.
pub(crate) async fn enqueue_notify<DB: OutboxSql>(
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
    use super::row::StoredRow as _;
    if !results.iter().any(|r| r.created) {
        // Every event was stored before: nothing to notify, and no need to read the routes.
        return Ok(());
    }
    // A handful of rows: one small read per batch, not per event.
    let routes = sqlx::query("SELECT channel, event_type, delay_ms FROM notify_routes")
        .fetch_all(&mut *conn)
        .await?;
    if routes.is_empty() {
        return Ok(());
    }
    let routes = routes
        .iter()
        .map(|r| {
            Ok((
                r.text("channel")?,
                r.text("event_type")?,
                r.int("delay_ms")?,
            ))
        })
        .collect::<Result<Vec<_>, StoreError>>()?;
    let now = Utc::now();
    let mut rows = Vec::new();
    for (e, r) in events.iter().zip(results).filter(|(_, r)| r.created) {
        let mut taken: Vec<&str> = Vec::new();
        for (channel, event_type, delay_ms) in &routes {
            // An event's own list replaces the routes by type; names no route has are no
            // channel of this database and are left out.
            let wanted = match &e.notify {
                Some(list) => list.iter().any(|c| c == channel),
                None => event_type == "*" || *event_type == e.event_type,
            };
            if wanted && !taken.contains(&&**channel) {
                taken.push(channel);
                let due = now + TimeDelta::milliseconds((*delay_ms).max(0));
                rows.push((r.id, e, channel.clone(), due));
            }
        }
    }
    for chunk in rows.chunks(ROWS_PER_INSERT) {
        let mut qb = sqlx::QueryBuilder::<DB>::new(
            "INSERT INTO mail_outbox (event_id, event_uuid, recipient, kind, group_key, \
             created_at, next_attempt_at) ",
        );
        qb.push_values(chunk, |mut row, (id, e, channel, due)| {
            row.push_bind(*id)
                .push_bind(e.uuid)
                .push_bind(channel.clone())
                .push_bind(KIND_NOTIFY.to_owned())
                .push_bind(e.group.as_str().to_owned())
                .push_bind(DB::time(now))
                .push_bind(DB::time(*due));
        });
        qb.push(" ON CONFLICT (event_uuid, kind, recipient) DO NOTHING");
        qb.build().execute(&mut *conn).await?;
    }
    Ok(())
}

/// Replaces every route with `routes`, in one transaction.
pub(crate) async fn set_routes<DB: OutboxSql>(
    pool: &sqlx::Pool<DB>,
    routes: &[NotifyRoute],
) -> Result<(), StoreError>
where
    for<'c> &'c mut DB::Connection: sqlx::Executor<'c, Database = DB>,
    for<'q> i64: sqlx::Encode<'q, DB> + sqlx::Type<DB>,
    for<'q> String: sqlx::Encode<'q, DB> + sqlx::Type<DB>,
{
    let mut tx = pool.begin().await?;
    sqlx::query("DELETE FROM notify_routes")
        .execute(&mut *tx)
        .await?;
    for route in routes {
        let delay = i64::try_from(route.delay.as_millis()).unwrap_or(i64::MAX);
        sqlx::query(
            "INSERT INTO notify_routes (channel, event_type, delay_ms) VALUES ($1, $2, $3) \
             ON CONFLICT (channel, event_type) DO UPDATE SET delay_ms = excluded.delay_ms",
        )
        .bind(route.channel.clone())
        .bind(route.event_type.clone())
        .bind(delay)
        .execute(&mut *tx)
        .await?;
    }
    // Queued rows of a channel no route names any more would wait for a sender forever.
    sqlx::query(
        "UPDATE mail_outbox SET state = 'given_up', finished_at = $1, lease_until = NULL, \
         last_error = 'the channel is no longer configured' WHERE kind = 'notify' \
         AND state = 'queued' AND recipient NOT IN (SELECT channel FROM notify_routes)",
    )
    .bind(DB::time(Utc::now()))
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(())
}

/// Claims up to `limit` due notification rows of `channel` until `lease_until`, oldest due
/// first.
pub(crate) async fn claim_notify<DB: OutboxSql>(
    pool: &sqlx::Pool<DB>,
    channel: &str,
    now: DateTime<Utc>,
    lease_until: DateTime<Utc>,
    limit: usize,
) -> Result<Vec<OutboxNotice>, StoreError>
where
    for<'c> &'c mut DB::Connection: sqlx::Executor<'c, Database = DB>,
    for<'q> i64: sqlx::Encode<'q, DB> + sqlx::Type<DB>,
    for<'q> String: sqlx::Encode<'q, DB> + sqlx::Type<DB>,
{
    let sql = format!(
        "UPDATE mail_outbox SET lease_until = $1, attempts = attempts + 1 \
         WHERE id IN (SELECT id FROM mail_outbox \
             WHERE kind = 'notify' AND state = 'queued' AND recipient = $4 \
               AND next_attempt_at <= $2 AND (lease_until IS NULL OR lease_until <= $2) \
             ORDER BY next_attempt_at, id LIMIT $3{}) RETURNING {CLAIMED_COLUMNS}",
        DB::CLAIM_LOCK
    );
    let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(DB::time(lease_until))
        .bind(DB::time(now))
        .bind(super::sql::limit_param(limit))
        .bind(channel.to_owned())
        .fetch_all(pool)
        .await?;
    let mut notices = rows.iter().map(notice).collect::<Result<Vec<_>, _>>()?;
    notices.sort_by_key(|n| n.id);
    Ok(notices)
}

/// Claims the other queued rows of `channel` and `group` (due or not, not leased) until
/// `lease_until`: they join the digest being sent.
pub(crate) async fn claim_digest<DB: OutboxSql>(
    pool: &sqlx::Pool<DB>,
    channel: &str,
    group: &str,
    now: DateTime<Utc>,
    lease_until: DateTime<Utc>,
    limit: usize,
) -> Result<Vec<OutboxNotice>, StoreError>
where
    for<'c> &'c mut DB::Connection: sqlx::Executor<'c, Database = DB>,
    for<'q> i64: sqlx::Encode<'q, DB> + sqlx::Type<DB>,
    for<'q> String: sqlx::Encode<'q, DB> + sqlx::Type<DB>,
{
    let sql = format!(
        "UPDATE mail_outbox SET lease_until = $1, attempts = attempts + 1 \
         WHERE id IN (SELECT id FROM mail_outbox \
             WHERE kind = 'notify' AND state = 'queued' AND recipient = $3 \
               AND group_key = $4 AND (lease_until IS NULL OR lease_until <= $2) \
             ORDER BY id LIMIT $5{}) RETURNING {CLAIMED_COLUMNS}",
        DB::CLAIM_LOCK
    );
    let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(DB::time(lease_until))
        .bind(DB::time(now))
        .bind(channel.to_owned())
        .bind(group.to_owned())
        .bind(super::sql::limit_param(limit))
        .fetch_all(pool)
        .await?;
    let mut notices = rows.iter().map(notice).collect::<Result<Vec<_>, _>>()?;
    notices.sort_by_key(|n| n.id);
    Ok(notices)
}

/// Puts a claimed row back, due at `at`, without counting the attempt (a rate limit, not a
/// failure, held it back).
pub(crate) async fn defer<DB: OutboxSql>(
    pool: &sqlx::Pool<DB>,
    id: i64,
    at: DateTime<Utc>,
) -> Result<(), StoreError>
where
    for<'c> &'c mut DB::Connection: sqlx::Executor<'c, Database = DB>,
    for<'q> i64: sqlx::Encode<'q, DB> + sqlx::Type<DB>,
{
    sqlx::query(
        "UPDATE mail_outbox SET next_attempt_at = $1, lease_until = NULL, \
         attempts = CASE WHEN attempts > 0 THEN attempts - 1 ELSE 0 END WHERE id = $2",
    )
    .bind(DB::time(at))
    .bind(id)
    .execute(pool)
    .await?;
    Ok(())
}

/// The newest `limit` notification rows, of `channel` or of every channel.
pub(crate) async fn recent<DB: OutboxSql>(
    pool: &sqlx::Pool<DB>,
    channel: Option<&str>,
    limit: usize,
) -> Result<Vec<NoticeRecord>, StoreError>
where
    for<'c> &'c mut DB::Connection: sqlx::Executor<'c, Database = DB>,
    for<'q> i64: sqlx::Encode<'q, DB> + sqlx::Type<DB>,
    for<'q> String: sqlx::Encode<'q, DB> + sqlx::Type<DB>,
{
    use super::row::StoredRow as _;
    let filter = if channel.is_some() {
        "AND recipient = $2"
    } else {
        ""
    };
    let sql = format!(
        "SELECT id, event_id, event_uuid, recipient, state, CAST(attempts AS BIGINT) AS attempts, \
         CAST(failures AS BIGINT) AS failures, last_error, created_at, finished_at \
         FROM mail_outbox WHERE kind = 'notify' {filter} ORDER BY id DESC LIMIT $1"
    );
    let mut query = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(super::sql::limit_param(limit));
    if let Some(channel) = channel {
        query = query.bind(channel.to_owned());
    }
    let rows = query.fetch_all(pool).await?;
    rows.iter()
        .map(|r| {
            Ok(NoticeRecord {
                id: r.int("id")?,
                event_uuid: r.uuid("event_uuid")?,
                event_id: r.int("event_id")?,
                channel: r.text("recipient")?,
                state: r.text("state")?,
                attempts: r.int("attempts")?,
                failures: r.int("failures")?,
                last_error: r.opt_text("last_error")?,
                created_at: r.time("created_at")?,
                finished_at: r.opt_time("finished_at")?,
            })
        })
        .collect()
}
