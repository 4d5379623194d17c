// Over 500 lines on purpose: one scenario (load, pages, purge, ingest) on one database.
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

#[path = "../../eventlog/benches/shape/mod.rs"]
mod shape;
mod viewer;

use shape::{BIG_GROUP, Dataset};

const CHUNK: usize = 100_000;
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

fn copy_ts(out: &mut String, t: DateTime<Utc>) {
    out.push_str(&t.format("%Y-%m-%d %H:%M:%S%.6f+00").to_string());
}

struct GroupAcc {
    gid: i64,
    first: DateTime<Utc>,
    last: DateTime<Utc>,
    count: i64,
    types: BTreeMap<String, i64>,
}

/// COPYs event counts per period with `statement`: `(period, type) → count`, the period
/// starting `period × seconds` after the epoch.
async fn copy_counts(
    pool: &PgPool,
    statement: &str,
    counts: &BTreeMap<(i64, String), i64>,
    seconds: i64,
) {
    let mut text = String::new();
    for ((period, event_type), n) in counts {
        let start = DateTime::from_timestamp(period * seconds, 0).expect("a period's start");
        copy_ts(&mut text, start);
        text.push_str(&format!("\t{event_type}\t{n}\n"));
    }
    copy(pool, statement, text).await;
}

async fn copy(pool: &PgPool, statement: &str, data: String) {
    let mut conn = pool.acquire().await.expect("connection");
    let mut copy = conn.copy_in_raw(statement).await.expect("COPY");
    copy.send(data.into_bytes()).await.expect("COPY data");
    copy.finish().await.expect("COPY end");
}

/// Loads `n` events over `span` from `start`.
async fn load(pool: &PgPool, n: usize, start: DateTime<Utc>, span: TimeDelta) {
    let mut data = Dataset::starting(n, 42, start, span);
    let mut groups: HashMap<String, GroupAcc> = HashMap::new();
    let mut next_gid = 0i64;
    let mut id = 0i64;
    // Per (hour, type), as the store keeps them for the chart.
    let mut hours: BTreeMap<(i64, String), i64> = BTreeMap::new();
    let started = Instant::now();
    while data.made < n {
        let mut events = String::with_capacity(CHUNK * 200);
        let mut uuids = String::with_capacity(CHUNK * 64);
        for _ in 0..CHUNK.min(n - data.made) {
            let e = data.event();
            id += 1;
            let g = groups
                .entry(e.group.as_str().to_owned())
                .or_insert_with(|| {
                    next_gid += 1;
                    GroupAcc {
                        gid: next_gid,
                        first: e.timestamp,
                        last: e.timestamp,
                        count: 0,
                        types: BTreeMap::new(),
                    }
                });
            g.last = e.timestamp;
            g.count += 1;
            *hours
                .entry((
                    e.timestamp.timestamp().div_euclid(3600),
                    e.event_type.clone(),
                ))
                .or_default() += 1;
            *g.types.entry(e.event_type.clone()).or_default() += 1;
            // id, ts, gid, uuid, event_type, message, initiator, data, send_mail, xid
            events.push_str(&id.to_string());
            events.push('\t');
            copy_ts(&mut events, e.timestamp);
            events.push('\t');
            events.push_str(&g.gid.to_string());
            events.push('\t');
            events.push_str(&e.uuid.to_string());
            events.push('\t');
            push_field(&mut events, Some(&e.event_type));
            events.push('\t');
            push_field(&mut events, Some(&e.message));
            events.push('\t');
            push_field(&mut events, e.initiator.as_deref());
            events.push('\t');
            push_field(
                &mut events,
                e.data.as_ref().map(|d| d.to_string()).as_deref(),
            );
            events.push_str("\t\\N\t\\N\n");
            uuids.push_str(&e.uuid.to_string());
            uuids.push('\t');
            copy_ts(&mut uuids, e.timestamp);
            uuids.push('\n');
        }
        copy(
            pool,
            "COPY events (id, ts, gid, uuid, event_type, message, initiator, data, send_mail, xid) \
             FROM STDIN",
            events,
        )
        .await;
        copy(pool, "COPY event_uuids (uuid, ts) FROM STDIN", uuids).await;
        if data.made % 1_000_000 < CHUNK {
            eprintln!(
                "  loaded {} events, {:.0} events/s (load {})",
                data.made,
                data.made as f64 / started.elapsed().as_secs_f64(),
                load_average()
            );
        }
    }
    let mut summaries = String::new();
    let mut types = String::new();
    for (name, g) in &groups {
        summaries.push_str(&format!("{}\t{name}\t", g.gid));
        copy_ts(&mut summaries, g.first);
        summaries.push('\t');
        copy_ts(&mut summaries, g.last);
        summaries.push_str(&format!("\t{}\n", g.count));
        for (t, c) in &g.types {
            types.push_str(&format!("{}\t{t}\t{c}\n", g.gid));
        }
    }
    copy(
        pool,
        "COPY event_groups (gid, group_id, first_at, last_at, event_count) FROM STDIN",
        summaries,
    )
    .await;
    copy(
        pool,
        "COPY event_group_types (gid, event_type, event_count) FROM STDIN",
        types,
    )
    .await;
    copy_counts(
        pool,
        "COPY event_hour_counts (hour, event_type, event_count) FROM STDIN",
        &hours,
        3600,
    )
    .await;
    let mut days: BTreeMap<(i64, String), i64> = BTreeMap::new();
    for ((hour, event_type), n) in &hours {
        *days
            .entry((hour.div_euclid(24), event_type.clone()))
            .or_default() += n;
    }
    copy_counts(
        pool,
        "COPY event_day_counts (day, event_type, event_count) FROM STDIN",
        &days,
        86_400,
    )
    .await;
    sqlx::raw_sql(sqlx::AssertSqlSafe(format!(
        "SELECT setval('events_id_seq', {id}); \
         SELECT setval(pg_get_serial_sequence('event_groups', 'gid'), {next_gid}); \
         ANALYZE"
    )))
    .execute(pool)
    .await
    .expect("sequences, ANALYZE");
    println!(
        "loaded {n} events ({} groups) in {:.0} s: {:.0} events/s (COPY, load {})",
        groups.len(),
        started.elapsed().as_secs_f64(),
        n as f64 / started.elapsed().as_secs_f64(),
        load_average()
    );
}

struct Loaded {
    small_event: i64,
    big_event: i64,
    sample_group: String,
    middle: (DateTime<Utc>, i64),
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
    let db = match &reuse {
        Some(_) => None,
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

/// The events the pages open, read back from the database: an event of a 20-event group and
/// one of the 5,000-event group past the middle, a 20-event group's id, the middle event.
async fn probe(pool: &PgPool, n: usize) -> Loaded {
    let half = (n / 2) as i64;
    let (middle_ts, middle_id): (DateTime<Utc>, i64) =
        sqlx::query_as("SELECT ts, id FROM events WHERE id >= $1 ORDER BY id LIMIT 1")
            .bind(half)
            .fetch_one(pool)
            .await
            .expect("middle event");
    let (small_event, sample_group): (i64, String) = sqlx::query_as(
        "SELECT e.id, g.group_id FROM events e JOIN event_groups g ON g.gid = e.gid \
         WHERE e.id > $1 AND g.event_count = 20 ORDER BY e.id LIMIT 1",
    )
    .bind(half)
    .fetch_one(pool)
    .await
    .expect("an event of a 20-event group");
    let big_event: i64 = sqlx::query_scalar(
        "SELECT e.id FROM events e JOIN event_groups g ON g.gid = e.gid \
         WHERE e.id > $1 AND g.group_id = $2 ORDER BY e.id LIMIT 1",
    )
    .bind(half)
    .bind(BIG_GROUP)
    .fetch_one(pool)
    .await
    .expect("an event of the big group");
    Loaded {
        small_event,
        big_event,
        sample_group,
        middle: (middle_ts, middle_id),
    }
}

/// Partitions built at once (each `CREATE INDEX` is one process; the GIN word index, most of
/// the time, cannot use parallel workers on PostgreSQL 15).
const INDEX_WORKERS: usize = 3;

/// Builds the secondary indexes of the partitioned `events` (their definitions, `ON ONLY`
/// the parent): each parent index is made first (invalid until complete), then every
/// partition's index is built, [`INDEX_WORKERS`] at a time, and attached to it.
async fn build_indexes(pool: &PgPool, indexes: &[String]) {
    let parts: Vec<String> = sqlx::query_scalar(
        "SELECT c.relname::text FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid \
         WHERE i.inhparent = 'events'::regclass ORDER BY 1",
    )
    .fetch_all(pool)
    .await
    .expect("partitions");
    let mut jobs = Vec::new();
    for def in indexes {
        sqlx::raw_sql(sqlx::AssertSqlSafe(def.clone()))
            .execute(pool)
            .await
            .expect("parent index");
        let name = def.split_whitespace().nth(2).expect("index name");
        for part in &parts {
            let on_part = def
                .replacen(" ON ONLY public.events ", &format!(" ON public.{part} "), 1)
                .replacen(&format!(" {name} "), &format!(" {part}__{name} "), 1);
            jobs.push(format!(
                "SET maintenance_work_mem = '256MB'; {on_part}; \
                 ALTER INDEX {name} ATTACH PARTITION {part}__{name}"
            ));
        }
    }
    let jobs = std::sync::Arc::new(std::sync::Mutex::new(jobs));
    let mut workers = tokio::task::JoinSet::new();
    for _ in 0..INDEX_WORKERS {
        let jobs = jobs.clone();
        let pool = pool.clone();
        workers.spawn(async move {
            loop {
                let Some(sql) = jobs.lock().expect("jobs").pop() else {
                    return;
                };
                sqlx::raw_sql(sqlx::AssertSqlSafe(sql))
                    .execute(&pool)
                    .await
                    .expect("partition index");
            }
        });
    }
    while let Some(done) = workers.join_next().await {
        done.expect("index worker");
    }
}

/// Partitions for 13 months, the events loaded by COPY, the secondary indexes built after.
async fn load_indexed(pg: &PostgresStore, n: usize) {
    let span = TimeDelta::days(395);
    let start = Utc::now() - span;
    pg.create_partitions(start, Utc::now())
        .await
        .expect("partitions");
    // Secondary indexes are built after the load (sorted builds, far faster than growing
    // them row by row); the primary key stays.
    let indexes: Vec<String> = sqlx::query_scalar(
        "SELECT indexdef FROM pg_indexes WHERE tablename = 'events' AND indexname <> 'events_pkey'",
    )
    .fetch_all(pg.pool())
    .await
    .expect("indexes");
    for def in &indexes {
        let name = def.split_whitespace().nth(2).expect("index name");
        sqlx::raw_sql(sqlx::AssertSqlSafe(format!("DROP INDEX {name}")))
            .execute(pg.pool())
            .await
            .expect("drop index");
    }
    load(pg.pool(), n, start, span).await;
    let started = Instant::now();
    build_indexes(pg.pool(), &indexes).await;
    println!(
        "  secondary indexes built in {:.0} s (load {})",
        started.elapsed().as_secs_f64(),
        load_average()
    );
    // As a database that has been running a while looks: statistics, and the visibility map
    // set (index-only scans), so that autovacuum does not run over the freshly loaded tables
    // while the pages are timed.
    let started = Instant::now();
    sqlx::raw_sql("VACUUM (ANALYZE)")
        .execute(pg.pool())
        .await
        .expect("VACUUM");
    println!(
        "  VACUUM (ANALYZE) in {:.0} s (load {})",
        started.elapsed().as_secs_f64(),
        load_average()
    );
    let built: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM pg_index i JOIN pg_inherits h ON h.inhrelid = i.indrelid \
         WHERE h.inhparent = 'events'::regclass",
    )
    .fetch_one(pg.pool())
    .await
    .expect("indexes");
    let partitions = pg.partitions().await.expect("partitions").len() as i64 + 1;
    assert_eq!(
        built,
        partitions * (indexes.len() as i64 + 1),
        "every partition has every index"
    );
    let invalid: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM pg_index WHERE indrelid = 'events'::regclass AND NOT indisvalid",
    )
    .fetch_one(pg.pool())
    .await
    .expect("indexes");
    assert_eq!(invalid, 0, "every index of the parent is complete");
}
