//! `[database]`: how `eventlog serve` (and the other commands) use the database.

use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::duration;
use crate::error::ConfigError;
use crate::store::{DataKey, ScanBudget};

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
    /// Paths inside `data` that filters ask for often (`order_id`, `customer.id`): each gets
    /// an index, made when the store is opened (`eventlog migrate`, `eventlog serve`, the
    /// library's `EventLog::builder`) and dropped once the key is no longer listed, so that
    /// `data.order_id=3303548` is an index lookup. Plain names only: ASCII letters, digits,
    /// `_` and `-`, with `.` between names. Default: none.
    pub indexed_data_keys: Vec<String>,
    /// How long one page of a filter no index narrows (a `data.KEY` condition on a key not
    /// listed in `indexed_data_keys`) may look through events before it answers with what it
    /// found and a link to keep scanning. Default 1 s.
    #[serde(with = "duration")]
    pub scan_budget: Duration,
    /// The most events such a page looks through. Default 2,000,000.
    pub scan_budget_events: u64,
}

impl Default for DatabaseConfig {
    fn default() -> Self {
        let connect = crate::store::ConnectOptions::default();
        DatabaseConfig {
            acquire_timeout: connect.acquire_timeout,
            statement_timeout: Duration::from_secs(20),
            read_database_url: None,
            indexed_data_keys: Vec::new(),
            scan_budget: ScanBudget::default().time,
            scan_budget_events: ScanBudget::default().events,
        }
    }
}

impl DatabaseConfig {
    /// The declared data keys, checked.
    pub fn data_keys(&self) -> Result<Vec<DataKey>, ConfigError> {
        DataKey::parse_all(&self.indexed_data_keys)
            .map_err(|e| ConfigError::value("database.indexed_data_keys", e.to_string()))
    }

    /// The budget of one page of a filter no index narrows.
    pub fn scan_budget(&self) -> ScanBudget {
        ScanBudget {
            time: self.scan_budget,
            events: self.scan_budget_events.max(1),
        }
    }

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
