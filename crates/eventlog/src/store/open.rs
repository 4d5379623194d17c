//! Opening a store from its URL: the backend is chosen once, from the scheme.

use std::sync::Arc;

use super::{Backend, BackendKind, ListingQuery};
use crate::error::StoreError;

/// How a store connects: pool timeouts. [`open`] uses the defaults.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct ConnectOptions {
    /// How long an operation waits for a pooled connection (or for a new connection to be
    /// made) before it fails with a transient error. Default 2 s: an unreachable database
    /// is reported fast instead of holding every caller.
    pub acquire_timeout: std::time::Duration,
    /// PostgreSQL: the server cancels statements running longer than this
    /// (`statement_timeout`, not applied to migrations). `None` (the default): no limit,
    /// as long exports and imports need.
    pub statement_timeout: Option<std::time::Duration>,
}

impl Default for ConnectOptions {
    fn default() -> Self {
        ConnectOptions {
            acquire_timeout: std::time::Duration::from_secs(2),
            statement_timeout: None,
        }
    }
}

impl ConnectOptions {
    /// Options with this acquire timeout and statement timeout.
    pub fn new(
        acquire_timeout: std::time::Duration,
        statement_timeout: Option<std::time::Duration>,
    ) -> Self {
        ConnectOptions {
            acquire_timeout,
            statement_timeout,
        }
    }
}

/// Opens the store a URL names and applies its migrations: `sqlite://PATH` (created if missing,
/// WAL mode), `sqlite::memory:`, `postgres://…` or `postgresql://…`.
pub async fn open(url: &str) -> Result<Arc<dyn Backend>, StoreError> {
    open_with(url, ConnectOptions::default()).await
}

/// Like [`open`], with pool timeouts of the caller's choosing.
pub async fn open_with(url: &str, options: ConnectOptions) -> Result<Arc<dyn Backend>, StoreError> {
    let store = connect_with(url, options).await?;
    store.migrate().await?;
    Ok(store)
}

/// Connects to the store a URL names without migrating it (then call [`WriteStore::migrate`](super::WriteStore::migrate),
/// which reports what it applied).
pub async fn connect_with(
    url: &str,
    options: ConnectOptions,
) -> Result<Arc<dyn Backend>, StoreError> {
    match BackendKind::from_url(url) {
        Some(kind) => connect_kind(kind, url, options).await,
        None => Err(StoreError::UnsupportedUrl { url: redact(url) }),
    }
}

/// Opens a read-only replica of a PostgreSQL store (a hot standby that streams from the
/// primary): no migrations are applied, since the replica follows the primary's schema.
/// Only `postgres://` URLs: a SQLite file has no replicas.
///
/// The replica is typed as a reader: writing through it does not compile.
pub async fn open_replica(
    url: &str,
    options: ConnectOptions,
) -> Result<Arc<dyn ListingQuery>, StoreError> {
    match BackendKind::from_url(url) {
        Some(BackendKind::Postgres) => {
            let replica: Arc<dyn ListingQuery> =
                connect_kind(BackendKind::Postgres, url, options).await?;
            Ok(replica)
        }
        _ => Err(StoreError::UnsupportedUrl { url: redact(url) }),
    }
}

/// Connects to a store of this kind: [`StoreError::BackendDisabled`] when this build was made
/// without the backend's cargo feature.
async fn connect_kind(
    kind: BackendKind,
    url: &str,
    options: ConnectOptions,
) -> Result<Arc<dyn Backend>, StoreError> {
    match kind {
        #[cfg(feature = "sqlite")]
        BackendKind::Sqlite => Ok(Arc::new(
            super::sqlite::SqliteStore::connect_with(url, options).await?,
        )),
        #[cfg(feature = "postgres")]
        BackendKind::Postgres => Ok(Arc::new(
            super::postgres::PostgresStore::connect_with(url, options).await?,
        )),
        #[allow(unreachable_patterns)]
        disabled => {
            let _ = (url, options);
            Err(StoreError::BackendDisabled(disabled))
        }
    }
}

/// The URL without its password, for messages: `postgres://u:***@h/db` when there is a
/// password, the URL unchanged when there is none.
pub fn redact(url: &str) -> String {
    match url::Url::parse(url) {
        Ok(mut parsed) if parsed.password().is_some() => {
            if parsed.set_password(Some("***")).is_ok() {
                parsed.to_string()
            } else {
                "<database URL>".to_owned()
            }
        }
        Ok(_) => url.to_owned(),
        // Not a URL a parser accepts: show only what precedes a possible password.
        Err(_) => match (url.find("://"), url.rfind('@')) {
            (Some(s), Some(at)) if at > s => {
                let userinfo = &url[s + 3..at];
                match userinfo.split_once(':') {
                    Some((user, _)) => format!("{}://{}:***{}", &url[..s], user, &url[at..]),
                    None => url.to_owned(),
                }
            }
            _ => url.to_owned(),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn unknown_schemes_are_a_clear_error() {
        let err = match open("mysql://root:secret@localhost/db").await {
            Err(e) => e,
            Ok(_) => panic!("mysql must not open"),
        };
        let msg = err.to_string();
        assert!(msg.contains("unsupported database URL"), "{msg}");
        assert!(msg.contains("sqlite://PATH"), "{msg}");
        assert!(!msg.contains("secret"), "password leaked: {msg}");
    }

    #[test]
    fn redact_hides_only_a_real_password() {
        assert_eq!(
            redact("postgres://eventlog:s3cr%40t@db.example:5432/events"),
            "postgres://eventlog:***@db.example:5432/events"
        );
        // No password: nothing to hide, and no `:***` that reads like one.
        assert_eq!(
            redact("postgres://eventlog@localhost/events"),
            "postgres://eventlog@localhost/events"
        );
        assert_eq!(redact("sqlite:///var/lib/ev.db"), "sqlite:///var/lib/ev.db");
        assert_eq!(redact("sqlite://ev.db"), "sqlite://ev.db");
        assert!(!redact("postgres://u:pa@ss@h/db").contains("pa"));
    }
}
