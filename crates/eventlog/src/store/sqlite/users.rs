//! Users and sessions in SQLite.

use super::SqliteStore;
use crate::store::UserStore;

impl UserStore for SqliteStore {}
