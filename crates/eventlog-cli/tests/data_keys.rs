//! `[database] indexed_data_keys` through the binary: `eventlog migrate` creates the
//! declared keys' indexes and drops those of keys no longer listed, on both backends; a
//! hostile key is refused when the file is read, naming the key and the rule, and nothing
//! is run.

#![allow(clippy::unwrap_used)] // A test: a panic is the failure report.

use std::process::{Command, Output};

use eventlog_testing::TestDb;

eventlog_testing::on_both_backends!(
    db: migrate_creates_and_drops_the_declared_keys_indexes,
    a_hostile_key_is_refused_before_anything_runs,
);

/// Runs `eventlog migrate` on `db` with a configuration file of `database` as its
/// `[database]` section.
fn migrate(db: &TestDb, database: &str) -> (bool, String) {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("eventlog.toml");
    std::fs::write(&config, format!("[database]\n{database}\n")).unwrap();
    let out: Output = Command::new(env!("CARGO_BIN_EXE_eventlog"))
        .arg("migrate")
        .env("EVENTLOG_DATABASE_URL", db.url())
        .env("EVENTLOG_CONFIG", &config)
        .env("NO_COLOR", "1")
        .output()
        .unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// The keys the database lists as indexed, and how many data key indexes it has.
async fn indexed(db: &TestDb) -> (Vec<String>, i64) {
    let store = eventlog::store::open(db.url()).await.unwrap();
    let keys = store.indexed_data_keys().await.unwrap();
    let count = if db.url().starts_with("sqlite") {
        let pool = sqlx::SqlitePool::connect(db.url()).await.unwrap();
        sqlx::query_scalar(
            "SELECT count(*) FROM sqlite_master WHERE type = 'index' AND name LIKE 'events_data_%'",
        )
        .fetch_one(&pool)
        .await
        .unwrap()
    } else {
        let pool = sqlx::PgPool::connect(db.url()).await.unwrap();
        sqlx::query_scalar(
            "SELECT count(*) FROM pg_class c JOIN pg_index i ON i.indexrelid = c.oid \
             WHERE c.relname LIKE 'events_data_%' AND i.indrelid = 'events'::regclass",
        )
        .fetch_one(&pool)
        .await
        .unwrap()
    };
    (keys, count)
}

async fn migrate_creates_and_drops_the_declared_keys_indexes(db: TestDb) {
    let (ok, err) = migrate(&db, r#"indexed_data_keys = ["order_id", "customer.id"]"#);
    assert!(ok, "{err}");
    assert!(
        err.contains("indexed data keys customer.id, order_id"),
        "{err}"
    );
    assert_eq!(
        indexed(&db).await,
        (vec!["customer.id".into(), "order_id".into()], 2)
    );
    // Unchanged: nothing said, nothing done.
    let (ok, err) = migrate(&db, r#"indexed_data_keys = ["customer.id", "order_id"]"#);
    assert!(ok && !err.contains("data keys"), "{err}");
    let (ok, err) = migrate(&db, r#"indexed_data_keys = ["order_id"]"#);
    assert!(ok, "{err}");
    assert!(
        err.contains("dropped the indexes of data keys customer.id"),
        "{err}"
    );
    assert_eq!(indexed(&db).await, (vec!["order_id".into()], 1));
    let (ok, err) = migrate(&db, "");
    assert!(
        ok && err.contains("dropped the indexes of data keys order_id"),
        "{err}"
    );
    assert_eq!(indexed(&db).await, (vec![], 0));
}

async fn a_hostile_key_is_refused_before_anything_runs(db: TestDb) {
    // As TOML writes them: a key that tries SQL, an empty name, an empty key, a NUL.
    for (key, rule) in [
        (
            r#""x'); DROP TABLE events; --""#,
            "only ASCII letters, digits",
        ),
        (r#""a..b""#, "a name is needed between every dot"),
        (r#""""#, "empty"),
        (r#""\u0000""#, "only ASCII letters"),
    ] {
        let line = format!("indexed_data_keys = [{key}]");
        let (ok, err) = migrate(&db, &line);
        assert!(!ok, "{key:?} accepted: {err}");
        assert!(err.contains("indexed data key"), "{key:?}: {err}");
        assert!(err.contains(rule), "{key:?}: {err}");
        assert!(!err.contains("applied"), "nothing ran: {err}");
    }
    // The database is untouched and works.
    let (ok, err) = migrate(&db, r#"indexed_data_keys = ["ok"]"#);
    assert!(ok, "{err}");
    assert_eq!(indexed(&db).await, (vec!["ok".into()], 1));
}
