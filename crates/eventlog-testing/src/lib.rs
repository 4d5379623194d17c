//! Test support for eventlog: real databases, thrown away after each test.
//!
//! - [`TestDb`]: a fresh SQLite file ([`TestDb::sqlite`]) or a fresh PostgreSQL database
//!   ([`TestDb::postgres`]) on the shared throwaway server that `scripts/test` starts (its admin
//!   URL is in the environment variable [`POSTGRES_URL_ENV`]). A test that cannot reach
//!   PostgreSQL panics with a message saying how to run it; it never skips.
//! - [`smtp::SmtpSink`]: an SMTP listener on loopback that records the mails it receives.
//! - [`PgCluster`]: a private PostgreSQL 15 server of one test's own, for tests that stop or
//!   restart the server under a running writer.
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

pub mod smtp;

use std::io;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::Duration;

use sqlx::Connection;
use sqlx::postgres::PgConnection;
use tempfile::TempDir;

/// The environment variable holding the admin URL of the shared test server, set by
/// `scripts/test` (e.g. `postgres://postgres@127.0.0.1:54321/postgres`).
pub const POSTGRES_URL_ENV: &str = "EVENTLOG_TEST_POSTGRES_URL";

/// Where Debian's PostgreSQL 15 puts its server programs.
const PG_BIN: &str = "/usr/lib/postgresql/15/bin";

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
    Postgres {
        admin_url: String,
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
            kind: Kind::Postgres { admin_url, name },
        }
    }

    /// A fresh database of the named backend: `"sqlite"` or `"postgres"`.
    pub async fn backend(backend: &str) -> TestDb {
        match backend {
            "sqlite" => TestDb::sqlite(),
            "postgres" => TestDb::postgres().await,
            other => panic!("unknown backend {other:?}: expected \"sqlite\" or \"postgres\""),
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
        if let Kind::Postgres { admin_url, name } = &self.kind {
            // Drop may run inside a tokio runtime, where blocking on a future panics: do the
            // async work on a thread with a runtime of its own. Best effort.
            let (admin_url, name) = (admin_url.clone(), name.clone());
            let _ = std::thread::spawn(move || {
                let rt = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .ok()?;
                rt.block_on(async {
                    let mut conn = PgConnection::connect(&admin_url).await.ok()?;
                    let sql = format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)");
                    sqlx::raw_sql(sqlx::AssertSqlSafe(sql))
                        .execute(&mut conn)
                        .await
                        .ok()?;
                    conn.close().await.ok()
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

async fn admin_connection(admin_url: &str) -> PgConnection {
    let connect = PgConnection::connect(admin_url);
    match tokio::time::timeout(Duration::from_secs(10), connect).await {
        Ok(Ok(conn)) => conn,
        Ok(Err(e)) => panic!(
            "cannot reach the PostgreSQL test server at {POSTGRES_URL_ENV}={admin_url}: {e}. \
             Run the test suite with `scripts/test`, which starts one."
        ),
        Err(_) => panic!(
            "timed out connecting to the PostgreSQL test server at \
             {POSTGRES_URL_ENV}={admin_url}. Run the test suite with `scripts/test`, which \
             starts one."
        ),
    }
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

/// A private PostgreSQL 15 server in a temporary directory, listening on its own loopback
/// port and socket directory, with `fsync=off` (test data need not survive a power cut).
/// Stopped and deleted when dropped.
///
/// Root cannot run `initdb`: as root the server runs as the `postgres` user.
#[derive(Debug)]
pub struct PgCluster {
    dir: TempDir,
    port: u16,
}

impl PgCluster {
    /// Creates and starts a new cluster (a second or two). The superuser is `postgres`, with
    /// trust authentication on loopback.
    pub fn start() -> io::Result<PgCluster> {
        PgCluster::start_with(&[])
    }

    /// Like [`PgCluster::start`], with extra server settings that override the defaults, e.g.
    /// `[("fsync", "on"), ("synchronous_commit", "on")]` for a benchmark of durable commits.
    pub fn start_with(settings: &[(&str, &str)]) -> io::Result<PgCluster> {
        let dir = tempfile::Builder::new().prefix("eventlog-pg-").tempdir()?;
        let port = free_port()?;
        let cluster = PgCluster { dir, port };
        std::fs::create_dir(cluster.socket_dir())?;
        if is_root()? {
            run(Command::new("chown")
                .arg("-R")
                .arg("postgres:postgres")
                .arg(cluster.dir.path()))?;
        }
        run(cluster
            .pg_command("initdb")
            .arg("-D")
            .arg(cluster.data_dir())
            .args([
                "-U",
                "postgres",
                "--auth=trust",
                "-E",
                "UTF8",
                "--locale=C",
                "--no-sync",
            ]))?;
        let conf = format!(
            "\n# eventlog test cluster\nport = {port}\nlisten_addresses = '127.0.0.1'\n\
             unix_socket_directories = '{}'\nfsync = off\nsynchronous_commit = off\n\
             full_page_writes = off\nmax_connections = 300\n",
            cluster.socket_dir().display()
        );
        let conf_path = cluster.data_dir().join("postgresql.conf");
        let mut text = std::fs::read_to_string(&conf_path)?;
        text.push_str(&conf);
        // Later lines win in postgresql.conf.
        for (name, value) in settings {
            text.push_str(&format!("{name} = '{value}'\n"));
        }
        std::fs::write(&conf_path, text)?;
        cluster.pg_ctl_start()?;
        Ok(cluster)
    }

    /// A hot standby of this cluster made with `pg_basebackup` (streaming replication from
    /// this one, read-only, on its own port), started and caught up with the base backup.
    pub fn start_replica(&self) -> io::Result<PgCluster> {
        let dir = tempfile::Builder::new()
            .prefix("eventlog-pg-replica-")
            .tempdir()?;
        let port = free_port()?;
        let replica = PgCluster { dir, port };
        std::fs::create_dir(replica.socket_dir())?;
        if is_root()? {
            run(Command::new("chown")
                .arg("-R")
                .arg("postgres:postgres")
                .arg(replica.dir.path()))?;
        }
        // `-R` writes `standby.signal` and the `primary_conninfo` that streams from here.
        run(replica
            .pg_command("pg_basebackup")
            .args([
                "-h",
                "127.0.0.1",
                "-p",
                &self.port.to_string(),
                "-U",
                "postgres",
            ])
            .arg("-D")
            .arg(replica.data_dir())
            .args(["-X", "stream", "-R", "--no-sync"]))?;
        let conf_path = replica.data_dir().join("postgresql.conf");
        let mut text = std::fs::read_to_string(&conf_path)?;
        // Later lines win: the copy keeps the primary's port and socket directory otherwise.
        text.push_str(&format!(
            "\n# eventlog test replica\nport = {port}\nunix_socket_directories = '{}'\nhot_standby = on\n",
            replica.socket_dir().display()
        ));
        std::fs::write(&conf_path, text)?;
        replica.pg_ctl_start()?;
        Ok(replica)
    }

    /// The superuser URL of the `postgres` database.
    pub fn url(&self) -> String {
        format!("postgres://postgres@127.0.0.1:{}/postgres", self.port)
    }

    /// The TCP port on 127.0.0.1.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// Stops the server (fast shutdown: clients are disconnected) if it runs, and starts it
    /// again on the same port, keeping its data.
    pub fn restart(&self) -> io::Result<()> {
        if self.is_running() {
            self.stop()?;
        }
        self.pg_ctl_start()
    }

    /// Stops the server (fast shutdown). [`PgCluster::restart`] starts it again.
    pub fn stop(&self) -> io::Result<()> {
        run(self
            .pg_command("pg_ctl")
            .arg("-D")
            .arg(self.data_dir())
            .args(["-w", "-m", "fast", "stop"]))
        .map(drop)
    }

    /// Freezes the server and all its processes (SIGSTOP), as a hung machine or a stalled
    /// disk would: connections stay open, nothing answers. [`PgCluster::resume`] thaws it.
    pub fn pause(&self) -> io::Result<()> {
        self.signal_all("STOP")
    }

    /// Thaws a server frozen by [`PgCluster::pause`] (SIGCONT).
    pub fn resume(&self) -> io::Result<()> {
        self.signal_all("CONT")
    }

    /// Sends `signal` to the postmaster (its pid from `postmaster.pid`) and its children.
    fn signal_all(&self, signal: &str) -> io::Result<()> {
        let pidfile = std::fs::read_to_string(self.data_dir().join("postmaster.pid"))?;
        let postmaster = pidfile
            .lines()
            .next()
            .map(str::trim)
            .filter(|p| !p.is_empty())
            .ok_or_else(|| io::Error::other("postmaster.pid without a pid"))?
            .to_owned();
        let children = Command::new("pgrep").args(["-P", &postmaster]).output()?;
        let mut pids: Vec<String> = String::from_utf8_lossy(&children.stdout)
            .split_whitespace()
            .map(str::to_owned)
            .collect();
        // Children first on STOP (none can notice the parent stopping), parent first on CONT.
        if signal == "CONT" {
            pids.insert(0, postmaster);
        } else {
            pids.push(postmaster);
        }
        run(Command::new("kill").arg(format!("-{signal}")).args(&pids)).map(drop)
    }

    /// Whether the server is running.
    pub fn is_running(&self) -> bool {
        self.pg_command("pg_ctl")
            .arg("-D")
            .arg(self.data_dir())
            .arg("status")
            .output()
            .map(|o| o.status.success())
            .unwrap_or(false)
    }

    fn pg_ctl_start(&self) -> io::Result<()> {
        run(self
            .pg_command("pg_ctl")
            .arg("-D")
            .arg(self.data_dir())
            .arg("-l")
            .arg(self.dir.path().join("server.log"))
            .args(["-w", "-t", "60", "start"]))
        .map(drop)
    }

    fn data_dir(&self) -> PathBuf {
        self.dir.path().join("data")
    }

    fn socket_dir(&self) -> PathBuf {
        self.dir.path().join("socket")
    }

    /// A command running the PostgreSQL program `program`, as `postgres` when we are root.
    fn pg_command(&self, program: &str) -> Command {
        let path = Path::new(PG_BIN).join(program);
        if is_root().unwrap_or(false) {
            let mut c = Command::new("runuser");
            c.args(["-u", "postgres", "--"]).arg(path);
            c
        } else {
            Command::new(path)
        }
    }
}

impl Drop for PgCluster {
    fn drop(&mut self) {
        // A frozen server cannot stop.
        let _ = self.resume();
        if self.is_running() {
            let _ = self
                .pg_command("pg_ctl")
                .arg("-D")
                .arg(self.data_dir())
                .args(["-w", "-m", "immediate", "stop"])
                .output();
        }
        // The TempDir field removes the directory.
    }
}

/// A port on 127.0.0.1 that was free a moment ago. The server binds it a little later; a clash
/// with another process is possible but rare, and shows as a start failure naming the port.
fn free_port() -> io::Result<u16> {
    Ok(TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}

fn is_root() -> io::Result<bool> {
    let out = Command::new("id").arg("-u").output()?;
    Ok(String::from_utf8_lossy(&out.stdout).trim() == "0")
}

/// Runs a command; an unsuccessful exit becomes an error with its output.
fn run(cmd: &mut Command) -> io::Result<Output> {
    let out = cmd.output()?;
    if out.status.success() {
        Ok(out)
    } else {
        Err(io::Error::other(format!(
            "{cmd:?} failed ({}): {}{}",
            out.status,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )))
    }
}

/// Runs each named `async fn` of a test file on both backends: two tests, `sqlite::NAME` and
/// `postgres::NAME`, on a multi-threaded runtime. The PostgreSQL ones fail, never skip, when the
/// test server is missing. What the function is given depends on the form:
///
/// - `on_both_backends!(a, b)`: `async fn a(url: &str)`, the URL of a fresh database;
/// - `on_both_backends!(db: a, b)`: `async fn a(db: TestDb)`, the fresh database itself (the
///   test decides when it is dropped);
/// - `on_both_backends!(backend: a, b)`: `async fn a(backend: &str)`, `"sqlite"` or
///   `"postgres"`, for tests that build their database with [`TestDb::backend`] themselves.
///
/// ```ignore
/// async fn stores_an_event(url: &str) { /* … */ }
/// eventlog_testing::on_both_backends!(stores_an_event);
/// ```
#[macro_export]
macro_rules! on_both_backends {
    (@tests $form:ident: $($name:ident),*) => {
        mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    $crate::on_both_backends!(@call $form, super::$name, "sqlite");
                }
            )*
        }
        mod postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    $crate::on_both_backends!(@call $form, super::$name, "postgres");
                }
            )*
        }
    };
    (@call url, $f:path, $backend:literal) => {
        let db = $crate::TestDb::backend($backend).await;
        $f(db.url()).await
    };
    (@call db, $f:path, $backend:literal) => {
        $f($crate::TestDb::backend($backend).await).await
    };
    (@call backend, $f:path, $backend:literal) => {
        $f($backend).await
    };
    (db: $($name:ident),* $(,)?) => {
        $crate::on_both_backends!(@tests db: $($name),*);
    };
    (backend: $($name:ident),* $(,)?) => {
        $crate::on_both_backends!(@tests backend: $($name),*);
    };
    ($($name:ident),* $(,)?) => {
        $crate::on_both_backends!(@tests url: $($name),*);
    };
}

#[cfg(test)]
mod tests {
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

    #[tokio::test]
    #[should_panic(
        expected = "cannot reach the PostgreSQL test server at EVENTLOG_TEST_POSTGRES_URL=postgres://postgres@127.0.0.1:1/postgres"
    )]
    async fn an_unreachable_server_fails_the_test_and_says_how_to_run_it() {
        admin_connection("postgres://postgres@127.0.0.1:1/postgres").await;
    }

    #[tokio::test]
    async fn a_cluster_starts_restarts_on_the_same_port_and_is_removed() {
        let cluster = PgCluster::start().expect("start a cluster");
        let url = cluster.url();
        let dir = cluster.dir.path().to_owned();
        let one: i32 = {
            let mut c = PgConnection::connect(&url).await.expect("connect");
            sqlx::query_scalar("SELECT 1")
                .fetch_one(&mut c)
                .await
                .expect("query")
        };
        assert_eq!(one, 1);
        cluster.restart().expect("restart");
        assert_eq!(cluster.url(), url, "a restart keeps the port");
        let mut c = PgConnection::connect(&url)
            .await
            .expect("reconnect after restart");
        let fsync: String = sqlx::query_scalar("SHOW fsync")
            .fetch_one(&mut c)
            .await
            .expect("query");
        assert_eq!(fsync, "off");
        drop(c);
        cluster.stop().expect("stop");
        assert!(!cluster.is_running());
        assert!(
            PgConnection::connect(&url).await.is_err(),
            "stopped means unreachable"
        );
        drop(cluster);
        assert!(!dir.exists(), "the cluster directory is removed");
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
