//! API tokens in PostgreSQL.

use super::PostgresStore;
use crate::store::TokenStore;

impl TokenStore for PostgresStore {}
