//! Test support for eventlog: real databases, thrown away after each test.
//!
//! - [`TestDb`]: a fresh SQLite file ([`TestDb::sqlite`]), a fresh PostgreSQL database
//!   ([`TestDb::postgres`]) on the shared throwaway server that `scripts/test` starts (its admin
//!   URL is in the environment variable [`POSTGRES_URL_ENV`]), or a fresh database on its
//!   throwaway Citus cluster ([`TestDb::citus`], [`CITUS_URL_ENV`]). A test that cannot reach
//!   PostgreSQL panics with a message saying how to run it; it never skips.
//! - [`smtp::SmtpSink`]: an SMTP listener on loopback that records the mails it receives.
//! - [`copy_text`]: rows in PostgreSQL's COPY text format, for loading in bulk.
//! - [`PgCluster`]: a private PostgreSQL 15 server of one test's own, for tests that stop or
//!   restart the server under a running writer; [`CitusCluster`], a private Citus cluster
//!   (a coordinator and two workers) for tests that stop a worker.
//!
//! # Example
//!
//! ```no_run
//! # async fn demo() {
//! use eventlog_testing::TestDb;
//!
//! let db = TestDb::postgres().await; // or TestDb::sqlite()
//! let url = db.url(); // hand it to eventlog::store::open(url)
//! # let _ = url;
//! // Dropping `db` drops the database.
//! # }
//! ```

pub mod api;
pub mod copy_text;
pub mod fixtures;
pub mod http;
pub mod process;
pub mod smtp;
pub mod webhook;

mod backends;
mod citus_cluster;
mod pg_cluster;

pub use citus_cluster::CitusCluster;
pub use pg_cluster::PgCluster;

use std::path::Path;
use std::time::Duration;

use sqlx::Connection;
use sqlx::postgres::PgConnection;
use tempfile::TempDir;

/// The environment variable holding the admin URL of the shared test server, set by
/// `scripts/test` (e.g. `postgres://postgres@127.0.0.1:54321/postgres`).
pub const POSTGRES_URL_ENV: &str = "EVENTLOG_TEST_POSTGRES_URL";

/// The environment variable holding the admin URL of the test Citus cluster's coordinator, set
/// by `scripts/test` (e.g. `postgres://postgres@127.0.0.1:54322/postgres`).
pub const CITUS_URL_ENV: &str = "EVENTLOG_TEST_CITUS_URL";

/// The advisory lock under which [`TestDb::citus`] registers the workers in a new database.
const REGISTER_LOCK: i64 = 0x6576_656e_746c_6f67;

/// A fresh, empty database for one test; removed again when dropped.
#[derive(Debug)]
pub struct TestDb {
    url: String,
    kind: Kind,
}

#[derive(Debug)]
enum Kind {
    /// Holds the temporary directory alive; removing it removes the file.
    Sqlite(#[allow(dead_code)] TempDir),
    /// A database on one server, or on a Citus coordinator and on each of its workers (the
    /// admin URLs of all of them, coordinator first).
    Postgres {
        admin_urls: Vec<String>,
        name: String,
    },
}

impl TestDb {
    /// A new SQLite database file in a temporary directory (`sqlite://DIR/events.db`).
    pub fn sqlite() -> TestDb {
        let dir = tempfile::Builder::new()
            .prefix("eventlog-test-")
            .tempdir()
            .expect("create a temporary directory for the SQLite test database");
        let url = format!("sqlite://{}", dir.path().join("events.db").display());
        TestDb {
            url,
            kind: Kind::Sqlite(dir),
        }
    }

    /// A new database `t_<random>` on the server named by [`POSTGRES_URL_ENV`].
    ///
    /// # Panics
    ///
    /// When the variable is unset or the server cannot be reached: PostgreSQL tests must run,
    /// so the message says to run them with `scripts/test`.
    pub async fn postgres() -> TestDb {
        let admin_url = admin_url(std::env::var(POSTGRES_URL_ENV).ok());
        let name = format!("t_{}", uuid::Uuid::new_v4().simple());
        let mut conn = admin_connection(&admin_url).await;
        sqlx::raw_sql(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
            .execute(&mut conn)
            .await
            .unwrap_or_else(|e| panic!("CREATE DATABASE {name} failed: {e}"));
        let _ = conn.close().await;
        TestDb {
            url: with_database(&admin_url, &name),
            kind: Kind::Postgres {
                admin_urls: vec![admin_url],
                name,
            },
        }
    }

    /// A new database `t_<random>` on the Citus cluster whose coordinator
    /// [`CITUS_URL_ENV`] names: created on the coordinator and on every worker, each with the
    /// `citus` extension, and the workers registered in it (Citus keeps its cluster metadata
    /// per database). About a second on two cores; `eventlog migrate` distributes the schema.
    ///
    /// # Panics
    ///
    /// When the variable is unset or the cluster cannot be reached, saying to run the tests
    /// with `scripts/test`.
    pub async fn citus() -> TestDb {
        let admin_url = citus_admin_url(std::env::var(CITUS_URL_ENV).ok());
        let name = format!("t_{}", uuid::Uuid::new_v4().simple());
        let mut conn = server_connection(&admin_url, CITUS_URL_ENV).await;
        let workers: Vec<(String, i32)> = sqlx::query_as(
            "SELECT nodename, nodeport FROM pg_dist_node \
             WHERE groupid <> 0 AND noderole = 'primary' ORDER BY nodeid",
        )
        .fetch_all(&mut conn)
        .await
        .unwrap_or_else(|e| panic!("list the Citus workers at {CITUS_URL_ENV}={admin_url}: {e}"));
        let _ = conn.close().await;
        assert!(
            !workers.is_empty(),
            "the Citus coordinator at {CITUS_URL_ENV}={admin_url} has no workers"
        );
        let worker_urls: Vec<String> = workers
            .iter()
            .map(|(host, port)| with_host(&admin_url, host, *port))
            .collect();
        let create = |url: String| {
            let name = name.clone();
            async move {
                let mut conn = server_connection(&url, CITUS_URL_ENV).await;
                run(&mut conn, &format!("CREATE DATABASE {name}")).await;
                let _ = conn.close().await;
                let mut conn = server_connection(&with_database(&url, &name), CITUS_URL_ENV).await;
                run(&mut conn, "CREATE EXTENSION citus").await;
                conn
            }
        };
        let mut created = Vec::new();
        for url in &worker_urls {
            created.push(tokio::spawn(create(url.clone())));
        }
        let mut coordinator = create(admin_url.clone()).await;
        for worker in created {
            let conn = worker.await.expect("create the database on a worker");
            let _ = conn.close().await;
        }
        // From here on a failure drops the databases again (the value's `Drop`).
        let mut admin_urls = vec![admin_url.clone()];
        admin_urls.extend(worker_urls);
        let db = TestDb {
            url: with_database(&admin_url, &name),
            kind: Kind::Postgres {
                admin_urls,
                name: name.clone(),
            },
        };
        // Registering a worker re-creates the roles there, and roles belong to the whole
        // server: two tests registering at once fail ("tuple concurrently updated"). One at a
        // time, under a lock in the coordinator's admin database, which every test shares.
        let mut admin = server_connection(&admin_url, CITUS_URL_ENV).await;
        run(
            &mut admin,
            &format!("SELECT pg_advisory_lock({REGISTER_LOCK})"),
        )
        .await;
        let (host, port) = host_and_port(&admin_url);
        run(
            &mut coordinator,
            &format!("SELECT citus_set_coordinator_host('{host}', {port})"),
        )
        .await;
        for (host, port) in &workers {
            run(
                &mut coordinator,
                &format!("SELECT citus_add_node('{host}', {port})"),
            )
            .await;
        }
        let _ = coordinator.close().await;
        // Closing the session releases the lock.
        let _ = admin.close().await;
        db
    }

    /// A fresh database of the named backend: `"sqlite"`, `"postgres"` or `"citus"`.
    pub async fn backend(backend: &str) -> TestDb {
        match backend {
            "sqlite" => TestDb::sqlite(),
            "postgres" => TestDb::postgres().await,
            "citus" => TestDb::citus().await,
            other => {
                panic!("unknown backend {other:?}: expected \"sqlite\", \"postgres\" or \"citus\"")
            }
        }
    }

    /// The database URL, for `eventlog::store::open`.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// Migrates this PostgreSQL database only through migration `version` and stores one
    /// event (group `seed`) the way that schema did: a database an older release left, which
    /// later migrations must not rebuild (0011 partitions empty databases only).
    pub async fn postgres_as_of(&self, version: i64) {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../eventlog/migrations/postgres");
        let mut migrator = sqlx::migrate::Migrator::new(dir)
            .await
            .expect("read the PostgreSQL migrations");
        let older: Vec<_> = migrator
            .migrations
            .iter()
            .filter(|m| m.version <= version)
            .cloned()
            .collect();
        migrator.migrations = older.into();
        let mut conn = PgConnection::connect(&self.url)
            .await
            .expect("connect to the test database");
        migrator
            .run(&mut conn)
            .await
            .unwrap_or_else(|e| panic!("migrating through {version} failed: {e}"));
        sqlx::raw_sql(
            "INSERT INTO event_groups (group_id, first_at, last_at, event_count) \
             VALUES ('seed', now(), now(), 1); \
             INSERT INTO event_group_types VALUES ('seed', 'info', 1); \
             INSERT INTO events (ts, gid, uuid, event_type, message) \
             SELECT now(), gid, gen_random_uuid(), 'info', 'stored by an older release' \
             FROM event_groups",
        )
        .execute(&mut conn)
        .await
        .expect("store the seed event");
        let _ = conn.close().await;
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        if let Kind::Postgres { admin_urls, name } = &self.kind {
            // Drop may run inside a tokio runtime, where blocking on a future panics: do the
            // async work on a thread with a runtime of its own. Best effort. The coordinator
            // first: its connections to the workers end with it.
            let (admin_urls, name) = (admin_urls.clone(), name.clone());
            let _ = std::thread::spawn(move || {
                let rt = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .ok()?;
                rt.block_on(async {
                    for admin_url in &admin_urls {
                        let Ok(mut conn) = PgConnection::connect(admin_url).await else {
                            continue;
                        };
                        let sql = format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)");
                        let _ = sqlx::raw_sql(sqlx::AssertSqlSafe(sql))
                            .execute(&mut conn)
                            .await;
                        let _ = conn.close().await;
                    }
                    Some(())
                })
            })
            .join();
        }
    }
}

/// The admin URL, or a panic that says how to get one.
fn admin_url(from_env: Option<String>) -> String {
    match from_env {
        Some(url) if !url.is_empty() => url,
        _ => panic!(
            "{POSTGRES_URL_ENV} is not set: the PostgreSQL tests need a server. \
             Run the test suite with `scripts/test`, which starts a throwaway PostgreSQL \
             cluster and sets it."
        ),
    }
}

/// The Citus coordinator's admin URL, or a panic that says how to get one.
fn citus_admin_url(from_env: Option<String>) -> String {
    match from_env {
        Some(url) if !url.is_empty() => url,
        _ => panic!(
            "{CITUS_URL_ENV} is not set: the Citus tests need a Citus cluster. \
             Run the test suite with `scripts/test`, which starts a throwaway coordinator \
             and two workers and sets it."
        ),
    }
}

/// Runs one administrative statement, or panics naming it.
async fn run(conn: &mut PgConnection, sql: &str) {
    sqlx::raw_sql(sqlx::AssertSqlSafe(sql.to_owned()))
        .execute(conn)
        .await
        .unwrap_or_else(|e| panic!("{sql} failed: {e}"));
}

async fn admin_connection(admin_url: &str) -> PgConnection {
    server_connection(admin_url, POSTGRES_URL_ENV).await
}

/// A connection to the test server that the variable `env` names (for the message).
async fn server_connection(admin_url: &str, env: &str) -> PgConnection {
    let connect = PgConnection::connect(admin_url);
    match tokio::time::timeout(Duration::from_secs(10), connect).await {
        Ok(Ok(conn)) => conn,
        Ok(Err(e)) => panic!(
            "cannot reach the test server at {env}={admin_url}: {e}. \
             Run the test suite with `scripts/test`, which starts one."
        ),
        Err(_) => panic!(
            "timed out connecting to the test server at \
             {env}={admin_url}. Run the test suite with `scripts/test`, which \
             starts one."
        ),
    }
}

/// The host and port of a `postgres://` URL (5432 when it names none).
fn host_and_port(url: &str) -> (String, u16) {
    let authority_start = url.find("://").map_or(0, |i| i + 3);
    let rest = &url[authority_start..];
    let authority = &rest[..rest.find(['/', '?']).unwrap_or(rest.len())];
    let host_port = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
    match host_port.rsplit_once(':') {
        Some((host, port)) => (host.to_owned(), port.parse().unwrap_or(5432)),
        None => (host_port.to_owned(), 5432),
    }
}

/// `url` pointed at another server, `host:port` (user, database and parameters kept).
fn with_host(url: &str, host: &str, port: i32) -> String {
    let authority_start = url.find("://").map_or(0, |i| i + 3);
    let rest = &url[authority_start..];
    let end = rest.find(['/', '?']).unwrap_or(rest.len());
    let user = rest[..end]
        .rsplit_once('@')
        .map_or(String::new(), |(u, _)| format!("{u}@"));
    format!(
        "{}{user}{host}:{port}{}",
        &url[..authority_start],
        &rest[end..]
    )
}

/// `admin_url` with its database name replaced by `name` (query parameters kept).
fn with_database(admin_url: &str, name: &str) -> String {
    let (base, query) = match admin_url.split_once('?') {
        Some((b, q)) => (b, Some(q)),
        None => (admin_url, None),
    };
    let authority_start = base.find("://").map_or(0, |i| i + 3);
    let base = match base[authority_start..].find('/') {
        Some(slash) => &base[..authority_start + slash],
        None => base,
    };
    match query {
        Some(q) => format!("{base}/{name}?{q}"),
        None => format!("{base}/{name}"),
    }
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;

    use super::*;

    #[test]
    fn database_name_replaces_the_path() {
        assert_eq!(
            with_database("postgres://u@h:5/postgres", "t_1"),
            "postgres://u@h:5/t_1"
        );
        assert_eq!(
            with_database("postgres://u@h:5/postgres?sslmode=disable", "t_1"),
            "postgres://u@h:5/t_1?sslmode=disable"
        );
        assert_eq!(
            with_database("postgres://u@h:5", "t_1"),
            "postgres://u@h:5/t_1"
        );
    }

    #[test]
    #[should_panic(
        expected = "EVENTLOG_TEST_POSTGRES_URL is not set: the PostgreSQL tests need a server. Run the test suite with `scripts/test`"
    )]
    fn without_a_server_url_postgres_tests_fail_and_say_how_to_run_them() {
        admin_url(None);
    }

    #[test]
    #[should_panic(
        expected = "EVENTLOG_TEST_CITUS_URL is not set: the Citus tests need a Citus cluster. Run the test suite with `scripts/test`"
    )]
    fn without_a_citus_url_citus_tests_fail_and_say_how_to_run_them() {
        citus_admin_url(None);
    }

    #[test]
    fn a_worker_url_keeps_user_database_and_parameters() {
        let url = "postgres://postgres@127.0.0.1:5400/postgres?sslmode=disable";
        assert_eq!(host_and_port(url), ("127.0.0.1".to_owned(), 5400));
        assert_eq!(
            with_host(url, "10.0.0.2", 6432),
            "postgres://postgres@10.0.0.2:6432/postgres?sslmode=disable"
        );
        assert_eq!(host_and_port("postgres://h/db"), ("h".to_owned(), 5432));
        assert_eq!(with_host("postgres://h/db", "w", 1), "postgres://w:1/db");
    }

    #[tokio::test]
    #[should_panic(
        expected = "cannot reach the test server at EVENTLOG_TEST_POSTGRES_URL=postgres://postgres@127.0.0.1:1/postgres"
    )]
    async fn an_unreachable_server_fails_the_test_and_says_how_to_run_it() {
        admin_connection("postgres://postgres@127.0.0.1:1/postgres").await;
    }

    #[tokio::test]
    async fn a_test_database_is_created_and_dropped() {
        let db = TestDb::postgres().await;
        let name = db.url().rsplit('/').next().expect("a path").to_owned();
        let admin = std::env::var(POSTGRES_URL_ENV).expect("set, or postgres() panicked");
        let exists = |name: String| {
            let admin = admin.clone();
            async move {
                let mut c = PgConnection::connect(&admin).await.expect("connect");
                sqlx::query_scalar::<_, bool>(
                    "SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)",
                )
                .bind(name)
                .fetch_one(&mut c)
                .await
                .expect("query")
            }
        };
        assert!(exists(name.clone()).await);
        drop(db);
        assert!(!exists(name).await, "dropping a TestDb drops its database");
    }

    #[test]
    fn a_sqlite_database_is_a_file_that_goes_away() {
        let db = TestDb::sqlite();
        let path = PathBuf::from(db.url().trim_start_matches("sqlite://"));
        std::fs::write(&path, b"x").expect("the directory exists");
        drop(db);
        assert!(!path.exists());
    }
}
