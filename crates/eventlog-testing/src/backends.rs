//! The backend matrix: one test function, one test per backend.

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
///
/// [`TestDb::backend`]: crate::TestDb::backend
#[macro_export]
macro_rules! on_both_backends {
    (@tests $form:ident: $($name:ident),*) => {
        $crate::on_every_backend!(@module sqlite, "sqlite", $form: $($name),*);
        $crate::on_every_backend!(@module postgres, "postgres", $form: $($name),*);
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

/// [`on_both_backends!`] and a third backend, Citus: three tests, `sqlite::NAME`,
/// `postgres::NAME` and `citus::NAME`, with the same forms. The Citus ones run on a fresh
/// database of the cluster `scripts/test` starts ([`TestDb::citus`]) and fail, never skip,
/// when it is missing. The store contract suite runs this way.
///
/// [`TestDb::citus`]: crate::TestDb::citus
#[macro_export]
macro_rules! on_every_backend {
    (@tests $form:ident: $($name:ident),*) => {
        $crate::on_every_backend!(@module sqlite, "sqlite", $form: $($name),*);
        $crate::on_every_backend!(@module postgres, "postgres", $form: $($name),*);
        $crate::on_every_backend!(@module citus, "citus", $form: $($name),*);
    };
    (@module $module:ident, $backend:literal, $form:ident: $($name:ident),*) => {
        mod $module {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    $crate::on_every_backend!(@call $form, super::$name, $backend);
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
        $crate::on_every_backend!(@tests db: $($name),*);
    };
    (backend: $($name:ident),* $(,)?) => {
        $crate::on_every_backend!(@tests backend: $($name),*);
    };
    ($($name:ident),* $(,)?) => {
        $crate::on_every_backend!(@tests url: $($name),*);
    };
}
