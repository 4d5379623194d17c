//! The mail outbox in PostgreSQL (see [`crate::store::outbox`]). A claim locks the due rows
//! with `FOR UPDATE SKIP LOCKED`: several servers claiming at once each get different rows and
//! none waits for another's transaction.

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use super::PostgresStore;
use crate::error::StoreError;
use crate::store::notify_outbox;
use crate::store::outbox::{
    self, Delivery, NoticeRecord, NotifyRoute, OutboxMail, OutboxNotice, OutboxSql, OutboxStatus,
    OutboxStore,
};

impl OutboxSql for sqlx::Postgres {
    type Time = DateTime<Utc>;

    fn time(time: DateTime<Utc>) -> DateTime<Utc> {
        time
    }

    fn rows_affected(done: &sqlx::postgres::PgQueryResult) -> u64 {
        done.rows_affected()
    }

    const CLAIM_LOCK: &'static str = " FOR UPDATE SKIP LOCKED";
}

#[async_trait]
impl OutboxStore for PostgresStore {
    async fn claim_mail(
        &self,
        now: DateTime<Utc>,
        lease_until: DateTime<Utc>,
        limit: usize,
    ) -> Result<Vec<OutboxMail>, StoreError> {
        outbox::claim_mail(&self.pool, now, lease_until, limit).await
    }

    async fn finish_mail(
        &self,
        id: i64,
        now: DateTime<Utc>,
        outcome: &Delivery,
    ) -> Result<(), StoreError> {
        outbox::finish_mail(&self.pool, id, now, outcome).await
    }

    async fn outbox_status(&self) -> Result<OutboxStatus, StoreError> {
        outbox::outbox_status(&self.pool).await
    }

    async fn prune_outbox(&self, before: DateTime<Utc>) -> Result<u64, StoreError> {
        outbox::prune_outbox(&self.pool, before).await
    }

    async fn set_notify_routes(&self, routes: &[NotifyRoute]) -> Result<(), StoreError> {
        notify_outbox::set_routes(&self.pool, routes).await
    }

    async fn claim_notify(
        &self,
        channel: &str,
        now: DateTime<Utc>,
        lease_until: DateTime<Utc>,
        limit: usize,
    ) -> Result<Vec<OutboxNotice>, StoreError> {
        notify_outbox::claim_notify(&self.pool, channel, now, lease_until, limit).await
    }

    async fn claim_digest(
        &self,
        channel: &str,
        group: &str,
        now: DateTime<Utc>,
        lease_until: DateTime<Utc>,
        limit: usize,
    ) -> Result<Vec<OutboxNotice>, StoreError> {
        notify_outbox::claim_digest(&self.pool, channel, group, now, lease_until, limit).await
    }

    async fn defer_notify(&self, id: i64, at: DateTime<Utc>) -> Result<(), StoreError> {
        notify_outbox::defer(&self.pool, id, at).await
    }

    async fn recent_notices(
        &self,
        channel: Option<&str>,
        limit: usize,
    ) -> Result<Vec<NoticeRecord>, StoreError> {
        notify_outbox::recent(&self.pool, channel, limit).await
    }
}
