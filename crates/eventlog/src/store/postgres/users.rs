//! Users and sessions in PostgreSQL.

use super::PostgresStore;
use crate::store::UserStore;

impl UserStore for PostgresStore {}
