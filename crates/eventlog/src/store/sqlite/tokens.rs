//! API tokens in SQLite.

use super::SqliteStore;
use crate::store::TokenStore;

impl TokenStore for SqliteStore {}
