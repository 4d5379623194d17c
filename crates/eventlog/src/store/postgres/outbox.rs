//! The mail outbox in PostgreSQL (see [`crate::store::outbox`]). A claim locks the due rows
//! with `FOR UPDATE SKIP LOCKED`: several servers claiming at once each get different rows and
//! none waits for another's transaction.

use super::PostgresStore;

crate::store::outbox::impl_outbox_store!(
    PostgresStore,
    sqlx::Postgres,
    std::convert::identity,
    claim_lock = " FOR UPDATE SKIP LOCKED"
);
