//! A damaged SQLite file is noticed: `eventlog check` names the damage and fails, and the
//! server answers `503 database damaged — run eventlog check` instead of 500s. The damage is
//! real: a page of the events table overwritten on disk.

use crate::support;

use std::io::{Seek as _, SeekFrom, Write as _};
use std::time::Duration;

use eventlog::store;
use eventlog::{GroupId, NewEvent};
use sqlx::Connection as _;
use support::{Serve, ServeSpec, http};

/// A closed SQLite file holding `n` events (the WAL folded into it).
async fn file_with_events(dir: &std::path::Path, n: usize) -> String {
    let url = format!("sqlite://{}", dir.join("events.db").display());
    let store = store::open(&url).await.unwrap();
    let events: Vec<NewEvent> = (0..n)
        .map(|i| NewEvent::new("info", GroupId::random(), format!("event number {i}")))
        .collect();
    for chunk in events.chunks(500) {
        store.insert_batch(chunk).await.unwrap();
    }
    store.close().await;
    url
}

/// Overwrites the root page of the `events` table with bytes no b-tree page starts with.
async fn damage_events_table(url: &str) {
    let mut conn = sqlx::SqliteConnection::connect(url).await.unwrap();
    let root: i64 = sqlx::query_scalar("SELECT rootpage FROM sqlite_master WHERE name = 'events'")
        .fetch_one(&mut conn)
        .await
        .unwrap();
    let page_size: i64 = sqlx::query_scalar("PRAGMA page_size")
        .fetch_one(&mut conn)
        .await
        .unwrap();
    conn.close().await.unwrap();
    let path = url.strip_prefix("sqlite://").unwrap();
    let mut file = std::fs::OpenOptions::new().write(true).open(path).unwrap();
    file.seek(SeekFrom::Start(((root - 1) * page_size) as u64))
        .unwrap();
    file.write_all(&vec![0xA5; page_size as usize]).unwrap();
    file.sync_all().unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn check_passes_on_a_sound_file_and_names_the_damage_of_a_broken_one() {
    let dir = tempfile::tempdir().unwrap();
    let url = file_with_events(dir.path(), 3000).await;

    let sound = support::eventlog(&url, &["check"], None);
    assert!(
        sound.status.success(),
        "{}",
        String::from_utf8_lossy(&sound.stderr)
    );
    assert_eq!(
        String::from_utf8_lossy(&sound.stdout).trim(),
        "ok: SQLite integrity_check, search index of events, search index of groups"
    );

    damage_events_table(&url).await;
    let damaged = support::eventlog(&url, &["check"], None);
    assert!(!damaged.status.success());
    let problems = String::from_utf8_lossy(&damaged.stdout);
    assert!(!problems.trim().is_empty(), "the problems are listed");
    let stderr = String::from_utf8_lossy(&damaged.stderr);
    assert!(
        stderr.starts_with("error: the database is damaged ("),
        "{stderr}"
    );
    assert!(stderr.contains("\nhint: "), "{stderr}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_damaged_file_is_answered_with_503_naming_eventlog_check() {
    let dir = tempfile::tempdir().unwrap();
    let url = file_with_events(dir.path(), 3000).await;
    let token = support::eventlog(&url, &["token", "add", "reader", "--scope", "read"], None);
    let token = String::from_utf8(token.stdout).unwrap().trim().to_owned();
    damage_events_table(&url).await;

    let server = Serve::start(ServeSpec::new(&url));
    let client = http(Duration::from_secs(30));
    for path in ["/api/v1/events", "/api/v1/events?q=number"] {
        let resp = client
            .get(server.url(path))
            .bearer_auth(&token)
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 503, "{path}: {}", server.log());
        assert!(resp.headers().get("retry-after").is_none());
        let body = resp.text().await.unwrap();
        assert!(body.contains("database damaged"), "{body}");
        assert!(body.contains("eventlog check"), "{body}");
    }
    assert!(
        server.log().contains("the database is damaged"),
        "{}",
        server.log()
    );
}
