//! Sustained events per second through the batching writer, against the naive way (one
//! autocommitted INSERT per event, as django-eventlog does), on the same database in one run.
//!
//! Run with: `cargo bench -p eventlog --bench throughput`
//! PostgreSQL too: set `EVENTLOG_BENCH_POSTGRES_URL=postgres://…` (a database the bench may
//! fill); without it the bench starts a throwaway cluster of its own (durable settings).
//!
//! Workload: every event has an initiator and a small JSON object; groups of 10.

use std::time::Instant;

use eventlog::store::{self, Store};
use eventlog::{EventLog, GroupId, NewEvent};
use serde_json::json;

const BATCHED_EVENTS: usize = 300_000;
const NAIVE_EVENTS: usize = 5_000;

fn event(i: usize, group: &GroupId) -> NewEvent {
    let mut e = NewEvent::new("info", group.clone(), format!("Sent mail {i} of the run"));
    e.initiator = Some("Mailer Daemon".into());
    e.data = Some(json!({"recipient": format!("user{i}@example.com"), "attempt": 1}));
    e
}

/// Records through the public API from the caller's thread; time until everything is stored.
fn batched(url: &str, capacity: usize) -> f64 {
    let log = EventLog::builder(url)
        .capacity(capacity)
        .open_blocking()
        .expect("open");
    let start = Instant::now();
    let mut group = log.group();
    for i in 0..BATCHED_EVENTS {
        if i % 10 == 0 {
            group = log.group();
        }
        group
            .info(format!("Sent mail {i} of the run"))
            .initiator("Mailer Daemon")
            .data(&json!({"recipient": format!("user{i}@example.com"), "attempt": 1}))
            .record()
            .expect("record");
    }
    log.flush_blocking().expect("flush");
    let secs = start.elapsed().as_secs_f64();
    let stats = log.close_blocking().expect("close");
    assert_eq!(stats.stored as usize, BATCHED_EVENTS, "every event stored");
    BATCHED_EVENTS as f64 / secs
}

/// One autocommitted single-row INSERT per event, awaited before the next.
async fn naive(store: &dyn Store) -> f64 {
    let start = Instant::now();
    let mut group = GroupId::random();
    for i in 0..NAIVE_EVENTS {
        if i % 10 == 0 {
            group = GroupId::random();
        }
        store
            .insert_batch(std::slice::from_ref(&event(i, &group)))
            .await
            .expect("insert");
    }
    NAIVE_EVENTS as f64 / start.elapsed().as_secs_f64()
}

fn report(backend: &str, url: &str, runtime: &tokio::runtime::Runtime) {
    let per_sec = batched(url, 100_000);
    let unbounded_per_sec = batched(url, BATCHED_EVENTS);
    let store: std::sync::Arc<dyn Store> = runtime.block_on(store::open(url)).expect("open");
    let naive_per_sec = runtime.block_on(naive(store.as_ref()));
    println!(
        "{backend:<10} batched writer: {per_sec:>8.0} events/s (queue 100,000) \
         {unbounded_per_sec:>8.0} events/s (queue holds all {BATCHED_EVENTS}) | \
         naive insert per event: {naive_per_sec:>8.0} events/s ({NAIVE_EVENTS} events) | \
         ratio {:.1}x",
        per_sec / naive_per_sec
    );
}

fn main() {
    // `cargo bench` passes --bench; `cargo test --benches` would too: run only on --bench.
    if !std::env::args().any(|a| a == "--bench") {
        return;
    }
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    let dir = tempfile::tempdir().expect("temp dir");
    let sqlite = format!("sqlite://{}", dir.path().join("bench.db").display());
    report("sqlite", &sqlite, &runtime);

    // Keep the cluster alive until the end of main.
    let (_cluster, postgres) = match std::env::var("EVENTLOG_BENCH_POSTGRES_URL") {
        Ok(url) => (None, url),
        Err(_) => {
            let cluster = eventlog_testing::PgCluster::start().expect("start PostgreSQL");
            // Test clusters run with fsync off; measure with the durable defaults.
            runtime.block_on(async {
                use sqlx::Connection;
                let mut conn = sqlx::PgConnection::connect(&cluster.url())
                    .await
                    .expect("connect");
                for setting in ["fsync", "synchronous_commit", "full_page_writes"] {
                    let sql = format!("ALTER SYSTEM SET {setting} = on");
                    sqlx::query(sqlx::AssertSqlSafe(sql))
                        .execute(&mut conn)
                        .await
                        .expect("alter system");
                }
            });
            cluster.restart().expect("restart PostgreSQL");
            let url = cluster.url();
            (Some(cluster), url)
        }
    };
    report("postgres", &postgres, &runtime);
}
