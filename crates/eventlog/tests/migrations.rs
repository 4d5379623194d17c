//! Migrations carry an existing database forward: a database at an older schema, with events
//! in it, opens with `store::open` (which applies the newer migrations) and reads back the
//! same, on SQLite and PostgreSQL.

#![allow(clippy::unwrap_used)] // A test: a panic is the failure report.

use std::path::{Path, PathBuf};

use eventlog::store::{self, EventFilter, Order, Store, WriteStore};
use eventlog::{GroupId, NewEvent};
use eventlog_testing::TestDb;

use crate::support::{charted, listed, wrong_group_type_counts};

/// The newest migration the old database has: everything after it is applied by the upgrade.
const OLD_SCHEMA: i64 = 7;

/// The migration files of `backend` up to `version`, copied to a directory of their own.
fn migrations_up_to(backend: &str, version: i64) -> tempfile::TempDir {
    let src = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("migrations")
        .join(backend);
    let dir = tempfile::tempdir().unwrap();
    let mut copied = 0;
    for entry in std::fs::read_dir(&src).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        let number: i64 = name.split('_').next().unwrap().parse().unwrap();
        if number <= version {
            std::fs::copy(&path, dir.path().join(&name)).unwrap();
            copied += 1;
        }
    }
    assert!(copied >= 5, "found the migrations in {}", src.display());
    dir
}

async fn old_migrator(backend: &str) -> (tempfile::TempDir, sqlx::migrate::Migrator) {
    migrator_up_to(backend, OLD_SCHEMA).await
}

async fn migrator_up_to(
    backend: &str,
    version: i64,
) -> (tempfile::TempDir, sqlx::migrate::Migrator) {
    let dir = migrations_up_to(backend, version);
    let migrator = sqlx::migrate::Migrator::new(Path::new(dir.path()))
        .await
        .unwrap();
    (dir, migrator)
}

/// Events of several groups and types, a rare type among them.
fn events() -> Vec<NewEvent> {
    let mut out = Vec::new();
    for i in 0..300 {
        let group = GroupId::named(format!("order-{}", i / 20)).unwrap();
        let ty = match i {
            7 => "critical",
            i if i % 3 == 0 => "warning",
            _ => "info",
        };
        let mut e = NewEvent::new(ty, group, format!("Order step {i} gateway timeout"));
        e.initiator = Some(format!("user:{i}"));
        out.push(e);
    }
    out
}

/// After the upgrade: everything stored before reads back, filters and search answer, and
/// new events are stored.
async fn check_upgraded(store: &dyn Store) {
    let all = EventFilter::default();
    assert_eq!(store.count(&all).await.unwrap(), 300);
    // The chart's per-day counts were filled from the events by the upgrade.
    assert_eq!(charted(store, &all, 86_400).await, 300);
    let summary = store.group_summary("order-0").await.unwrap().unwrap();
    assert_eq!(summary.event_count, 20);
    let typed = |t: &str| EventFilter {
        types: vec![t.into()],
        ..EventFilter::default()
    };
    let critical = listed(store, &typed("critical"), Order::Desc, 100).await;
    assert_eq!(critical.len(), 1);
    assert_eq!(critical[0].message, "Order step 7 gateway timeout");
    let warnings = listed(store, &typed("warning"), Order::Desc, 10).await;
    assert_eq!(warnings.len(), 10);
    assert!(warnings.iter().all(|e| e.event_type == "warning"));
    let search = EventFilter {
        text: Some("user:299".into()),
        ..EventFilter::default()
    };
    let found = store.list(&search, Order::Desc, None, 10).await.unwrap();
    assert_eq!(found.items.len(), 1);
    let mut new = NewEvent::new("critical", GroupId::named("order-0").unwrap(), "after");
    new.initiator = Some("user:1000".into());
    assert!(store.insert_batch(&[new]).await.unwrap()[0].created);
    assert_eq!(
        listed(store, &typed("critical"), Order::Desc, 100)
            .await
            .len(),
        2
    );
}

#[tokio::test]
async fn sqlite_database_at_0007_is_carried_forward() {
    let db = TestDb::sqlite();
    let old = store::sqlite::SqliteStore::connect(db.url()).await.unwrap();
    let (_dir, migrator) = old_migrator("sqlite").await;
    migrator.run(old.pool()).await.unwrap();
    // The store's insert path works on the old schema, but for the per-period counts of
    // 0013, which it writes with every batch: tables of their shape take them here and are
    // dropped again, so that 0013 makes them and fills them from the events.
    sqlx::raw_sql(
        "CREATE TABLE event_hour_counts (hour INTEGER, event_type TEXT, event_count INTEGER, \
         PRIMARY KEY (hour, event_type)); \
         CREATE TABLE event_day_counts (day INTEGER, event_type TEXT, event_count INTEGER, \
         PRIMARY KEY (day, event_type)); \
         CREATE TABLE notify_routes (channel TEXT, event_type TEXT, delay_ms INTEGER)",
    )
    .execute(old.pool())
    .await
    .unwrap();
    old.insert_batch(&events()).await.unwrap();
    sqlx::raw_sql(
        "DROP TABLE event_hour_counts; DROP TABLE event_day_counts; DROP TABLE notify_routes",
    )
    .execute(old.pool())
    .await
    .unwrap();
    old.close().await;
    let store = store::open(db.url()).await.unwrap();
    check_upgraded(store.as_ref()).await;
}

/// A PostgreSQL database at schema 0007 holding [`events`], written as the 0007 schema's
/// store wrote them; returns the events.
async fn postgres_at_0007(db: &TestDb) -> Vec<NewEvent> {
    let old = store::postgres::PostgresStore::connect(db.url())
        .await
        .unwrap();
    let (_dir, migrator) = old_migrator("postgres").await;
    migrator.run(old.pool()).await.unwrap();
    // Written as the 0007 schema's store wrote them: the current insert path needs the
    // uuid table of migration 0011.
    let events = events();
    let texts = |f: fn(&NewEvent) -> String| events.iter().map(f).collect::<Vec<_>>();
    let groups = texts(|e| e.group.to_string());
    let types = texts(|e| e.event_type.clone());
    let times: Vec<_> = events.iter().map(|e| e.timestamp).collect();
    let gids: Vec<i64> = sqlx::query_scalar(
        "INSERT INTO event_groups (group_id, first_at, last_at, event_count) \
         SELECT g, min(ts), max(ts), count(*) FROM UNNEST($1::text[], $2::timestamptz[]) \
         x(g, ts) GROUP BY g RETURNING gid",
    )
    .bind(&groups)
    .bind(&times)
    .fetch_all(old.pool())
    .await
    .unwrap();
    assert_eq!(gids.len(), 15);
    sqlx::query(
        "INSERT INTO event_group_types (group_id, event_type, event_count) \
         SELECT g, t, count(*) FROM UNNEST($1::text[], $2::text[]) x(g, t) GROUP BY g, t",
    )
    .bind(&groups)
    .bind(&types)
    .execute(old.pool())
    .await
    .unwrap();
    sqlx::query(
        "INSERT INTO events (uuid, event_type, gid, ts, message, initiator) \
         SELECT u, t, (SELECT gid FROM event_groups WHERE group_id = g), ts, m, i \
         FROM UNNEST($1::uuid[], $2::text[], $3::text[], $4::timestamptz[], $5::text[], \
         $6::text[]) WITH ORDINALITY x(u, t, g, ts, m, i, ord) ORDER BY ord",
    )
    .bind(events.iter().map(|e| e.uuid).collect::<Vec<_>>())
    .bind(&types)
    .bind(&groups)
    .bind(&times)
    .bind(events.iter().map(|e| e.message.clone()).collect::<Vec<_>>())
    .bind(
        events
            .iter()
            .map(|e| e.initiator.clone())
            .collect::<Vec<_>>(),
    )
    .execute(old.pool())
    .await
    .unwrap();
    old.pool().close().await;
    events
}

#[tokio::test]
async fn postgres_database_at_0007_is_carried_forward() {
    let db = TestDb::postgres().await;
    let events = postgres_at_0007(&db).await;
    let store = store::open(db.url()).await.unwrap();
    check_upgraded(store.as_ref()).await;
    // 0012: the type index is the type alone (the wide one is gone).
    let pool = sqlx::PgPool::connect(db.url()).await.unwrap();
    let type_indexes: Vec<String> = sqlx::query_scalar(
        "SELECT indexdef FROM pg_indexes WHERE tablename = 'events' \
         AND indexdef LIKE '%event_type%' ORDER BY indexname",
    )
    .fetch_all(&pool)
    .await
    .unwrap();
    assert_eq!(
        type_indexes,
        ["CREATE INDEX events_type ON public.events USING btree (event_type)"]
    );
    // The upgrade recorded the stored uuids (0011): sending them again stores nothing.
    let again = store.insert_batch(&events).await.unwrap();
    assert!(again.iter().all(|i| !i.created));
    assert_eq!(
        store.count(&EventFilter::default()).await.unwrap(),
        events.len() as u64 + 1
    );
}

/// A database at 0013 (the last schema with `event_uuids.id` and per-type group counts
/// keyed by group text), unpartitioned or carried over to partitions by `eventlog
/// partition`, opens with 0014 applied: everything reads back, the stored uuids are still
/// claimed (with the ids they had), the per-type counts equal a recount by group number,
/// and the transaction id index is a BRIN index.
async fn postgres_at_0013_is_carried_forward(partitioned: bool) {
    let db = TestDb::postgres().await;
    let events = postgres_at_0007(&db).await;
    let old = store::postgres::PostgresStore::connect(db.url())
        .await
        .unwrap();
    let (_dir, migrator) = migrator_up_to("postgres", 13).await;
    migrator.run(old.pool()).await.unwrap();
    assert!(!old.is_partitioned().await.unwrap());
    if partitioned {
        // `eventlog partition` on the 0013 schema (it copies rows as they are).
        old.partition_events(100, None).await.unwrap();
        assert!(old.is_partitioned().await.unwrap());
    }
    let ids: Vec<i64> = sqlx::query_scalar("SELECT id FROM event_uuids ORDER BY id")
        .fetch_all(old.pool())
        .await
        .unwrap();
    assert_eq!(ids.len(), events.len());
    old.pool().close().await;

    let store = store::open(db.url()).await.unwrap();
    let pool = sqlx::PgPool::connect(db.url()).await.unwrap();
    let pg = store::postgres::PostgresStore::connect(db.url())
        .await
        .unwrap();
    assert_eq!(pg.is_partitioned().await.unwrap(), partitioned);
    // The uuids claimed before read back as repeats of the same ids.
    let again = store.insert_batch(&events).await.unwrap();
    assert!(again.iter().all(|i| !i.created));
    let mut again_ids: Vec<i64> = again.iter().map(|i| i.id).collect();
    again_ids.sort_unstable();
    assert_eq!(again_ids, ids);
    for e in &events[..3] {
        let by_uuid = store.get_by_uuid(e.uuid).await.unwrap().unwrap();
        assert_eq!(by_uuid.message, e.message);
    }
    check_upgraded(store.as_ref()).await;
    let columns: Vec<String> = sqlx::query_scalar(
        "SELECT attname::text FROM pg_attribute WHERE attrelid = 'event_uuids'::regclass \
         AND attnum > 0 AND NOT attisdropped ORDER BY attnum",
    )
    .fetch_all(&pool)
    .await
    .unwrap();
    assert_eq!(columns, ["uuid", "ts"]);
    assert_eq!(
        wrong_group_type_counts(&pool).await,
        0,
        "per-type group counts equal a recount"
    );
    let xid_index: String = sqlx::query_scalar(
        "SELECT indexdef FROM pg_indexes WHERE tablename = 'events' AND indexname = 'events_xid'",
    )
    .fetch_one(&pool)
    .await
    .unwrap();
    assert!(
        xid_index.contains("USING brin ((((xid)::text)::bigint))"),
        "{xid_index}"
    );
    // The groups page filtered by type reads the per-type counts by group number.
    let critical = store
        .groups(
            &store::GroupFilter {
                types: vec!["critical".into()],
                ..store::GroupFilter::default()
            },
            None,
            100,
        )
        .await
        .unwrap();
    let mut groups: Vec<&str> = critical.items.iter().map(|g| g.group.as_str()).collect();
    groups.sort_unstable();
    assert_eq!(groups, ["order-0"]);
}

#[tokio::test]
async fn postgres_database_at_0013_unpartitioned_is_carried_forward() {
    postgres_at_0013_is_carried_forward(false).await;
}

#[tokio::test]
async fn postgres_database_at_0013_partitioned_is_carried_forward() {
    postgres_at_0013_is_carried_forward(true).await;
}

/// The ids a search for `text` lists, newest first.
async fn searched(store: &dyn Store, text: &str) -> Vec<i64> {
    let filter = EventFilter {
        text: Some(text.into()),
        ..EventFilter::default()
    };
    crate::support::listed_ids(store, &filter, Order::Desc, 1_000).await
}

/// Searches whose answers must not change across the upgrade: every word of the events,
/// words of a few of them, a word prefix, an initiator, group ids.
const SEARCHES: [&str; 8] = [
    "timeout",
    "gateway timeout",
    "step 12",
    "ste",
    "user:250",
    "user:2",
    "order-3",
    "nothing-like-this",
];

/// A SQLite database at 0013 (word index with a size record per event, deleted rows taken out
/// by rowid) holding events, some of them deleted, opens with 0014 applied: every search
/// answers as before, and events deleted or purged afterwards are no longer found by their
/// words (the delete trigger now hands FTS5 the indexed text).
#[tokio::test]
async fn sqlite_database_at_0013_is_carried_forward() {
    let db = TestDb::sqlite();
    let old = store::sqlite::SqliteStore::connect(db.url()).await.unwrap();
    let (_dir, migrator) = migrator_up_to("sqlite", 13).await;
    migrator.run(old.pool()).await.unwrap();
    // The store reads the notification routes (0017) with every batch: an empty table of
    // their shape stands in here and is dropped again.
    sqlx::raw_sql("CREATE TABLE notify_routes (channel TEXT, event_type TEXT, delay_ms INTEGER)")
        .execute(old.pool())
        .await
        .unwrap();
    let stored = old.insert_batch(&events()).await.unwrap();
    let ids: Vec<i64> = stored.iter().map(|i| i.id).collect();
    // Deleted on the old schema: events 12 and 250 (`user:250` is in no other event; `12`
    // starts the numbers 120 to 129 too).
    assert_eq!(old.delete(&[ids[12], ids[250]]).await.unwrap(), 2);
    let mut before = Vec::new();
    for text in SEARCHES {
        before.push(searched(&old, text).await);
    }
    assert_eq!(before[2].len(), 10, "steps 120 to 129");
    assert!(
        !before[2].contains(&ids[12]) && before[4].is_empty(),
        "{before:?}"
    );
    assert_eq!(before[0].len(), 298);
    // The 20 events of group order-3, and the 11 whose message has `Order` and a number
    // starting with 3 (steps 3 and 30 to 39).
    assert_eq!(before[6].len(), 31);
    sqlx::raw_sql("DROP TABLE notify_routes")
        .execute(old.pool())
        .await
        .unwrap();
    old.close().await;

    let store = store::open(db.url()).await.unwrap();
    for (text, expected) in SEARCHES.iter().zip(&before) {
        assert_eq!(&searched(store.as_ref(), text).await, expected, "{text}");
    }
    let pool = sqlx::SqlitePool::connect(db.url()).await.unwrap();
    let docsize: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM sqlite_schema WHERE name = 'events_search_docsize'",
    )
    .fetch_one(&pool)
    .await
    .unwrap();
    assert_eq!(docsize, 0, "no size record per event");
    let automerge: i64 =
        sqlx::query_scalar("SELECT v FROM events_search_config WHERE k = 'automerge'")
            .fetch_one(&pool)
            .await
            .unwrap();
    assert_eq!(automerge, 16);

    // Deleted on the new schema: event 99 by id, the critical event 7 by a purge of its type.
    assert_eq!(searched(store.as_ref(), "user:99").await, [ids[99]]);
    // `7` starts 7 and 70 to 79.
    let sevens = searched(store.as_ref(), "user:7").await;
    assert_eq!(sevens.len(), 11);
    assert!(sevens.contains(&ids[7]));
    assert_eq!(store.delete(&[ids[99]]).await.unwrap(), 1);
    let later = chrono::Utc::now() + chrono::Duration::hours(1);
    assert_eq!(store.purge(later, Some("critical")).await.unwrap(), 1);
    assert!(searched(store.as_ref(), "user:99").await.is_empty());
    let sevens_left = searched(store.as_ref(), "user:7").await;
    assert_eq!(sevens_left.len(), 10);
    assert!(!sevens_left.contains(&ids[7]));
    assert!(searched(store.as_ref(), "step 99").await.is_empty());
    let all = searched(store.as_ref(), "timeout").await;
    assert_eq!(all.len(), 296);
    assert!(!all.contains(&ids[7]) && !all.contains(&ids[99]));
    // FTS5's own check: the index agrees with the rows it was given (a 'delete' with other
    // text than was indexed would leave it corrupt).
    sqlx::query("INSERT INTO events_search (events_search, rank) VALUES ('integrity-check', 0)")
        .execute(&pool)
        .await
        .unwrap();
    // A merge of every segment (deletes applied for good) answers the same.
    sqlx::query("INSERT INTO events_search (events_search) VALUES ('optimize')")
        .execute(&pool)
        .await
        .unwrap();
    assert_eq!(searched(store.as_ref(), "timeout").await, all);
    assert!(searched(store.as_ref(), "user:99").await.is_empty());
}

/// A SQLite database at 0016 with a queued and a sent mail keeps both through 0017 (which
/// rebuilds the outbox table), as mails; the same event can then also have a notification row.
#[tokio::test]
async fn sqlite_mail_outbox_is_carried_into_0017() {
    let db = TestDb::sqlite();
    let old = store::sqlite::SqliteStore::connect(db.url()).await.unwrap();
    let (_dir, migrator) = migrator_up_to("sqlite", 16).await;
    migrator.run(old.pool()).await.unwrap();
    sqlx::raw_sql(
        "INSERT INTO mail_outbox (event_id, event_uuid, recipient, state, created_at, \
         next_attempt_at, attempts, failures, last_error, finished_at) VALUES \
         (1, x'00000000000000000000000000000001', 'ops@example.com', 'queued', 1, 1, 2, 2, \
          'SMTP error', NULL), \
         (2, x'00000000000000000000000000000002', 'ops@example.com', 'sent', 1, 1, 1, 0, \
          NULL, 5)",
    )
    .execute(old.pool())
    .await
    .unwrap();
    old.close().await;
    let store = store::open(db.url()).await.unwrap();
    let status = store.outbox_status().await.unwrap();
    assert_eq!(
        (status.queued, status.sent, status.retried),
        (1, 1, 2),
        "{status:?}"
    );
    let pool = sqlx::SqlitePool::connect(db.url()).await.unwrap();
    sqlx::raw_sql(
        "INSERT INTO mail_outbox (event_id, event_uuid, recipient, kind, created_at, \
         next_attempt_at) VALUES (1, x'00000000000000000000000000000001', 'ops@example.com', \
         'notify', 1, 1)",
    )
    .execute(&pool)
    .await
    .unwrap();
    let kinds: Vec<String> = sqlx::query_scalar("SELECT kind FROM mail_outbox ORDER BY kind, id")
        .fetch_all(&pool)
        .await
        .unwrap();
    assert_eq!(kinds, ["mail", "mail", "notify"]);
}
