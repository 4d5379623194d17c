//! Sustained events per second through the batching writer, next to the raw ceiling for the
//! same schema and the naive way, on the same database in one run, with the ratios.
//!
//! Run with: `cargo bench -p eventlog --bench throughput`
//! PostgreSQL too: set `EVENTLOG_BENCH_POSTGRES_URL=postgres://…` (a database the bench may
//! fill); without it the bench starts a throwaway cluster of its own (durable settings).
//!
//! - batched writer: `EventLog` from the caller's thread, until everything is stored;
//! - raw ceiling: the same rows into the same schema (search index, group summaries and
//!   per-period counts included) with no eventlog code around them: on SQLite, SQLite's C
//!   API on one connection of the calling thread (rusqlite over the `libsqlite3-sys` sqlx
//!   links: each statement prepared once, then bind, step, reset per row), 5,000 events per
//!   transaction, WAL, synchronous=NORMAL and the page cache as the store sets them; on
//!   PostgreSQL, the group upsert as one statement and the events by `COPY`, 5,000 per
//!   transaction;
//! - naive: one autocommitted INSERT per event, awaited before the next (django-eventlog's way).
//!
//! Workload: every event has an initiator and a small JSON object; groups of 10.

#![allow(clippy::unwrap_used)] // A benchmark: a panic is the report.

mod event_copy;

use std::borrow::Cow;
use std::collections::HashMap;
use std::time::Instant;

use chrono::{DateTime, Utc};
use eventlog::store::{self, Store};
use eventlog::{EventLog, GroupId, NewEvent};
use serde_json::json;

const BATCHED_EVENTS: usize = 300_000;
const RAW_EVENTS: usize = 300_000;
const RAW_BATCH: usize = 5_000;
const NAIVE_EVENTS: usize = 5_000;

fn event(i: usize, group: &GroupId) -> NewEvent {
    let mut e = NewEvent::new("info", group.clone(), format!("Sent mail {i} of the run"));
    e.initiator = Some("Mailer Daemon".into());
    e.data = Some(json!({"recipient": format!("user{i}@example.com"), "attempt": 1}));
    e
}

fn events(n: usize) -> Vec<NewEvent> {
    let mut group = GroupId::random();
    (0..n)
        .map(|i| {
            if i % 10 == 0 {
                group = GroupId::random();
            }
            event(i, &group)
        })
        .collect()
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

/// Per group of a batch: first and last time, count; per (group, type): count.
struct Summaries<'a> {
    groups: Vec<(&'a str, DateTime<Utc>, DateTime<Utc>, i64)>,
    types: Vec<(&'a str, &'a str, i64)>,
}

fn summaries(batch: &[NewEvent]) -> Summaries<'_> {
    let mut groups: Vec<(&str, DateTime<Utc>, DateTime<Utc>, i64)> = Vec::new();
    let mut at: HashMap<&str, usize> = HashMap::new();
    let mut types: HashMap<(&str, &str), i64> = HashMap::new();
    for e in batch {
        let g = e.group.as_str();
        match at.get(g) {
            Some(&i) => {
                let s = &mut groups[i];
                s.1 = s.1.min(e.timestamp);
                s.2 = s.2.max(e.timestamp);
                s.3 += 1;
            }
            None => {
                at.insert(g, groups.len());
                groups.push((g, e.timestamp, e.timestamp, 1));
            }
        }
        *types.entry((g, e.event_type.as_str())).or_default() += 1;
    }
    Summaries {
        groups,
        types: types.into_iter().map(|((g, t), n)| (g, t, n)).collect(),
    }
}

/// (period start in microseconds, type, events) rows of a batch.
type PeriodRows<'a> = Vec<(i64, &'a str, i64)>;

/// Per (period start in microseconds, type): how many events of a batch, for hours and for
/// days (UTC), as the store counts them; with the upsert of each.
fn period_sums(batch: &[NewEvent]) -> [(&'static str, PeriodRows<'_>); 2] {
    const HOUR: i64 = 3_600_000_000;
    const DAY: i64 = 24 * HOUR;
    let sums = |width: i64| {
        let mut counts: HashMap<(i64, &str), i64> = HashMap::new();
        for e in batch {
            let ts = e.timestamp.timestamp_micros();
            *counts
                .entry((ts - ts.rem_euclid(width), e.event_type.as_str()))
                .or_default() += 1;
        }
        counts.into_iter().map(|((p, t), n)| (p, t, n)).collect()
    };
    [
        (
            "INSERT INTO event_hour_counts (hour, event_type, event_count) VALUES (?1, ?2, ?3) \
             ON CONFLICT (hour, event_type) DO UPDATE SET \
             event_count = event_count + excluded.event_count",
            sums(HOUR),
        ),
        (
            "INSERT INTO event_day_counts (day, event_type, event_count) VALUES (?1, ?2, ?3) \
             ON CONFLICT (day, event_type) DO UPDATE SET \
             event_count = event_count + excluded.event_count",
            sums(DAY),
        ),
    ]
}

/// The SQLite ceiling: SQLite's C API on one connection of this thread (rusqlite: each
/// statement prepared once, then bind, step and reset per row; no async runtime, no worker
/// thread), one transaction per batch writing what the store writes for it: group summaries,
/// per-type group counts, events (search index by its trigger), per-hour and per-day counts.
fn raw_sqlite(path: &std::path::Path) -> f64 {
    let all = events(RAW_EVENTS);
    let conn = rusqlite::Connection::open(path).unwrap();
    conn.execute_batch(
        "PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL; PRAGMA cache_size = -16384; \
         PRAGMA temp_store = memory;",
    )
    .unwrap();
    let mut group = conn
        .prepare(
            "INSERT INTO event_groups (group_id, first_at, last_at, event_count) \
             VALUES (?1, ?2, ?3, ?4) ON CONFLICT (group_id) DO UPDATE SET \
             first_at = min(first_at, excluded.first_at), \
             last_at = max(last_at, excluded.last_at), \
             event_count = event_count + excluded.event_count RETURNING gid",
        )
        .unwrap();
    let mut group_type = conn
        .prepare(
            "INSERT INTO event_group_types (gid, event_type, event_count) \
             VALUES (?1, ?2, ?3) ON CONFLICT (gid, event_type) DO UPDATE SET \
             event_count = event_count + excluded.event_count",
        )
        .unwrap();
    let mut event = conn
        .prepare(
            "INSERT INTO events (uuid, event_type, gid, ts, message, data, initiator, \
             send_mail) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8) ON CONFLICT (uuid) DO NOTHING",
        )
        .unwrap();
    let start = Instant::now();
    for batch in all.chunks(RAW_BATCH) {
        let sums = summaries(batch);
        conn.execute_batch("BEGIN IMMEDIATE").unwrap();
        let mut gids: HashMap<&str, i64> = HashMap::with_capacity(sums.groups.len());
        for (g, first, last, n) in &sums.groups {
            let gid: i64 = group
                .query_row(
                    (*g, first.timestamp_micros(), last.timestamp_micros(), *n),
                    |r| r.get(0),
                )
                .unwrap();
            gids.insert(g, gid);
        }
        for (g, t, n) in &sums.types {
            group_type.execute((gids[g], *t, *n)).unwrap();
        }
        for e in batch {
            event
                .execute((
                    e.uuid.as_bytes().as_slice(),
                    e.event_type.as_str(),
                    gids[e.group.as_str()],
                    e.timestamp.timestamp_micros(),
                    e.message.as_str(),
                    e.data.as_ref().map(|d| d.to_string()),
                    e.initiator.as_deref(),
                    e.send_mail.as_deref(),
                ))
                .unwrap();
        }
        for (sql, rows) in period_sums(batch) {
            let mut upsert = conn.prepare_cached(sql).unwrap();
            for (period, t, n) in rows {
                upsert.execute((period, t, n)).unwrap();
            }
        }
        conn.execute_batch("COMMIT").unwrap();
    }
    RAW_EVENTS as f64 / start.elapsed().as_secs_f64()
}

/// The PostgreSQL ceiling: per transaction, the group summaries by one upsert each and the
/// events by `COPY` straight into the table (no conflict handling: the uuids are new).
async fn raw_postgres(url: &str) -> f64 {
    use sqlx::Connection;
    let all = events(RAW_EVENTS);
    let mut conn = sqlx::PgConnection::connect(url).await.unwrap();
    let start = Instant::now();
    for batch in all.chunks(RAW_BATCH) {
        let mut sums = summaries(batch);
        sums.groups.sort_by(|a, b| a.0.cmp(b.0));
        sums.types.sort();
        let mut tx = conn.begin().await.unwrap();
        let names: Vec<&str> = sums.groups.iter().map(|g| g.0).collect();
        let firsts: Vec<DateTime<Utc>> = sums.groups.iter().map(|g| g.1).collect();
        let lasts: Vec<DateTime<Utc>> = sums.groups.iter().map(|g| g.2).collect();
        let counts: Vec<i64> = sums.groups.iter().map(|g| g.3).collect();
        let gids: HashMap<String, i64> = sqlx::query_as::<_, (String, i64)>(
            "INSERT INTO event_groups (group_id, first_at, last_at, event_count) \
             SELECT * FROM UNNEST($1::text[], $2::timestamptz[], $3::timestamptz[], $4::int8[]) \
             ON CONFLICT (group_id) DO UPDATE SET \
             first_at = LEAST(event_groups.first_at, excluded.first_at), \
             last_at = GREATEST(event_groups.last_at, excluded.last_at), \
             event_count = event_groups.event_count + excluded.event_count \
             RETURNING group_id, gid",
        )
        .bind(&names)
        .bind(&firsts)
        .bind(&lasts)
        .bind(&counts)
        .fetch_all(&mut *tx)
        .await
        .unwrap()
        .into_iter()
        .collect();
        let t_groups: Vec<i64> = sums.types.iter().map(|t| gids[t.0]).collect();
        let t_names: Vec<&str> = sums.types.iter().map(|t| t.1).collect();
        let t_counts: Vec<i64> = sums.types.iter().map(|t| t.2).collect();
        sqlx::query(
            "INSERT INTO event_group_types (gid, event_type, event_count) \
             SELECT * FROM UNNEST($1::int8[], $2::text[], $3::int8[]) \
             ON CONFLICT (gid, event_type) DO UPDATE SET \
             event_count = event_group_types.event_count + excluded.event_count",
        )
        .bind(&t_groups)
        .bind(&t_names)
        .bind(&t_counts)
        .execute(&mut *tx)
        .await
        .unwrap();
        let text =
            event_copy::event_rows(batch, |e| Cow::Owned(gids[e.group.as_str()].to_string()));
        let mut copy = tx
            .copy_in_raw(
                "COPY events (uuid, event_type, gid, ts, message, data, initiator, send_mail) \
                 FROM STDIN",
            )
            .await
            .unwrap();
        copy.send(text.into_bytes()).await.unwrap();
        copy.finish().await.unwrap();
        tx.commit().await.unwrap();
    }
    RAW_EVENTS as f64 / start.elapsed().as_secs_f64()
}

fn report(backend: &str, url: &str, raw: f64, runtime: &tokio::runtime::Runtime) {
    let per_sec = batched(url, 100_000);
    let unbounded_per_sec = batched(url, BATCHED_EVENTS);
    let store: std::sync::Arc<dyn Store> = runtime.block_on(store::open(url)).expect("open");
    let naive_per_sec = runtime.block_on(naive(store.as_ref()));
    println!(
        "{backend:<10} batched writer: {per_sec:>8.0} events/s (queue 100,000), \
         {unbounded_per_sec:>8.0} events/s (queue holds all {BATCHED_EVENTS})"
    );
    println!(
        "{backend:<10} raw ceiling:    {raw:>8.0} events/s ({RAW_EVENTS} events, {RAW_BATCH} per \
         transaction, no library) -> the writer reaches {:.0}% of it",
        per_sec / raw * 100.0
    );
    println!(
        "{backend:<10} naive:          {naive_per_sec:>8.0} events/s (one INSERT and commit per \
         event, {NAIVE_EVENTS} events) -> the writer is {:.0}x faster",
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

    // The raw ceiling in a database of its own, created and migrated by the store.
    let raw_path = dir.path().join("raw.db");
    runtime.block_on(async {
        let url = format!("sqlite://{}", raw_path.display());
        let store = store::open(&url).await.expect("create the raw database");
        store.close().await;
    });
    let raw = raw_sqlite(&raw_path);
    let sqlite = format!("sqlite://{}", dir.path().join("bench.db").display());
    report("sqlite", &sqlite, raw, &runtime);

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
    // The raw ceiling first, on an empty database of the same schema, then the store's runs
    // (which share the database, as before).
    let raw = runtime.block_on(async {
        let store = store::open(&postgres).await.expect("open");
        drop(store);
        raw_postgres(&postgres).await
    });
    report("postgres", &postgres, raw, &runtime);
}
