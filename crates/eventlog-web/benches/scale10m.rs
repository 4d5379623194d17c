//! Ten million events on PostgreSQL, partitioned by month: the admin's pages over real HTTP,
//! a purge of one month, and the ingest rate partitioned against unpartitioned.
//!
//! Run with (a release build; it needs a few GB of disk and a PostgreSQL server):
//!
//! ```text
//! EVENTLOG_TEST_POSTGRES_URL=postgres://postgres@127.0.0.1:54329/postgres \
//!     nice -n -10 cargo bench -p eventlog-web --bench scale10m
//! ```
//!
//! - `EVENTLOG_BENCH_EVENTS` (default 10,000,000): events loaded, spread over 13 months.
//! - `EVENTLOG_BENCH_INGEST_EVENTS` (default 200,000): events per ingest run (two runs per
//!   shape, alternating, each into a fresh database); 0 skips the comparison.
//! - `EVENTLOG_BENCH_KEEP=1`: the loaded database is kept (its URL is printed), to measure
//!   again later with `EVENTLOG_BENCH_DATABASE=URL`, which skips the load.
//! - `EVENTLOG_BENCH_PAGES=a,b`: only the pages whose name contains one of these.
//! - `EVENTLOG_BENCH_PURGE=0`: no purge at the end (the database stays whole).
//! - `EVENTLOG_BENCH_CITUS=1`: the events are loaded into a database of the Citus cluster
//!   that `EVENTLOG_TEST_CITUS_URL` names (its coordinator) instead of PostgreSQL; set
//!   `EVENTLOG_BENCH_INGEST_EVENTS=0` too (the ingest comparison is PostgreSQL's).
//!
//! The dataset is the one of `cargo bench -p eventlog --bench dataset` (groups of 20, one
//! group of 5,000, ~60-character messages, 40% small JSON, initiators `user:N`). It is loaded
//! with `COPY` (events, uuids, group summaries and per-hour and per-day counts written as the store
//! would), into partitions made beforehand; then a server is started on a loopback socket and
//! each page is fetched 6 times, the first as a warm-up; the median of the other five is
//! printed. The databases are created in the server named by the URL and dropped at the end.

use std::collections::{BTreeMap, HashMap};
use std::time::{Duration, Instant};

use chrono::{DateTime, TimeDelta, Utc};
use eventlog::EventTypes;
use eventlog::store::postgres::PostgresStore;
use eventlog::store::{self, TokenScope};
use eventlog_testing::TestDb;
use eventlog_testing::copy_text::push_field;
use sqlx::PgPool;

mod load10m;
#[path = "../../eventlog/benches/shape/mod.rs"]
mod shape;
mod viewer;

use load10m::{load_indexed, probe};
use shape::{BIG_GROUP, Dataset};

const RUNS: usize = 5;

fn env_usize(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.replace('_', "").parse().ok())
        .unwrap_or(default)
}

fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|s| s.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_else(|_| "?".into())
}

async fn sizes(pool: &PgPool, n: usize) {
    let rows: Vec<(String, i64)> = sqlx::query_as(
        "SELECT 'events (all partitions, with indexes)', \
         sum(pg_total_relation_size(c.oid))::int8 FROM pg_inherits i \
         JOIN pg_class c ON c.oid = i.inhrelid WHERE i.inhparent = 'events'::regclass \
         UNION ALL SELECT 'event_uuids (with its index)', pg_total_relation_size('event_uuids') \
         UNION ALL SELECT 'event_groups + event_group_types', \
         pg_total_relation_size('event_groups') + pg_total_relation_size('event_group_types') \
         UNION ALL SELECT 'database', pg_database_size(current_database())",
    )
    .fetch_all(pool)
    .await
    .expect("sizes");
    for (what, bytes) in rows {
        println!(
            "  {what:<40} {:>9.1} MiB  {:>6.1} bytes/event",
            bytes as f64 / 1048576.0,
            bytes as f64 / n as f64
        );
    }
}

/// Events per second of `store.insert_batch` in batches of 1,000 over 13 months.
async fn ingest(url: &str, n: usize) -> f64 {
    let store = store::open(url).await.expect("open");
    let span = TimeDelta::days(395);
    let mut data = Dataset::starting(n, 9, Utc::now() - span, span);
    let started = Instant::now();
    while data.made < n {
        let batch: Vec<_> = (0..1_000.min(n - data.made))
            .map(|_| data.event())
            .collect();
        store.insert_batch(&batch).await.expect("insert");
    }
    n as f64 / started.elapsed().as_secs_f64()
}

async fn ingest_comparison(n: usize) {
    println!("ingest, store.insert_batch of 1,000 events, {n} events per run:");
    for round in 1..=2 {
        let partitioned = TestDb::postgres().await;
        let rate_p = ingest(partitioned.url(), n).await;
        let pg = PostgresStore::connect(partitioned.url())
            .await
            .expect("connect");
        assert!(pg.is_partitioned().await.expect("shape"));
        drop(partitioned);
        let flat = TestDb::postgres().await;
        flat.postgres_as_of(9).await;
        let rate_u = ingest(flat.url(), n).await;
        let pg = PostgresStore::connect(flat.url()).await.expect("connect");
        assert!(!pg.is_partitioned().await.expect("shape"));
        drop(flat);
        println!(
            "  round {round}: partitioned {rate_p:>8.0} events/s, unpartitioned {rate_u:>8.0} events/s (load {})",
            load_average()
        );
    }
}

/// Median of five fetches (after one warm-up) and the body size.
async fn time_page(
    client: &reqwest::Client,
    base: &str,
    auth: (&str, &str),
    path: &str,
) -> (Duration, usize, u16) {
    let mut times = Vec::new();
    let mut size = 0;
    for run in 0..=RUNS {
        let started = Instant::now();
        let r = client
            .get(format!("{base}{path}"))
            .header(auth.0, auth.1)
            .send()
            .await
            .expect("request");
        let status = r.status();
        let body = r.bytes().await.expect("body");
        let took = started.elapsed();
        size = body.len();
        // A page that fails (a 503 past the statement timeout) is reported, not fatal: the
        // figures of the other pages and the purge still come out.
        if status != 200 {
            return (took, size, status.as_u16());
        }
        if run > 0 {
            times.push(took);
        }
    }
    times.sort();
    (times[RUNS / 2], size, 200)
}

#[tokio::main]
async fn main() {
    // `cargo bench` passes --bench; test runners listing targets (nextest --list) must not
    // start a benchmark.
    if !std::env::args().any(|a| a == "--bench") {
        return;
    }
    let n = env_usize("EVENTLOG_BENCH_EVENTS", 10_000_000);
    let ingest_n = env_usize("EVENTLOG_BENCH_INGEST_EVENTS", 200_000);
    println!("scale10m: {n} events (load {})", load_average());
    if ingest_n > 0 {
        ingest_comparison(ingest_n).await;
    }

    let reuse = std::env::var("EVENTLOG_BENCH_DATABASE").ok();
    let keep = reuse.is_some() || std::env::var("EVENTLOG_BENCH_KEEP").is_ok_and(|v| v == "1");
    let on_citus = std::env::var("EVENTLOG_BENCH_CITUS").is_ok_and(|v| v == "1");
    let db = match &reuse {
        Some(_) => None,
        None if on_citus => Some(TestDb::citus().await),
        None => Some(TestDb::postgres().await),
    };
    let url = reuse
        .clone()
        .unwrap_or_else(|| db.as_ref().expect("a database").url().to_owned());
    let store = store::open(&url).await.expect("open");
    let pg = PostgresStore::connect(&url).await.expect("connect");
    if reuse.is_none() {
        load_indexed(&pg, n).await;
    }
    let n = sqlx::query_scalar::<_, i64>("SELECT coalesce(max(id), 0) FROM events")
        .fetch_one(pg.pool())
        .await
        .expect("events") as usize;
    let loaded = probe(pg.pool(), n).await;
    println!(
        "  {} partitions (monthly)",
        pg.partitions().await.expect("partitions").len()
    );
    sizes(pg.pool(), n).await;

    viewer::add_viewer(store.as_ref()).await;
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("client");
    let state = eventlog_web::AppState::new(store.clone(), EventTypes::default());
    let (base, cookie) = viewer::serve_logged_in(state, &client).await;
    let bearer = format!(
        "Bearer {}",
        store
            .create_token(
                &format!("bench-{}", Utc::now().timestamp_micros()),
                TokenScope::Read
            )
            .await
            .expect("token")
    );
    let group = &loaded.sample_group;
    let deep = format!("{}_{}", loaded.middle.0.timestamp_micros(), loaded.middle.1);
    let pages = [
        ("first page".to_owned(), "/events".to_owned()),
        (
            format!("page deep by cursor (event {} of {n})", loaded.middle.1),
            format!("/events?cursor={deep}"),
        ),
        (
            "search: frequent word (timeout)".into(),
            "/events?q=timeout".into(),
        ),
        (
            "search: rare word (quokka)".into(),
            "/events?q=quokka".into(),
        ),
        ("search: full group id".into(), format!("/events?q={group}")),
        (
            "search: 8-char group prefix".into(),
            format!("/events?q={}", &group[..8]),
        ),
        (
            "search: initiator (user:4242)".into(),
            "/events?q=user%3A4242".into(),
        ),
        (
            "initiator filter (initiator=user:4242)".into(),
            "/events?initiator=user%3A4242".into(),
        ),
        (
            "type filter (warning)".into(),
            "/events?type=warning".into(),
        ),
        ("groups page".into(), "/groups".into()),
        (
            "event page, group of 20".into(),
            format!("/events/{}", loaded.small_event),
        ),
        (
            "event page, group of 5,000".into(),
            format!("/events/{}", loaded.big_event),
        ),
        // The same reads through the API: no chart (the admin's list pages draw one over
        // the whole selection).
        ("API: first page".into(), "/api/v1/events".into()),
        (
            "API: page deep by cursor".into(),
            format!("/api/v1/events?cursor={deep}"),
        ),
        (
            "API: search frequent word (timeout)".into(),
            "/api/v1/events?q=timeout".into(),
        ),
        (
            "API: search rare word (quokka)".into(),
            "/api/v1/events?q=quokka".into(),
        ),
        (
            "API: search full group id".into(),
            format!("/api/v1/events?q={group}"),
        ),
        (
            "API: search 8-char prefix".into(),
            format!("/api/v1/events?q={}", &group[..8]),
        ),
        (
            "API: search initiator".into(),
            "/api/v1/events?q=user%3A4242".into(),
        ),
        (
            "API: initiator filter".into(),
            "/api/v1/events?initiator=user%3A4242".into(),
        ),
        (
            "API: type filter (warning)".into(),
            "/api/v1/events?type=warning".into(),
        ),
        (
            "API: GET /api/v1/events/{id}".into(),
            format!("/api/v1/events/{}", loaded.small_event),
        ),
    ];
    let only: Vec<String> = std::env::var("EVENTLOG_BENCH_PAGES")
        .map(|v| v.split(',').map(str::to_owned).collect())
        .unwrap_or_default();
    println!("admin pages over HTTP, median of {RUNS} (after one warm-up):");
    for (name, path) in pages {
        if !only.is_empty() && !only.iter().any(|o| name.contains(o.as_str())) {
            continue;
        }
        let auth = if path.starts_with("/api/") {
            ("authorization", bearer.as_str())
        } else {
            ("cookie", cookie.as_str())
        };
        let (median, size, status) = time_page(&client, &base, auth, &path).await;
        if status == 200 {
            println!(
                "  {name:<46} {:>8.1} ms  {size:>8} bytes  (load {})",
                median.as_secs_f64() * 1e3,
                load_average()
            );
        } else {
            println!(
                "  {name:<46} FAILED: {status} after {:.1} ms  (load {})",
                median.as_secs_f64() * 1e3,
                load_average()
            );
        }
    }

    if std::env::var("EVENTLOG_BENCH_PURGE").is_ok_and(|v| v == "0") {
        finish(db, keep, &url);
        return;
    }
    let parts = pg.partitions().await.expect("partitions");
    let oldest = parts.first().expect("a partition").clone();
    // Whole months only: first up to the end of the oldest full partition (the first one
    // holds a part month), then one month more (to the end of the third).
    for (end_of, what) in [(1, "the two oldest partitions"), (2, "one month")] {
        let cutoff = parts.get(end_of).map_or(oldest.to, |p| p.to);
        let started = Instant::now();
        let purged = store.purge(cutoff, None).await.expect("purge");
        println!(
            "purge of {what} (to {}): {purged} events in {:.2} s (load {})",
            cutoff.format("%Y-%m-%d"),
            started.elapsed().as_secs_f64(),
            load_average()
        );
    }
    drop(store);
    pg.pool().close().await;
    finish(db, keep, &url);
}

/// Drops the bench's database, or keeps it (and says where) when asked to.
fn finish(db: Option<TestDb>, keep: bool, url: &str) {
    if keep {
        println!("database kept: EVENTLOG_BENCH_DATABASE={url}");
        std::mem::forget(db);
    } else {
        drop(db);
    }
}
