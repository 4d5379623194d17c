//! Disk and search at volume: generates a log shaped like a real one, loads it into each
//! backend, and reports the bytes of every table and index, the load rate, and the time of
//! each kind of search.
//!
//! Run with: `cargo bench -p eventlog --bench dataset`
//!
//! - `EVENTLOG_BENCH_EVENTS` (default 1,000,000): how many events.
//! - `EVENTLOG_BENCH_POSTGRES_URL`: a PostgreSQL server (maintenance database URL) in which the
//!   bench creates and drops a database of its own; without it, `EVENTLOG_TEST_POSTGRES_URL`
//!   is used the same way; without either, PostgreSQL is skipped (and says so).
//! - `EVENTLOG_BENCH_BACKENDS=sqlite` or `=postgres`: run one backend only.
//! - `EVENTLOG_BENCH_SQLITE=PATH`: keep the SQLite database in this file (replaced).
//! - `EVENTLOG_BENCH_JSONL=PATH`: also write the dataset as JSON Lines, for timing
//!   `eventlog import PATH` on its own.
//! - `EVENTLOG_BENCH_DAYS` (default 30): the days the timestamps spread over.
//! - `EVENTLOG_BENCH_KEEP=1`: keep the PostgreSQL database (its URL is printed).
//! - `EVENTLOG_BENCH_DROP_INDEXES=a,b`: drop these indexes before the load, to see what an
//!   index costs in load rate, disk and query time (run once with it, once without).
//!
//! The dataset: groups of 20 events with random (32-hex) ids, plus one named group of 5,000
//! events spread over the whole run; messages of about 60 characters, ~3% with the word
//! `timeout` and 10 with the rare word `quokka`; 40% with a small JSON object as data;
//! initiators like `user:12345`; timestamps over 30 days; every 10,000th event of the rare
//! type `audit`, the rest `info`, `warning`, `error` and `debug`. Searches ask for the admin's first
//! page (100 events, newest first), as the event list does.

use std::io::Write;
use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::{TimeDelta, Utc};
use eventlog::Event;
use eventlog::store::{self, Backend, EventFilter, Order};

mod shape;

use shape::{BATCH, BIG_GROUP, Dataset};

fn mib(bytes: i64) -> String {
    format!("{:.1} MiB", bytes as f64 / (1024.0 * 1024.0))
}

/// Untimed runs before the timed ones: one per pooled connection (PostgreSQL: 10), so that
/// each connection has read the catalog and planned the statements once, as on a server
/// that has been up for a while (a cold connection adds 10-50 ms to its first statements).
const WARM_UP: usize = 10;

/// Median of five runs of the admin's first page for `filter` (after [`WARM_UP`] untimed
/// ones), and the number of hits.
async fn time_search(store: &dyn Backend, filter: &EventFilter) -> (Duration, usize) {
    for _ in 0..WARM_UP {
        store
            .list(filter, Order::Desc, None, 100)
            .await
            .expect("search");
    }
    let mut times = Vec::new();
    let mut hits = 0;
    for _ in 0..5 {
        let start = Instant::now();
        let page = store
            .list(filter, Order::Desc, None, 100)
            .await
            .expect("search");
        times.push(start.elapsed());
        hits = page.items.len();
    }
    times.sort();
    (times[2], hits)
}

async fn searches(store: &dyn Backend, sample_group: &str) {
    let text = |t: &str| EventFilter {
        text: Some(t.to_owned()),
        ..EventFilter::default()
    };
    let cases = [
        ("frequent word (timeout)", text("timeout")),
        ("rare word (quokka)", text("quokka")),
        ("full group id", text(sample_group)),
        ("8-char group prefix", text(&sample_group[..8])),
        ("initiator (user:4242)", text("user:4242")),
        (
            "initiator filter (user:4242)",
            EventFilter {
                initiator: Some("user:4242".into()),
                ..EventFilter::default()
            },
        ),
        (
            "type filter (warning)",
            EventFilter {
                types: vec!["warning".into()],
                ..EventFilter::default()
            },
        ),
        (
            "rare type (audit, 0.01 %, all hours)",
            EventFilter {
                types: vec![shape::RARE_TYPE.into()],
                ..EventFilter::default()
            },
        ),
        (
            "rare type (critical, none stored)",
            EventFilter {
                types: vec!["critical".into()],
                ..EventFilter::default()
            },
        ),
        (
            "group filter",
            EventFilter {
                group: Some(sample_group.to_owned()),
                ..EventFilter::default()
            },
        ),
        ("no filter", EventFilter::default()),
    ];
    for (name, filter) in cases {
        let (t, hits) = time_search(store, &filter).await;
        println!(
            "  search {name:<36} {:>8.2} ms  ({hits} on the first page)",
            t.as_secs_f64() * 1e3
        );
    }
    // The rest of the admin's list for one initiator: its count (bounded as the list bounds
    // it) and its chart's counts.
    let by_initiator = EventFilter {
        initiator: Some("user:4242".into()),
        ..EventFilter::default()
    };
    let count = median_ms(5, |_| async {
        store
            .count_at_most(&by_initiator, 10_000)
            .await
            .expect("count");
    })
    .await;
    let chart = median_ms(5, |_| async {
        store
            .histogram(&by_initiator, 86_400)
            .await
            .expect("histogram");
    })
    .await;
    println!("  initiator filter: count {count:.2} ms, chart by day {chart:.2} ms");
    let start = Instant::now();
    let big = store
        .group_events(BIG_GROUP, 10_000)
        .await
        .expect("group events");
    println!(
        "  group_events of the {}-event group   {:>8.2} ms",
        big.len(),
        start.elapsed().as_secs_f64() * 1e3
    );
}

/// The median of `f` over `runs` calls (after one untimed), in milliseconds.
async fn median_ms<F, Fut>(runs: usize, mut f: F) -> f64
where
    F: FnMut(usize) -> Fut,
    Fut: std::future::Future<Output = ()>,
{
    f(0).await;
    let mut times = Vec::with_capacity(runs);
    for i in 0..runs {
        let start = Instant::now();
        f(i).await;
        times.push(start.elapsed().as_secs_f64() * 1e3);
    }
    times.sort_by(f64::total_cmp);
    times[runs / 2]
}

/// Reads of one event (`GET /api/v1/events/{id}`, the event page, a repeated uuid) and the
/// live tail's read of the newest transactions: each the median of 50.
async fn lookups(store: &dyn Backend) {
    let mut sample: Vec<Event> = Vec::new();
    for order in [Order::Asc, Order::Desc] {
        let page = store
            .list(&EventFilter::default(), order, None, 50)
            .await
            .expect("list");
        sample.extend(page.items);
    }
    // Spread over the whole log: every 20,000th id as well.
    let newest = sample.iter().map(|e| e.id).max().unwrap_or(1);
    let ids: Vec<i64> = sample
        .iter()
        .map(|e| e.id)
        .chain((1..newest).step_by(20_000))
        .collect();
    let by_id = median_ms(50, |i| {
        let id = ids[i % ids.len()];
        async move {
            store.get(id).await.expect("get");
        }
    })
    .await;
    let by_uuid = median_ms(50, |i| {
        let uuid = sample[i % sample.len()].uuid;
        async move {
            store
                .get_by_uuid(uuid)
                .await
                .expect("get_by_uuid")
                .expect("found");
        }
    })
    .await;
    let cursor = std::sync::Mutex::new(store.follow_start().await.expect("follow start"));
    let cursor = &cursor;
    let follow = median_ms(50, |_| async move {
        let from = cursor.lock().expect("cursor").clone();
        let (_, next) = store
            .follow(&EventFilter::default(), &from, 1_000)
            .await
            .expect("follow");
        *cursor.lock().expect("cursor") = next;
    })
    .await;
    println!(
        "  event by id {by_id:.2} ms, by uuid {by_uuid:.2} ms, live tail read (follow) {follow:.2} ms"
    );
}

/// The searches again while another task inserts batches of the same shape as fast as the
/// store takes them (newer events than the dataset's): search must not depend on upkeep.
async fn searches_during_ingest(store: Arc<dyn Backend>, sample_group: &str) {
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let writer = {
        let (store, stop) = (store.clone(), stop.clone());
        tokio::spawn(async move {
            // Far more than it will get to: the writer stops when the searches are done.
            let mut data = Dataset::starting(100_000_000, 7, Utc::now(), TimeDelta::days(1_000));
            let mut stored = 0usize;
            let start = Instant::now();
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                let batch = data.batch();
                store.insert_batch(&batch).await.expect("insert");
                stored += batch.len();
            }
            (stored, start.elapsed())
        })
    };
    // Let the writer get going first.
    tokio::time::sleep(Duration::from_secs(2)).await;
    searches(store.as_ref(), sample_group).await;
    lookups(store.as_ref()).await;
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let (stored, took) = writer.await.expect("writer");
    println!(
        "  meanwhile stored {stored} events with insert_batch of {BATCH}: {:.0} events/s",
        stored as f64 / took.as_secs_f64()
    );
}

async fn load(store: &dyn Backend, total: usize, mut jsonl: Option<&mut dyn Write>) -> String {
    let mut data = Dataset::new(total);
    let start = Instant::now();
    let mut generating = Duration::ZERO;
    while data.made < total {
        let g = Instant::now();
        let batch = data.batch();
        generating += g.elapsed();
        if let Some(out) = jsonl.as_deref_mut() {
            let mut w = eventlog::export::ExportWriter::new(
                &mut *out,
                eventlog::export::ExportFormat::Jsonl,
            )
            .expect("writer");
            for e in &batch {
                let stored: Event = eventlog::event::stored_event(e, 0);
                w.write_event(&stored).expect("write jsonl");
            }
        }
        store.insert_batch(&batch).await.expect("insert");
    }
    let secs = (start.elapsed() - generating).as_secs_f64();
    println!(
        "  loaded {total} events with insert_batch of {BATCH}: {:.0} events/s",
        total as f64 / secs
    );
    data.sample_group.expect("a sample group")
}

/// Connects to `url` and runs `upkeep`, which makes the sizes about to be read current.
async fn connect_after<C>(url: &str, upkeep: &str) -> C
where
    C: sqlx::Connection,
    for<'c> &'c mut C: sqlx::Executor<'c, Database = C::Database>,
{
    let mut conn = C::connect(url).await.expect("connect");
    sqlx::raw_sql(sqlx::AssertSqlSafe(upkeep))
        .execute(&mut conn)
        .await
        .expect(upkeep);
    conn
}

/// Drops the indexes named in `EVENTLOG_BENCH_DROP_INDEXES` (comma-separated), if any.
async fn drop_indexes<C>(url: &str)
where
    C: sqlx::Connection,
    for<'c> &'c mut C: sqlx::Executor<'c, Database = C::Database>,
{
    let names = std::env::var("EVENTLOG_BENCH_DROP_INDEXES").unwrap_or_default();
    for name in names.split(',').map(str::trim).filter(|n| !n.is_empty()) {
        let _: C = connect_after(url, &format!("DROP INDEX IF EXISTS {name}")).await;
        println!("  without the index {name}");
    }
}

/// Prints each relation (name, what it is where the backend says, bytes) of 64 KiB or more,
/// and returns the bytes of all of them.
fn print_relations(
    relations: impl IntoIterator<Item = (String, Option<&'static str>, i64)>,
) -> i64 {
    let mut total = 0;
    for (name, kind, bytes) in relations {
        total += bytes;
        if bytes >= 64 * 1024 {
            match kind {
                Some(kind) => println!("  {name:<40} {kind:<6} {:>12}", mib(bytes)),
                None => println!("  {name:<40} {:>12}", mib(bytes)),
            }
        }
    }
    total
}

async fn sqlite_disk(url: &str) {
    let mut conn: sqlx::SqliteConnection =
        connect_after(url, "PRAGMA wal_checkpoint(TRUNCATE)").await;
    let rows: Vec<(String, i64)> = sqlx::query_as(
        "SELECT name, sum(pgsize) AS bytes FROM dbstat GROUP BY name ORDER BY bytes DESC",
    )
    .fetch_all(&mut conn)
    .await
    .expect("dbstat");
    let total = print_relations(rows.into_iter().map(|(name, bytes)| (name, None, bytes)));
    println!("  {:<40} {:>12}", "total (dbstat)", mib(total));
    let path = url.trim_start_matches("sqlite://");
    let file = std::fs::metadata(path).map(|m| m.len() as i64).unwrap_or(0);
    let wal = std::fs::metadata(format!("{path}-wal"))
        .map(|m| m.len() as i64)
        .unwrap_or(0);
    println!("  file {} + WAL {}", mib(file), mib(wal));
}

async fn postgres_disk(url: &str) {
    let mut conn: sqlx::PgConnection = connect_after(url, "VACUUM ANALYZE").await;
    let rows: Vec<(String, String, i64)> = sqlx::query_as(
        "SELECT c.relname::text AS name, c.relkind::text AS kind, \
         CASE WHEN c.relkind = 'i' THEN pg_relation_size(c.oid) ELSE pg_table_size(c.oid) END AS bytes \
         FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace \
         WHERE n.nspname = 'public' AND c.relkind IN ('r', 'i', 'm', 'p') \
         ORDER BY bytes DESC",
    )
    .fetch_all(&mut conn)
    .await
    .expect("sizes");
    let total = print_relations(rows.into_iter().map(|(name, kind, bytes)| {
        let kind = if kind == "i" { "index" } else { "table" };
        (name, Some(kind), bytes)
    }));
    println!("  {:<47} {:>12}", "total (tables + indexes)", mib(total));
}

fn main() {
    // `cargo bench` passes --bench; `cargo test --benches` would too: run only on --bench.
    if !std::env::args().any(|a| a == "--bench") {
        return;
    }
    let total: usize = std::env::var("EVENTLOG_BENCH_EVENTS")
        .ok()
        .and_then(|v| v.replace('_', "").parse().ok())
        .unwrap_or(1_000_000);
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    let mut jsonl = std::env::var("EVENTLOG_BENCH_JSONL").ok().map(|p| {
        std::io::BufWriter::new(std::fs::File::create(&p).expect("create the JSONL file"))
    });

    // EVENTLOG_BENCH_BACKENDS=postgres (or sqlite) runs one backend only.
    let only = std::env::var("EVENTLOG_BENCH_BACKENDS").unwrap_or_default();
    let run = |backend: &str| only.is_empty() || only.split(',').any(|b| b.trim() == backend);
    let dir = tempfile::tempdir().expect("temp dir");
    // EVENTLOG_BENCH_SQLITE=PATH keeps the SQLite database there (replaced if it exists).
    let path = match std::env::var("EVENTLOG_BENCH_SQLITE") {
        Ok(p) => {
            for suffix in ["", "-wal", "-shm"] {
                let _ = std::fs::remove_file(format!("{p}{suffix}"));
            }
            std::path::PathBuf::from(p)
        }
        Err(_) => dir.path().join("dataset.db"),
    };
    let sqlite = format!("sqlite://{}", path.display());
    runtime.block_on(async {
        if !run("sqlite") {
            return;
        }
        println!("sqlite ({total} events)");
        let store: Arc<dyn Backend> = store::open(&sqlite).await.expect("open");
        drop_indexes::<sqlx::SqliteConnection>(&sqlite).await;
        let sample = load(
            store.as_ref(),
            total,
            jsonl.as_mut().map(|w| w as &mut dyn Write),
        )
        .await;
        // What a server would do between ingest bursts (a no-op once search is current).
        while store.maintain(50_000).await.expect("maintain") > 0 {}
        sqlite_disk(&sqlite).await;
        println!("  searches right after the load:");
        searches(store.as_ref(), &sample).await;
        println!("  searches during sustained ingest:");
        searches_during_ingest(store.clone(), &sample).await;
    });
    if let Some(mut w) = jsonl {
        w.flush().expect("flush the JSONL file");
    }

    let pg = std::env::var("EVENTLOG_BENCH_POSTGRES_URL")
        .or_else(|_| std::env::var("EVENTLOG_TEST_POSTGRES_URL"));
    if !run("postgres") {
        return;
    }
    let Ok(admin) = pg else {
        println!(
            "postgres: skipped (set EVENTLOG_BENCH_POSTGRES_URL or EVENTLOG_TEST_POSTGRES_URL)"
        );
        return;
    };
    runtime.block_on(async {
        let db = pg_database(&admin).await;
        println!("postgres ({total} events)");
        let store: Arc<dyn Backend> = store::open(&db.1).await.expect("open");
        drop_indexes::<sqlx::PgConnection>(&db.1).await;
        let sample = load(store.as_ref(), total, None).await;
        postgres_disk(&db.1).await;
        println!("  searches right after the load:");
        searches(store.as_ref(), &sample).await;
        lookups(store.as_ref()).await;
        println!("  searches during sustained ingest:");
        searches_during_ingest(store.clone(), &sample).await;
        drop(store);
        // EVENTLOG_BENCH_KEEP=1 keeps the database (to measure queries by hand).
        if std::env::var("EVENTLOG_BENCH_KEEP").is_ok_and(|v| v == "1") {
            println!("  kept: {}", db.1);
        } else {
            drop_database(&admin, &db.0).await;
        }
    });
}

/// Creates a database of its own on the server; returns its name and URL.
async fn pg_database(admin: &str) -> (String, String) {
    let name = format!("bench_dataset_{}", std::process::id());
    let mut conn = <sqlx::PgConnection as sqlx::Connection>::connect(admin)
        .await
        .expect("connect to PostgreSQL");
    // One statement each: several in one call run as one transaction, which DROP DATABASE
    // and CREATE DATABASE refuse.
    for sql in [
        format!("DROP DATABASE IF EXISTS {name}"),
        format!("CREATE DATABASE {name}"),
    ] {
        sqlx::raw_sql(sqlx::AssertSqlSafe(sql))
            .execute(&mut conn)
            .await
            .expect("create database");
    }
    let base = match admin.rfind('/') {
        Some(i) if i > admin.find("://").map_or(0, |s| s + 2) => &admin[..i],
        _ => admin,
    };
    (name.clone(), format!("{base}/{name}"))
}

async fn drop_database(admin: &str, name: &str) {
    if let Ok(mut conn) = <sqlx::PgConnection as sqlx::Connection>::connect(admin).await {
        let _ = sqlx::raw_sql(sqlx::AssertSqlSafe(format!(
            "DROP DATABASE IF EXISTS {name} WITH (FORCE)"
        )))
        .execute(&mut conn)
        .await;
    }
}
