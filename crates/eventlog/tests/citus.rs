//! What only a Citus cluster has: the schema `eventlog migrate` distributes over the workers,
//! and the live tail across workers that commit in two phases. (The whole store contract also
//! runs on Citus: `store_suite`, `citus::NAME`.)

#![allow(clippy::unwrap_used)] // A test: a panic is the failure report.

use std::collections::HashSet;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use eventlog::store::{self, EventFilter};
use eventlog::{GroupId, NewEvent};
use eventlog_testing::{CitusCluster, TestDb};
use sqlx::Connection;
use sqlx::postgres::PgConnection;

async fn connect(db: &TestDb) -> PgConnection {
    PgConnection::connect(db.url()).await.unwrap()
}

/// How each table is laid out: `(table, distribution column, colocation group)`, or no row
/// for a table local to the coordinator.
async fn layout(conn: &mut PgConnection) -> Vec<(String, Option<String>, Option<i32>)> {
    sqlx::query_as(
        "SELECT c.relname::text, \
         CASE WHEN p.partmethod = 'h' THEN column_to_column_name(p.logicalrelid, p.partkey) END, \
         p.colocationid \
         FROM pg_class c LEFT JOIN pg_dist_partition p ON p.logicalrelid = c.oid \
         WHERE c.relnamespace = 'public'::regnamespace AND c.relkind IN ('r', 'p') \
         AND NOT c.relispartition ORDER BY 1",
    )
    .fetch_all(conn)
    .await
    .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn migrate_distributes_the_schema_over_both_workers() {
    let db = TestDb::citus().await;
    let store = store::open(db.url()).await.unwrap();
    // Migrating again (another server starting) changes nothing.
    drop(store);
    let store = store::open(db.url()).await.unwrap();
    let mut conn = connect(&db).await;
    let tables = layout(&mut conn).await;
    let of = |name: &str| {
        tables
            .iter()
            .find(|t| t.0 == name)
            .unwrap_or_else(|| panic!("no table {name}: {tables:?}"))
            .clone()
    };
    let events = of("events");
    assert_eq!(events.1.as_deref(), Some("gid"), "{tables:?}");
    for table in ["event_groups", "event_group_types"] {
        let t = of(table);
        assert_eq!(t.1.as_deref(), Some("gid"), "{table}");
        assert_eq!(t.2, events.2, "{table} is co-located with events");
    }
    assert_eq!(of("event_uuids").1.as_deref(), Some("uuid"));
    assert_eq!(of("event_hour_counts").1.as_deref(), Some("hour"));
    assert_eq!(of("event_day_counts").1.as_deref(), Some("day"));
    for local in [
        "users",
        "sessions",
        "api_tokens",
        "mail_outbox",
        "event_partitioning",
        "_sqlx_migrations",
    ] {
        assert_eq!(of(local).1, None, "{local} stays on the coordinator");
        assert_eq!(of(local).2, None, "{local} is not a Citus table");
    }

    // Events land on both workers, time partitions included.
    let batch: Vec<NewEvent> = (0..64)
        .map(|i| NewEvent::new("info", GroupId::named(format!("g{i}")).unwrap(), "spread"))
        .collect();
    store.insert_batch(&batch).await.unwrap();
    let (nodes, partitions): (i64, i64) = sqlx::query_as(
        "SELECT count(DISTINCT s.nodeport) FILTER (WHERE s.table_name = 'events'::regclass), \
         count(DISTINCT p.inhrelid)::int8 \
         FROM citus_shards s, pg_inherits p WHERE p.inhparent = 'events'::regclass",
    )
    .fetch_one(&mut conn)
    .await
    .unwrap();
    assert_eq!(nodes, 2, "the events' shards are on both workers");
    assert!(partitions > 1, "time partitions stay: {partitions}");
    let on_workers: i64 = sqlx::query_scalar(
        "SELECT count(DISTINCT nodeport) FROM citus_shards s \
         JOIN pg_inherits p ON s.table_name = p.inhrelid::regclass \
         WHERE p.inhparent = 'events'::regclass AND s.shard_size > 0",
    )
    .fetch_one(&mut conn)
    .await
    .unwrap();
    assert_eq!(on_workers, 2, "both workers hold events");
    assert_eq!(store.count(&EventFilter::default()).await.unwrap(), 64);
}

/// Batches that span groups on both workers commit in two phases (the coordinator first);
/// a follower reading in a tight loop meanwhile reads every event exactly once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_tail_reads_two_phase_commits_once_each() {
    let db = TestDb::citus().await;
    let store = store::open(db.url()).await.unwrap();
    let all = EventFilter::default();
    // The partition the writers need exists before the follower starts.
    let warm_up = store
        .insert_batch(&[NewEvent::new(
            "info",
            GroupId::named("warm").unwrap(),
            "warm-up",
        )])
        .await
        .unwrap();
    store.delete(&[warm_up[0].id]).await.unwrap();
    let mut cursor = store.follow_start().await.unwrap();
    let done = Arc::new(AtomicBool::new(false));
    let writers: Vec<_> = (0..3)
        .map(|w| {
            let store = store.clone();
            tokio::spawn(async move {
                for b in 0..60 {
                    // Eight groups: on both workers (four shards) nearly always.
                    let batch: Vec<NewEvent> = (0..8)
                        .map(|i| {
                            let group = GroupId::named(format!("g{w}-{b}-{i}")).unwrap();
                            NewEvent::new("info", group, format!("{w}-{b}-{i}"))
                        })
                        .collect();
                    store.insert_batch(&batch).await.unwrap();
                }
            })
        })
        .collect();
    let watcher = {
        let done = done.clone();
        let writers_done = async move {
            for w in writers {
                w.await.unwrap();
            }
            done.store(true, Ordering::SeqCst);
        };
        tokio::spawn(writers_done)
    };
    let mut seen = Vec::new();
    loop {
        let finished = done.load(Ordering::SeqCst);
        let (events, next) = store.follow(&all, &cursor, 1000).await.unwrap();
        seen.extend(events.into_iter().map(|e| e.message));
        cursor = next;
        if finished {
            break;
        }
    }
    watcher.await.unwrap();
    // One more read after the last commit: nothing was left behind.
    let (events, _) = store.follow(&all, &cursor, 1000).await.unwrap();
    seen.extend(events.into_iter().map(|e| e.message));
    let unique: HashSet<&String> = seen.iter().collect();
    assert_eq!(unique.len(), seen.len(), "an event was read twice");
    assert_eq!(seen.len(), 3 * 60 * 8, "every event was read");
}

/// A group's page and summary are read from the one shard holding the group: with the other
/// worker stopped they still answer, while a listing of every group's events cannot.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_group_is_read_from_its_one_shard() {
    let cluster = CitusCluster::start()
        .await
        .expect("start a private Citus cluster");
    let store = store::open(&cluster.url()).await.unwrap();
    let batch: Vec<NewEvent> = (0..3)
        .map(|i| {
            let mut e = NewEvent::new("info", GroupId::named("order-42").unwrap(), "placed");
            e.event_type = ["info", "warning", "info"][i].into();
            e
        })
        .collect();
    store.insert_batch(&batch).await.unwrap();
    let mut conn = PgConnection::connect(&cluster.url()).await.unwrap();
    let holder: i32 = sqlx::query_scalar(
        "SELECT s.nodeport FROM citus_shards s, event_groups g \
         WHERE g.group_id = 'order-42' \
         AND s.shardid = get_shard_id_for_distribution_column('event_groups', g.gid)",
    )
    .fetch_one(&mut conn)
    .await
    .unwrap();
    let _ = conn.close().await;
    let other = (0..2)
        .map(|n| cluster.worker(n))
        .find(|w| i32::from(w.port()) != holder)
        .expect("a worker without the group");
    other.stop().unwrap();
    let summary = store.group_summary("order-42").await.unwrap().unwrap();
    assert_eq!(summary.event_count, 3);
    assert_eq!(summary.types, ["info", "warning"]);
    let events = store.group_events("order-42", 10).await.unwrap();
    assert_eq!(events.len(), 3);
    assert!(events.iter().all(|e| e.group == "order-42"));
    assert!(
        store.count(&EventFilter::default()).await.is_err(),
        "a count of every shard needs the stopped worker"
    );
    other.restart().unwrap();
}
