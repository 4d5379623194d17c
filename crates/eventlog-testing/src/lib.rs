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

pub mod http;
pub mod process;
pub mod smtp;

mod db;
mod pg_cluster;

pub use db::TestDb;
pub use pg_cluster::PgCluster;

/// The environment variable holding the admin URL of the shared test server, set by
/// `scripts/test` (e.g. `postgres://postgres@127.0.0.1:54321/postgres`).
pub const POSTGRES_URL_ENV: &str = "EVENTLOG_TEST_POSTGRES_URL";

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
