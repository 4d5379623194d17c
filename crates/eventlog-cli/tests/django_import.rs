//! `eventlog import --from-django`: the real binary reading databases written by
//! django-eventlog 2.2.2 itself (the shared fixtures), a SQLite file and a PostgreSQL dump,
//! into both target backends; plus the 1.x table without `data` and the errors.

use crate::support;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;

use support::eventlog_plain as eventlog;

use eventlog_testing::{TestDb, fixtures};
use serde_json::{Value, json};
use sqlx::Connection;

/// Events and groups in each fixture (see the fixtures' README).
const FIXTURE_EVENTS: usize = 1_013;
const FIXTURE_GROUPS: usize = 105;

eventlog_testing::on_both_backends!(db: sqlite_fixture, postgres_fixture_then_sqlite_fixture);

/// A fresh PostgreSQL database holding the PostgreSQL fixture, loaded with `psql -f` as its
/// README says.
async fn postgres_fixture() -> TestDb {
    let db = TestDb::postgres().await;
    let out = Command::new("psql")
        .args(["-v", "ON_ERROR_STOP=1", "-q", "-f"])
        .arg(fixtures::django_fixtures().join(fixtures::DJANGO_POSTGRES))
        .arg(db.url())
        .output()
        .expect("run psql (PostgreSQL's client must be installed to load the fixture)");
    assert!(
        out.status.success(),
        "loading the PostgreSQL fixture failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    db
}

/// Runs `eventlog import --from-django SOURCE` and returns its stderr, asserting success.
fn import_ok(target: &str, source: &str) -> String {
    let out = eventlog(target, &["import", "--from-django", source]);
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(out.status.success(), "import failed: {stderr}");
    stderr
}

/// Asserts that `stderr` contains `expected`.
fn assert_says(stderr: &str, expected: &str) {
    assert!(
        stderr.contains(expected),
        "{expected:?} missing from {stderr}"
    );
}

/// Runs the import expecting failure; returns stderr.
fn import_fails(target: &str, source: &str) -> String {
    let out = eventlog(target, &["import", "--from-django", source]);
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(!out.status.success(), "import should fail: {stderr}");
    stderr
}

/// One event reduced to what both sides can say: type, group, timestamp
/// (`YYYY-MM-DD HH:MM:SS.ffffff` UTC), message, initiator, data.
type Row = (
    String,
    String,
    String,
    String,
    Option<String>,
    Option<Value>,
);

/// Every event stored in `target`, read back through `eventlog export`.
fn exported(target: &str) -> Vec<Row> {
    let out = eventlog(target, &["export", "--format", "jsonl"]);
    assert!(out.status.success());
    let mut rows: Vec<Row> = String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(|line| {
            let v: Value = serde_json::from_str(line).unwrap();
            let ts = v["timestamp"].as_str().unwrap();
            assert!(ts.ends_with('Z'), "{ts}");
            (
                v["type"].as_str().unwrap().to_owned(),
                v["group"].as_str().unwrap().to_owned(),
                ts.trim_end_matches('Z').replacen('T', " ", 1),
                v["message"].as_str().unwrap().to_owned(),
                v["initiator"].as_str().map(str::to_owned),
                v.get("data").filter(|d| !d.is_null()).cloned(),
            )
        })
        .collect();
    sort(&mut rows);
    rows
}

/// Sorted by every field (JSON values have no order of their own: by their text).
fn sort(rows: &mut [Row]) {
    rows.sort_by_cached_key(|r| {
        let (t, g, ts, m, i, d) = r.clone();
        (t, g, ts, m, i, d.map(|d| d.to_string()))
    });
}

type SourceRow = (
    String,
    String,
    String,
    String,
    Option<String>,
    Option<String>,
);

fn to_rows(source: Vec<SourceRow>) -> Vec<Row> {
    let mut rows: Vec<Row> = source
        .into_iter()
        .map(|(t, g, ts, m, i, d)| {
            let data = d.map(|d| serde_json::from_str::<Value>(&d).unwrap());
            (t, g, ts, m, i, data)
        })
        .collect();
    sort(&mut rows);
    rows
}

/// The rows of the SQLite fixture, read with SQL of its own (not the importer's).
async fn sqlite_source_rows(path: &Path) -> Vec<Row> {
    let mut conn = sqlx::SqliteConnection::connect(&format!("sqlite://{}", path.display()))
        .await
        .unwrap();
    // Django leaves out the fraction when the microseconds are 0.
    let rows: Vec<SourceRow> = sqlx::query_as(
        "SELECT type, \"group\", CASE WHEN instr(timestamp, '.') > 0 THEN timestamp \
         ELSE timestamp || '.000000' END, message, initiator, data FROM eventlog_event",
    )
    .fetch_all(&mut conn)
    .await
    .unwrap();
    to_rows(rows)
}

/// The rows of a PostgreSQL django-eventlog table, read with SQL of its own.
async fn postgres_source_rows(url: &str) -> Vec<Row> {
    let mut conn = sqlx::PgConnection::connect(url).await.unwrap();
    let rows: Vec<SourceRow> = sqlx::query_as(
        "SELECT type::text, \"group\"::text, \
         to_char(\"timestamp\" AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS.US'), message, \
         initiator::text, data::text FROM eventlog_event",
    )
    .fetch_all(&mut conn)
    .await
    .unwrap();
    to_rows(rows)
}

/// What both fixtures hold, checked on the imported events.
fn check_fixture_events(rows: &[Row]) {
    assert_eq!(rows.len(), FIXTURE_EVENTS);
    let groups: BTreeSet<&str> = rows.iter().map(|r| r.1.as_str()).collect();
    assert_eq!(groups.len(), FIXTURE_GROUPS);
    let order: Vec<&Row> = rows.iter().filter(|r| r.1 == "Order 1234").collect();
    assert_eq!(order.len(), 3, "{order:?}");
    assert!(order.iter().any(|r| r.0 == "info"
        && r.3 == "Sent order to Shopify"
        && r.5 == Some(json!({"items": [1, 2, 3], "total": 99.5, "nested": {"ok": true}}))));
    let warning = order.iter().find(|r| r.0 == "warning").unwrap();
    assert_eq!(warning.3, "Ünïcödé ✓ — ordre reçu");
    assert_eq!(warning.4.as_ref().map(|i| i.chars().count()), Some(500));
    // Data django-eventlog could not serialize was stored as a JSON string of its repr: it
    // stays that string.
    assert_eq!(warning.5, Some(json!("{'decimal': Decimal('1.10')}")));
    assert!(order.iter().any(|r| r.0 == "critical"));
    let legacy: Vec<&Row> = rows.iter().filter(|r| r.1 == "legacy").collect();
    assert_eq!(legacy.len(), 1);
    assert_eq!(legacy[0].0, "legacy_event");
    assert_eq!(legacy[0].3, "Left over from an old type");
    // Bulk events: timestamps without a fraction survive as .000000.
    assert!(rows.iter().any(|r| r.2 == "2025-11-01 10:00:00.000000"));
    assert!(rows.iter().any(|r| r.5 == Some(json!({"i": 5}))));
}

async fn sqlite_fixture(target: TestDb) {
    let dir = tempfile::tempdir().unwrap();
    let source = fixtures::django_sqlite_copy(dir.path());
    let stderr = import_ok(target.url(), source.to_str().unwrap());
    assert_says(
        &stderr,
        &format!(
            "imported {FIXTURE_EVENTS} events from django-eventlog at {} (0 already present, 0 skipped)",
            source.display()
        ),
    );
    let imported = exported(target.url());
    check_fixture_events(&imported);
    // Every row, field by field, timestamps to the microsecond.
    assert_eq!(imported, sqlite_source_rows(&source).await);

    // Idempotent, also through the sqlite:// spelling of the same file.
    let again = import_ok(
        target.url(),
        &format!("sqlite://{}", source.to_str().unwrap()),
    );
    assert_says(
        &again,
        &format!(
            "imported 0 events from django-eventlog at sqlite://{} ({FIXTURE_EVENTS} already present, 0 skipped)",
            source.display()
        ),
    );
    assert_eq!(exported(target.url()).len(), FIXTURE_EVENTS);
}

async fn postgres_fixture_then_sqlite_fixture(target: TestDb) {
    let source = postgres_fixture().await;
    let stderr = import_ok(target.url(), source.url());
    assert_says(
        &stderr,
        &format!("imported {FIXTURE_EVENTS} events from django-eventlog at "),
    );
    let imported = exported(target.url());
    check_fixture_events(&imported);
    assert_eq!(imported, postgres_source_rows(source.url()).await);

    let again = import_ok(target.url(), source.url());
    assert_says(&again, "imported 0 events from django-eventlog at ");
    assert_says(
        &again,
        &format!("({FIXTURE_EVENTS} already present, 0 skipped)"),
    );

    // The SQLite fixture is another database with the same row ids. Its first 13 rows are
    // other events (same ids and groups, other microseconds): they are stored beside these.
    // Its 1,000 bulk rows are the very same rows as in the PostgreSQL fixture (same id,
    // timestamp, group, type and text, made by one seeded script), as in a project copied from
    // one database to another: they are recognised and stored once.
    let dir = tempfile::tempdir().unwrap();
    let other = fixtures::django_sqlite_copy(dir.path());
    let stderr = import_ok(target.url(), other.to_str().unwrap());
    assert!(
        stderr.contains("imported 13 events from django-eventlog at ")
            && stderr.contains("(1000 already present, 0 skipped)"),
        "{stderr}"
    );
    let both = exported(target.url());
    assert_eq!(both.len(), FIXTURE_EVENTS + 13);
    assert_eq!(both.iter().filter(|r| r.1 == "Order 1234").count(), 6);
    assert_eq!(both.iter().filter(|r| r.0 == "legacy_event").count(), 2);
}

/// django-eventlog 1.x: the same table without `data`, here on PostgreSQL.
#[tokio::test]
async fn django_eventlog_1x_table_without_data() {
    let source = postgres_fixture().await;
    let mut conn = sqlx::PgConnection::connect(source.url()).await.unwrap();
    sqlx::raw_sql("ALTER TABLE eventlog_event DROP COLUMN data")
        .execute(&mut conn)
        .await
        .unwrap();
    conn.close().await.unwrap();
    let target = TestDb::sqlite();
    import_ok(target.url(), source.url());
    let rows = exported(target.url());
    assert_eq!(rows.len(), FIXTURE_EVENTS);
    assert!(rows.iter().all(|r| r.5.is_none()));
    assert!(rows.iter().any(|r| r.0 == "legacy_event"));
}

async fn sqlite_source(dir: &Path, schema_and_rows: &str) -> PathBuf {
    let path = dir.join("project.sqlite3");
    let mut conn =
        sqlx::SqliteConnection::connect(&format!("sqlite://{}?mode=rwc", path.display()))
            .await
            .unwrap();
    sqlx::raw_sql(sqlx::AssertSqlSafe(schema_and_rows.to_owned()))
        .execute(&mut conn)
        .await
        .unwrap();
    conn.close().await.unwrap();
    path
}

#[tokio::test]
async fn missing_table_wrong_columns_and_missing_file_are_clear_errors() {
    let target = TestDb::sqlite();
    let dir = tempfile::tempdir().unwrap();

    let empty = sqlite_source(dir.path(), "CREATE TABLE auth_user (id integer)").await;
    let stderr = import_fails(target.url(), empty.to_str().unwrap());
    assert_says(
        &stderr,
        "has no table eventlog_event: is it the database of a Django project",
    );

    let pg_empty = TestDb::postgres().await;
    let stderr = import_fails(target.url(), pg_empty.url());
    assert_says(&stderr, "has no table eventlog_event");

    std::fs::remove_file(&empty).unwrap();
    let wrong = sqlite_source(
        dir.path(),
        "CREATE TABLE eventlog_event (id integer primary key, type text, message text, \
         created text)",
    )
    .await;
    let stderr = import_fails(target.url(), wrong.to_str().unwrap());
    assert_says(
        &stderr,
        "table eventlog_event has no column group, timestamp, initiator: it is not a \
             django-eventlog table",
    );
    assert_says(&stderr, "found id, type, message, created");

    let missing = dir.path().join("nope.sqlite3");
    let stderr = import_fails(target.url(), missing.to_str().unwrap());
    assert_says(
        &stderr,
        &format!("SQLite database {} does not exist", missing.display()),
    );
    assert!(!missing.exists(), "the import must not create the source");

    let stderr = import_fails(target.url(), "mysql://root@localhost/shop");
    assert_says(&stderr, "unsupported django-eventlog source");
    // Nothing was stored by the failed runs.
    assert!(exported(target.url()).is_empty());
}

/// SQLite does not enforce column lengths, so a table written by other code can hold rows
/// eventlog refuses: each is named with its rule, the others are stored, the command fails.
#[tokio::test]
async fn rows_breaking_the_rules_are_listed_and_the_rest_imported() {
    let target = TestDb::sqlite();
    let dir = tempfile::tempdir().unwrap();
    let long_group = "g".repeat(41);
    let source = sqlite_source(
        dir.path(),
        &format!(
            "CREATE TABLE eventlog_event (id integer primary key, type varchar(50), \
             \"group\" varchar(40), timestamp datetime, message text, initiator varchar(500));
             INSERT INTO eventlog_event VALUES
               (1, 'info', 'ok', '2024-01-02 03:04:05.000006', 'fine', NULL),
               (2, 'info', '{long_group}', '2024-01-02 03:04:06', 'too long a group', NULL),
               (3, 'info', 'ok', '2024-01-02 03:04:07', '', NULL),
               (4, 'info', 'ok', 'last tuesday', 'bad time', NULL),
               (5, 'no-such type', 'ok', '2024-01-02 03:04:08', 'bad type', NULL),
               (6, 'warning', 'ok', '2024-01-02 03:04:09.5', 'fine too', 'cron');"
        ),
    )
    .await;
    let stderr = import_fails(target.url(), source.to_str().unwrap());
    assert_says(
        &stderr,
        "row id 2 skipped: group id \"ggggggggggggggggggggggggggggggggggggggggg\" is 41 characters long",
    );
    assert_says(&stderr, "row id 3 skipped: message is empty");
    assert_says(
        &stderr,
        "row id 4 skipped: timestamp \"last tuesday\" is not a date and time",
    );
    assert_says(
        &stderr,
        "row id 5 skipped: event type name \"no-such type\" is invalid",
    );
    assert!(
        stderr.contains("(0 already present, 4 skipped)") && stderr.contains("imported 2 events"),
        "{stderr}"
    );
    let rows = exported(target.url());
    assert_eq!(
        rows.iter()
            .map(|r| (r.2.as_str(), r.3.as_str()))
            .collect::<Vec<_>>(),
        [
            ("2024-01-02 03:04:05.000006", "fine"),
            ("2024-01-02 03:04:09.500000", "fine too")
        ]
    );
}
