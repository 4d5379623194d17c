//! Ten million events in one SQLite file, the embedded default: the import rate as the file
//! grows, the file's size, and every page of the list over real HTTP (admin and API),
//! including a data filter without and then with its key declared.
//!
//! Run with (a release build; it needs about 3 GB of disk and an hour):
//!
//! ```text
//! nice -n -10 cargo bench -p eventlog-web --bench sqlite10m
//! ```
//!
//! - `EVENTLOG_BENCH_EVENTS` (default 10,000,000): events imported, spread over a year.
//! - `EVENTLOG_BENCH_SQLITE=PATH`: the file to use. Kept afterwards; when it already holds
//!   events, the import is skipped and its pages are measured again.
//! - `EVENTLOG_BENCH_PAGES=a,b`: only the pages whose name contains one of these.
//!
//! The dataset is the one of `cargo bench -p eventlog --bench dataset` (groups of 20, one
//! group of 5,000, ~60-character messages, 3% with `timeout`, 40% with data such as
//! `{"id": 3303548, …}`, initiators `user:N`), over a year. It is imported as `eventlog import`
//! does: `WriteStore::import_batch` of 5,000 events, one batch at a time (SQLite has one
//! writer), without the reading and parsing of the JSON Lines, which `eventlog import` does
//! on a thread of its own. Each million's rate is printed, to show where the import slows as
//! the file grows. Then a server is started on a loopback socket with the default settings
//! and each page is fetched 6 times, the first as a warm-up; the median of the other five is
//! printed.

use std::time::{Duration, Instant};

use chrono::{TimeDelta, Utc};
use eventlog::EventTypes;
use eventlog::store::{self, Backend, DataKey, TokenScope};
use sqlx::SqlitePool;

#[path = "../../eventlog/benches/shape/mod.rs"]
mod shape;
mod viewer;

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

/// The database file and its WAL, in bytes.
fn file_size(path: &std::path::Path) -> u64 {
    let wal = std::path::PathBuf::from(format!("{}-wal", path.display()));
    [path.to_owned(), wal]
        .iter()
        .filter_map(|p| std::fs::metadata(p).ok())
        .map(|m| m.len())
        .sum()
}

/// Imports `n` events over a year, printing the rate of each tenth (each million at 10M).
async fn import(store: &dyn Backend, n: usize) {
    let span = TimeDelta::days(365);
    let mut data = Dataset::starting(n, 42, Utc::now() - span, span);
    let step = (n / 10).clamp(1, 1_000_000);
    let started = Instant::now();
    let (mut slice_started, mut slice_from) = (Instant::now(), 0);
    while data.made < n {
        store.import_batch(&data.batch()).await.expect("import");
        if data.made - slice_from >= step || data.made == n {
            let rate = (data.made - slice_from) as f64 / slice_started.elapsed().as_secs_f64();
            println!(
                "  events {slice_from:>10} to {:>10}: {rate:>8.0} events/s (load {})",
                data.made,
                load_average()
            );
            (slice_started, slice_from) = (Instant::now(), data.made);
        }
    }
    let took = started.elapsed().as_secs_f64();
    println!(
        "import of {n} events: {took:.0} s = {:.0} events/s (load {})",
        n as f64 / took,
        load_average()
    );
}

/// What the pages ask for: a group, a cursor in the middle, events of a small and of the big
/// group, a data value.
struct Samples {
    group: String,
    middle: String,
    small_event: i64,
    big_event: i64,
    data_id: String,
}

async fn samples(pool: &SqlitePool) -> Samples {
    let (max,): (i64,) = sqlx::query_as("SELECT max(id) FROM events")
        .fetch_one(pool)
        .await
        .expect("events");
    let (ts, id, group): (i64, i64, String) = sqlx::query_as(
        "SELECT e.ts, e.id, g.group_id FROM events e JOIN event_groups g ON g.gid = e.gid \
         WHERE e.id >= ?1 AND g.group_id <> ?2 ORDER BY e.id LIMIT 1",
    )
    .bind(max / 2)
    .bind(BIG_GROUP)
    .fetch_one(pool)
    .await
    .expect("a middle event");
    let (big_event,): (i64,) = sqlx::query_as(
        "SELECT e.id FROM events e JOIN event_groups g ON g.gid = e.gid \
         WHERE g.group_id = ?1 AND e.id >= ?2 ORDER BY e.id LIMIT 1",
    )
    .bind(BIG_GROUP)
    .bind(max / 2)
    .fetch_one(pool)
    .await
    .expect("an event of the big group");
    let (data_id,): (String,) = sqlx::query_as(
        "SELECT CAST(json_extract(data, '$.id') AS TEXT) FROM events \
         WHERE id >= ?1 AND data IS NOT NULL ORDER BY id LIMIT 1",
    )
    .bind(max / 3)
    .fetch_one(pool)
    .await
    .expect("an event with data");
    Samples {
        group,
        middle: format!("{ts}_{id}"),
        small_event: id,
        big_event,
        data_id,
    }
}

/// Median of five fetches (after one warm-up), the body size and status, and the last body.
async fn time_page(
    client: &reqwest::Client,
    url: &str,
    auth: (&str, &str),
) -> (Duration, usize, u16, String) {
    let mut times = Vec::new();
    let mut body = String::new();
    for run in 0..=RUNS {
        let started = Instant::now();
        let r = client
            .get(url)
            .header(auth.0, auth.1)
            .send()
            .await
            .expect("request");
        let status = r.status().as_u16();
        body = r.text().await.expect("body");
        let took = started.elapsed();
        if status != 200 {
            return (took, body.len(), status, body);
        }
        if run > 0 {
            times.push(took);
        }
    }
    times.sort();
    (times[RUNS / 2], body.len(), 200, body)
}

/// The scan statement of a page, if it has one (admin: the note; API: `scan`).
fn scan_note(body: &str) -> Option<String> {
    if let Some(at) = body.find("No index narrows this filter") {
        let note = &body[at..];
        let end = [" <a", " List the key"]
            .iter()
            .filter_map(|m| note.find(m))
            .min()?;
        return Some(note[..end].to_owned());
    }
    let v: serde_json::Value = serde_json::from_str(body).ok()?;
    let scan = v.get("scan")?;
    Some(format!(
        "scanned {} events in {} ms, complete: {}",
        scan["scanned"], scan["elapsed_ms"], scan["complete"]
    ))
}

#[tokio::main]
async fn main() {
    // `cargo bench` passes --bench; test runners listing targets must not start a benchmark.
    if !std::env::args().any(|a| a == "--bench") {
        return;
    }
    let n = env_usize("EVENTLOG_BENCH_EVENTS", 10_000_000);
    let dir = tempfile::tempdir().expect("temporary directory");
    let path = match std::env::var("EVENTLOG_BENCH_SQLITE") {
        Ok(p) => std::path::PathBuf::from(p),
        Err(_) => dir.path().join("sqlite10m.db"),
    };
    let url = format!("sqlite://{}", path.display());
    println!("sqlite10m: {} (load {})", path.display(), load_average());
    let store = store::open(&url).await.expect("open");
    // A page that measures a declared key starts without it.
    store.index_data_keys(&[]).await.expect("keys");
    let pool = SqlitePool::connect(&url).await.expect("pool");
    let (stored,): (i64,) = sqlx::query_as("SELECT count(*) FROM events")
        .fetch_one(&pool)
        .await
        .expect("count");
    if stored == 0 {
        import(store.as_ref(), n).await;
        store.close().await;
    } else {
        println!("  {stored} events already stored: import skipped");
    }
    let store = store::open(&url).await.expect("open");
    let (events,): (i64,) = sqlx::query_as("SELECT count(*) FROM events")
        .fetch_one(&pool)
        .await
        .expect("count");
    let size = file_size(&path);
    println!(
        "file: {:.1} MiB, {:.0} bytes per event ({events} events)",
        size as f64 / 1048576.0,
        size as f64 / events as f64
    );
    let s = samples(&pool).await;

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
    let only: Vec<String> = std::env::var("EVENTLOG_BENCH_PAGES")
        .map(|v| v.split(',').map(str::to_owned).collect())
        .unwrap_or_default();
    let measure = |pages: Vec<(String, String)>| {
        let (client, base, cookie, bearer, only) = (&client, &base, &cookie, &bearer, &only);
        async move {
            for (name, path) in pages {
                if !only.is_empty() && !only.iter().any(|o| name.contains(o.as_str())) {
                    continue;
                }
                let auth = if path.starts_with("/api/") {
                    ("authorization", bearer.as_str())
                } else {
                    ("cookie", cookie.as_str())
                };
                let (median, size, status, body) =
                    time_page(client, &format!("{base}{path}"), auth).await;
                let note = scan_note(&body)
                    .map(|n| format!("  [{n}]"))
                    .unwrap_or_default();
                if status == 200 {
                    println!(
                        "  {name:<46} {:>8.1} ms  {size:>8} bytes  (load {}){note}",
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
        }
    };
    let data = format!("data.id={}", s.data_id);
    println!("pages over HTTP, median of {RUNS} (after one warm-up):");
    measure(vec![
        ("first page".into(), "/events".into()),
        (
            "type filter (warning)".into(),
            "/events?type=warning".into(),
        ),
        (
            "deep page by cursor".into(),
            format!("/events?cursor={}", s.middle),
        ),
        ("oldest first".into(), "/events?order=asc".into()),
        (
            "group filter (group of 20)".into(),
            format!("/events?group={}", s.group),
        ),
        (
            "group filter (group of 5,000)".into(),
            format!("/events?group={BIG_GROUP}"),
        ),
        ("groups page".into(), "/groups".into()),
        (
            "event page, group of 20".into(),
            format!("/events/{}", s.small_event),
        ),
        (
            "event page, group of 5,000".into(),
            format!("/events/{}", s.big_event),
        ),
        (
            "search: frequent word (timeout)".into(),
            "/events?q=timeout".into(),
        ),
        (
            "search: rare word (quokka)".into(),
            "/events?q=quokka".into(),
        ),
        (
            "search: initiator's words (user:4242)".into(),
            "/events?q=user%3A4242".into(),
        ),
        (
            "initiator filter (user:4242)".into(),
            "/events?initiator=user%3A4242".into(),
        ),
        (
            format!("data filter, key not declared ({data})"),
            format!("/events?{data}"),
        ),
        ("API: first page".into(), "/api/v1/events".into()),
        (
            "API: type filter (warning)".into(),
            "/api/v1/events?type=warning".into(),
        ),
        (
            "API: deep page by cursor".into(),
            format!("/api/v1/events?cursor={}", s.middle),
        ),
        (
            "API: search frequent word (timeout)".into(),
            "/api/v1/events?q=timeout".into(),
        ),
        (
            "API: search initiator's words".into(),
            "/api/v1/events?q=user%3A4242".into(),
        ),
        (
            "API: initiator filter".into(),
            "/api/v1/events?initiator=user%3A4242".into(),
        ),
        (
            "API: data filter, key not declared".into(),
            format!("/api/v1/events?{data}"),
        ),
    ])
    .await;

    let started = Instant::now();
    store
        .index_data_keys(&[DataKey::parse("id").expect("a key")])
        .await
        .expect("index the key");
    println!(
        "declaring data key `id` (its index made): {:.1} s; file now {:.1} MiB (load {})",
        started.elapsed().as_secs_f64(),
        file_size(&path) as f64 / 1048576.0,
        load_average()
    );
    measure(vec![
        (
            format!("data filter, key declared ({data})"),
            format!("/events?{data}"),
        ),
        (
            "API: data filter, key declared".into(),
            format!("/api/v1/events?{data}"),
        ),
    ])
    .await;
    // A kept file is left as it was found: without the declared key.
    store.index_data_keys(&[]).await.expect("keys");
    store.close().await;
}
