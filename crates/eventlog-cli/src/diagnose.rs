//! Turning a failure to open the database into one line naming the cause, and a hint.

use std::path::PathBuf;
use std::time::Duration;

use eventlog::StoreError;
use eventlog::store::ConnectOptions;

use crate::voice::Failure;

/// The failure to open `url`: `cannot open URL: CAUSE`, the URL without its password, and the
/// fix when there is an obvious one. Every command that opens the database says it this way.
pub async fn cannot_open(url: &str, error: &StoreError, options: ConnectOptions) -> Failure {
    let (cause, hint) = open_error(url, error, options).await;
    Failure {
        cause: format!("cannot open {}: {cause}", eventlog::store::redact(url)),
        hint,
    }
}

/// How long the diagnosis itself may try to reach the database server.
const PROBE: Duration = Duration::from_secs(1);

/// The cause of `error` (one line, no database URL) and, when there is an obvious fix, a
/// hint. A pool timeout says nothing by itself: the address is probed once to tell a
/// refused connection from a server that does not answer.
async fn open_error(
    url: &str,
    error: &StoreError,
    options: ConnectOptions,
) -> (String, Option<String>) {
    let StoreError::Database(db) = error else {
        return (error.to_string(), None);
    };
    if (db.is_pool_timeout() || db.io().is_some()) && is_postgres(url) {
        let (host, port) = address(url);
        return probe(&host, port, options.acquire_timeout).await;
    }
    // The SQLite store creates the file itself (owner-only permissions) before SQLite
    // opens it, so a missing directory surfaces as an I/O error.
    if let Some(e) = db.io().filter(|_| url.starts_with("sqlite:")) {
        return sqlite_cant_open(url, e.to_string());
    }
    let Some(message) = db.server_message().map(str::to_owned) else {
        return (db.to_string(), None);
    };
    let code = db.code().unwrap_or_default();
    let hint = match code.as_str() {
        // invalid_authorization_specification: the role does not exist.
        "28000" if message.contains("does not exist") => {
            let role = quoted(&message).unwrap_or("ROLE");
            Some(format!(
                "create the role, e.g. `createuser --login {role}` or in psql `CREATE ROLE {role} LOGIN PASSWORD '…';`, or use another user in the database URL"
            ))
        }
        "28P01" => Some(
            "check the user and password in the database URL (--database-url or EVENTLOG_DATABASE_URL)"
                .to_owned(),
        ),
        // invalid_catalog_name: no such database.
        "3D000" => {
            let db = quoted(&message).unwrap_or("DB");
            Some(format!(
                "create it, e.g. `createdb {db}` (with `-O USER` for its owner), or name an existing database in the URL"
            ))
        }
        // SQLITE_CANTOPEN
        "14" => return sqlite_cant_open(url, message),
        _ => None,
    };
    (message, hint)
}

async fn probe(host: &str, port: u16, waited: Duration) -> (String, Option<String>) {
    let target = format!("{host}:{port}");
    match tokio::time::timeout(PROBE, tokio::net::TcpStream::connect((host, port))).await {
        Err(_) => (
            format!("no answer from {target}"),
            Some("check the host and port in the database URL, and that no firewall drops the connection".into()),
        ),
        Ok(Err(e)) if e.kind() == std::io::ErrorKind::ConnectionRefused => (
            format!("connection refused at {target}"),
            Some(format!(
                "is PostgreSQL running and listening on {target}? Check the host and port in the database URL (--database-url or EVENTLOG_DATABASE_URL)"
            )),
        ),
        Ok(Err(e)) => (
            format!("cannot connect to {target}: {e}"),
            Some("check the host name and port in the database URL".into()),
        ),
        Ok(Ok(_)) => (
            format!(
                "the database server at {target} accepts connections but did not answer within {}",
                humantime_secs(waited)
            ),
            Some("the server may be starting, overloaded or stopped; `[database] acquire_timeout` sets how long to wait".into()),
        ),
    }
}

fn humantime_secs(d: Duration) -> String {
    format!("{:.1} s", d.as_secs_f64())
}

fn sqlite_cant_open(url: &str, message: String) -> (String, Option<String>) {
    let path = sqlite_path(url);
    if let Some(dir) = path.as_ref().and_then(|p| p.parent()) {
        let dir = if dir.as_os_str().is_empty() {
            PathBuf::from(".")
        } else {
            dir.to_path_buf()
        };
        if !dir.is_dir() {
            return (
                format!("directory {} does not exist", dir.display()),
                Some(format!(
                    "create it (`mkdir -p {}`) or give another path with --database-url sqlite://PATH",
                    dir.display()
                )),
            );
        }
        return (
            format!(
                "{message} ({})",
                path.map(|p| p.display().to_string()).unwrap_or_default()
            ),
            Some(format!(
                "check that this user may create and write files in {}",
                dir.display()
            )),
        );
    }
    (message, None)
}

fn sqlite_path(url: &str) -> Option<PathBuf> {
    let rest = url
        .strip_prefix("sqlite://")
        .or_else(|| url.strip_prefix("sqlite:"))?;
    let path = rest.split('?').next().unwrap_or(rest);
    (!path.is_empty() && !path.contains(":memory:")).then(|| PathBuf::from(path))
}

fn is_postgres(url: &str) -> bool {
    url.starts_with("postgres:") || url.starts_with("postgresql:")
}

/// Host and port of a PostgreSQL URL, with libpq's defaults.
fn address(url: &str) -> (String, u16) {
    match url::Url::parse(url) {
        Ok(u) => (
            u.host_str().unwrap_or("localhost").to_owned(),
            u.port().unwrap_or(5432),
        ),
        Err(_) => ("localhost".to_owned(), 5432),
    }
}

/// The first `"…"` quoted word of a PostgreSQL message (the role or database name).
fn quoted(message: &str) -> Option<&str> {
    let start = message.find('"')? + 1;
    let len = message[start..].find('"')?;
    Some(&message[start..start + len])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_and_paths() {
        assert_eq!(
            address("postgres://u@127.0.0.1:5544/db"),
            ("127.0.0.1".to_owned(), 5544)
        );
        assert_eq!(address("postgres://u@db/x"), ("db".to_owned(), 5432));
        assert_eq!(
            sqlite_path("sqlite:///no/such/dir/ev.db?mode=rwc"),
            Some(PathBuf::from("/no/such/dir/ev.db"))
        );
        assert_eq!(sqlite_path("sqlite::memory:"), None);
        assert_eq!(quoted("role \"eventlog\" does not exist"), Some("eventlog"));
    }
}
