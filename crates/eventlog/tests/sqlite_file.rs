//! The SQLite file itself: private permissions, a full database that recovers, a WAL that
//! does not grow without bound. Real database files in temporary directories.

use std::os::unix::fs::PermissionsExt;
use std::time::Duration;

use eventlog::store::sqlite::SqliteStore;
use eventlog::store::{ReadStore, WriteStore};
use eventlog::{GroupId, NewEvent};
use eventlog_testing::TestDb;

fn events(n: usize, tag: &str) -> Vec<NewEvent> {
    let group = GroupId::random();
    (0..n)
        .map(|i| {
            NewEvent::new(
                "info",
                group.clone(),
                format!("{tag} event {i} with a message long enough to fill pages quickly"),
            )
        })
        .collect()
}

async fn open(db: &TestDb) -> SqliteStore {
    let store = SqliteStore::connect(db.url()).await.expect("connect");
    store.migrate().await.expect("migrate");
    store
}

fn path(db: &TestDb) -> String {
    db.url().trim_start_matches("sqlite://").to_owned()
}

/// `PRAGMA max_page_count` holds per connection: set it on every connection of the pool,
/// until a round finds all of them set (a connection the pool opened meanwhile gets it too).
async fn set_max_pages(store: &SqliteStore, pages: i64) {
    loop {
        let mut held = Vec::new();
        let mut all_set = true;
        for _ in 0..8 {
            let mut conn = store.pool().acquire().await.expect("acquire");
            let now: i64 = sqlx::query_scalar("PRAGMA max_page_count")
                .fetch_one(&mut *conn)
                .await
                .expect("pragma");
            if now != pages {
                all_set = false;
                let sql = format!("PRAGMA max_page_count = {pages}");
                sqlx::query(sqlx::AssertSqlSafe(sql))
                    .execute(&mut *conn)
                    .await
                    .expect("pragma");
            }
            held.push(conn);
        }
        drop(held);
        if all_set {
            return;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test]
async fn database_and_wal_files_are_private() {
    let db = TestDb::sqlite();
    let store = open(&db).await;
    store.insert_batch(&events(10, "perm")).await.unwrap();
    let p = path(&db);
    for file in [p.clone(), format!("{p}-wal"), format!("{p}-shm")] {
        let mode = std::fs::metadata(&file)
            .unwrap_or_else(|e| panic!("{file}: {e}"))
            .permissions()
            .mode()
            & 0o777;
        assert_eq!(mode & 0o077, 0, "{file} is {mode:o}: readable by others");
    }
}

#[tokio::test]
async fn a_full_database_fails_cleanly_and_recovers_when_space_returns() {
    let db = TestDb::sqlite();
    let store = open(&db).await;
    store.insert_batch(&events(100, "before")).await.unwrap();
    let pages: i64 = sqlx::query_scalar("PRAGMA page_count")
        .fetch_one(store.pool())
        .await
        .unwrap();
    set_max_pages(&store, pages).await;
    // Every attempt while full fails as "full" (transient), never with a connection left
    // inside a half-finished transaction.
    for attempt in 0..20 {
        let err = store
            .insert_batch(&events(2_000, "while full"))
            .await
            .expect_err("the database is full");
        assert!(err.is_full(), "attempt {attempt}: {err}");
        assert!(
            err.is_transient(),
            "a full disk is worth waiting for: {err}"
        );
    }
    assert_eq!(
        store.count(&Default::default()).await.unwrap(),
        100,
        "nothing of a failed batch is stored"
    );

    set_max_pages(&store, 1_000_000).await;
    let stored = store
        .insert_batch(&events(2_000, "after"))
        .await
        .expect("the first write after space returns succeeds");
    assert_eq!(stored.len(), 2_000);
    assert_eq!(store.count(&Default::default()).await.unwrap(), 2_100);
}

#[tokio::test]
async fn the_wal_is_truncated_when_idle_and_at_close() {
    let db = TestDb::sqlite();
    let store = open(&db).await;
    for _ in 0..5 {
        store.insert_batch(&events(2_000, "wal")).await.unwrap();
    }
    let wal = format!("{}-wal", path(&db));
    let size = || std::fs::metadata(&wal).map(|m| m.len()).unwrap_or(0);
    assert!(size() > 0, "writes went to the WAL");
    // Upkeep right after a write leaves the WAL alone; once writes stopped it truncates.
    store.maintain(1_000).await.unwrap();
    tokio::time::sleep(eventlog::store::sqlite::IDLE_CHECKPOINT + Duration::from_millis(200)).await;
    store.maintain(1_000).await.unwrap();
    assert_eq!(size(), 0, "idle upkeep truncates the WAL");

    store.insert_batch(&events(2_000, "again")).await.unwrap();
    assert!(size() > 0);
    store.close().await;
    assert_eq!(size(), 0, "close leaves no WAL content behind");
    drop(store);
    let store = open(&db).await;
    assert_eq!(store.count(&Default::default()).await.unwrap(), 12_000);
}

#[tokio::test]
async fn a_wal_held_open_by_a_reader_is_truncated_once_it_passes_the_limit() {
    let db = TestDb::sqlite();
    let store = open(&db).await;
    let wal = format!("{}-wal", path(&db));
    let size = || std::fs::metadata(&wal).map(|m| m.len()).unwrap_or(0);

    // A reader holding a snapshot keeps SQLite's own checkpoints from reusing the WAL, so
    // every batch appends to it: the way a steady read load lets it grow.
    let mut reader = store.pool().acquire().await.unwrap();
    sqlx::query("BEGIN").execute(&mut *reader).await.unwrap();
    let _: i64 = sqlx::query_scalar("SELECT count(*) FROM events")
        .fetch_one(&mut *reader)
        .await
        .unwrap();
    let filler = "x".repeat(16_000);
    let group = GroupId::random();
    let batch = |round: usize| -> Vec<NewEvent> {
        (0..250)
            .map(|i| NewEvent::new("info", group.clone(), format!("{round}-{i} {filler}")))
            .collect()
    };
    let mut round = 0;
    while size() <= eventlog::store::sqlite::WAL_LIMIT {
        store.insert_batch(&batch(round)).await.unwrap();
        round += 1;
        assert!(
            round < 200,
            "the WAL never passed the limit: {} bytes",
            size()
        );
    }
    sqlx::query("COMMIT").execute(&mut *reader).await.unwrap();
    drop(reader);

    // The next write finds the WAL past the limit and truncates it at once, long before the
    // idle checkpoint would (the file was written a moment ago).
    store.insert_batch(&batch(round)).await.unwrap();
    assert_eq!(
        size(),
        0,
        "a write that finds the WAL past {} bytes truncates it",
        eventlog::store::sqlite::WAL_LIMIT
    );
    assert_eq!(
        store.count(&Default::default()).await.unwrap(),
        (round as u64 + 1) * 250
    );
}
