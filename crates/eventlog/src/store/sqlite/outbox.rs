//! The mail outbox in SQLite (see [`crate::store::outbox`]). A claim is one `UPDATE …
//! RETURNING` statement: SQLite runs it under the database's single write lock, so two
//! processes can never claim the same row.

use super::{SqliteStore, time_to_micros};

crate::store::outbox::impl_outbox_store!(
    SqliteStore,
    sqlx::Sqlite,
    time_to_micros,
    claim_lock = ""
);
