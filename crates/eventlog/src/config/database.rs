//! `[database]`: how `eventlog serve` (and the other commands) use the database.

use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::duration;

/// `[database]`: how `eventlog serve` (and the other commands) use the database.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct DatabaseConfig {
    /// How long a request waits for a pooled connection before it fails (`503` from the
    /// server). Short, so that an unreachable database answers fast instead of holding
    /// requests. Default 2 s.
    #[serde(with = "duration")]
    pub acquire_timeout: Duration,
    /// PostgreSQL only: the server cancels any statement of `eventlog serve` running longer
    /// than this (`statement_timeout`). `0s` turns it off. Default 20 s, below
    /// `[server] request_timeout`.
    #[serde(with = "duration")]
    pub statement_timeout: Duration,
    /// PostgreSQL only: a streaming replica (hot standby) that serves the admin's and the
    /// API's reads, while writes, logins and the live tail stay on `database_url`. Reads may
    /// lag the primary by the replica's replay delay. Default: none (everything on the
    /// primary).
    pub read_database_url: Option<String>,
}

impl Default for DatabaseConfig {
    fn default() -> Self {
        let connect = crate::store::ConnectOptions::default();
        DatabaseConfig {
            acquire_timeout: connect.acquire_timeout,
            statement_timeout: Duration::from_secs(20),
            read_database_url: None,
        }
    }
}

impl DatabaseConfig {
    /// The pool options these settings describe (with the statement timeout, as the server
    /// uses them).
    pub fn connect_options(&self) -> crate::store::ConnectOptions {
        crate::store::ConnectOptions {
            acquire_timeout: self.acquire_timeout,
            statement_timeout: (!self.statement_timeout.is_zero())
                .then_some(self.statement_timeout),
        }
    }
}
