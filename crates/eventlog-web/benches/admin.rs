//! Admin pages at 1,000,000 events, driving the real router in process.
//!
//! Run with: `cargo bench -p eventlog-web --bench admin`
//! (PostgreSQL too: set `EVENTLOG_BENCH_POSTGRES_URL=postgres://…/db` to an empty database.)
//! `EVENTLOG_BENCH_EVENTS` changes the number of events (default 1,000,000).
//!
//! Data: groups of 20 events, 30 s apart over about a year; 5% warning, 1% error,
//! 0.1% critical; 50 events carry the rare word "zebraquux"; one extra group holds 5,000
//! events. Each scenario is requested 25 times after 3 warm-up requests; the median and p90
//! of the server time (request in, body fully read) are printed.

use std::time::{Duration, Instant};

use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use chrono::{DateTime, Utc};
use eventlog::store::{Backend, Role};
use eventlog::{EventTypes, GroupId, NewEvent};
use tower::ServiceExt;

const BATCH: usize = 5_000;
const RUNS: usize = 25;

fn event(i: usize, t0: DateTime<Utc>, group: &GroupId) -> NewEvent {
    let ty = match i % 1000 {
        0 => "critical",
        1..=10 => "error",
        11..=60 => "warning",
        _ => "info",
    };
    let msg = if i % 20_000 == 7 {
        format!("Order {i}: zebraquux detected")
    } else {
        format!("Order {i} processed for customer {}", i % 7919)
    };
    let mut e = NewEvent::new(ty, group.clone(), msg);
    e.timestamp = t0 + chrono::Duration::seconds(i as i64 * 30);
    e.initiator = Some(format!("worker-{}", i % 16));
    e.data = Some(serde_json::json!({"order": i, "customer": i % 7919}));
    e
}

async fn load(store: &dyn Backend, n: usize) -> (i64, String) {
    let t0 = Utc::now() - chrono::Duration::seconds(n as i64 * 30);
    let started = Instant::now();
    let mut group = GroupId::random();
    let mut batch = Vec::with_capacity(BATCH);
    for i in 0..n {
        if i % 20 == 0 {
            group = GroupId::random();
        }
        batch.push(event(i, t0, &group));
        if batch.len() == BATCH {
            store.insert_batch(&batch).await.expect("insert");
            batch.clear();
        }
    }
    // One big group: 5,000 events.
    let big = GroupId::named("Big import").expect("group");
    for i in 0..5_000 {
        batch.push(event(n + i, t0, &big));
    }
    let ids = store.insert_batch(&batch).await.expect("insert");
    let secs = started.elapsed().as_secs_f64();
    eprintln!(
        "  loaded {} events in {secs:.1} s ({:.0} events/s)",
        n + 5_000,
        (n + 5_000) as f64 / secs
    );
    // What the server's (or the writer's) background upkeep does: index for search.
    let started = Instant::now();
    let mut indexed = 0;
    loop {
        let k = store.maintain(100_000).await.expect("maintain");
        indexed += k;
        if k == 0 {
            break;
        }
    }
    eprintln!(
        "  background upkeep (search index) of {indexed} events: {:.1} s",
        started.elapsed().as_secs_f64()
    );
    (ids[2_500].id, big.as_str().to_owned())
}

async fn login(router: &axum::Router) -> String {
    let page = router
        .clone()
        .oneshot(Request::get("/login").body(Body::empty()).expect("request"))
        .await
        .expect("login page");
    let cookie = page.headers()[header::SET_COOKIE]
        .to_str()
        .expect("cookie")
        .to_owned();
    let cookie = cookie.split(';').next().expect("cookie").to_owned();
    let token = cookie.split_once('=').expect("cookie").1.to_owned();
    let body = format!("username=bench&password=benchmark-password&csrf={token}");
    let resp = router
        .clone()
        .oneshot(
            Request::post("/login")
                .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
                .header(header::COOKIE, &cookie)
                .body(Body::from(body))
                .expect("request"),
        )
        .await
        .expect("login");
    assert_eq!(resp.status(), StatusCode::SEE_OTHER, "bench login failed");
    let c = resp.headers()[header::SET_COOKIE].to_str().expect("cookie");
    c.split(';').next().expect("cookie").to_owned()
}

async fn time(router: &axum::Router, cookie: &str, path: &str) -> (Duration, Duration, usize) {
    let mut times = Vec::new();
    let mut len = 0;
    for run in 0..RUNS + 3 {
        let req = Request::get(path)
            .header(header::COOKIE, cookie)
            .body(Body::empty())
            .expect("request");
        let started = Instant::now();
        let resp = router.clone().oneshot(req).await.expect("response");
        let status = resp.status();
        let body = axum::body::to_bytes(resp.into_body(), usize::MAX)
            .await
            .expect("body");
        let elapsed = started.elapsed();
        assert_eq!(
            status,
            StatusCode::OK,
            "{path}: {}",
            String::from_utf8_lossy(&body)
        );
        len = body.len();
        if run >= 3 {
            times.push(elapsed);
        }
    }
    times.sort();
    (times[RUNS / 2], times[RUNS * 9 / 10], len)
}

/// The cursor of the list page `depth` pages deep, found by walking the store (not timed).
async fn deep_cursor(store: &dyn Backend, depth: usize) -> String {
    let mut cursor = None;
    for _ in 0..depth {
        let page = store
            .list(
                &Default::default(),
                Default::default(),
                cursor.as_ref(),
                100,
            )
            .await
            .expect("list");
        cursor = page.next;
    }
    cursor.map(|c| c.to_string()).unwrap_or_default()
}

async fn bench(name: &str, url: &str, n: usize) {
    eprintln!("== {name}: {url}");
    let store = eventlog::store::open(url).await.expect("open store");
    let hash = eventlog_web::auth::password::hash_password("benchmark-password").expect("hash");
    store
        .create_user("bench", &hash, Role::Viewer)
        .await
        .expect("user");
    let (big_event, _big) = load(store.as_ref(), n).await;
    let router = eventlog_web::app(eventlog_web::AppState::new(
        store.clone(),
        EventTypes::default(),
    ));
    let cookie = login(&router).await;
    let deep = deep_cursor(store.as_ref(), 5_000).await;
    let scenarios = [
        ("first list page", "/events".to_owned()),
        ("page 5,000 deep", format!("/events?cursor={deep}")),
        (
            "rare-word search (50 matches)",
            "/events?q=zebraquux".to_owned(),
        ),
        ("type filter (error)", "/events?type=error".to_owned()),
        ("first groups page", "/groups".to_owned()),
        ("event page, group of 5,000", format!("/events/{big_event}")),
    ];
    println!("{name}, {} events", n + 5_000);
    println!(
        "  {:<32} {:>10} {:>10} {:>10}",
        "scenario", "median", "p90", "bytes"
    );
    for (label, path) in scenarios {
        let (median, p90, len) = time(&router, &cookie, &path).await;
        println!(
            "  {label:<32} {:>8.1}ms {:>8.1}ms {len:>10}",
            median.as_secs_f64() * 1000.0,
            p90.as_secs_f64() * 1000.0
        );
    }
}

#[tokio::main]
async fn main() {
    // `cargo test --benches` passes --bench-less flags; only run when benchmarking.
    if std::env::args().any(|a| a == "--list") {
        return;
    }
    let n: usize = std::env::var("EVENTLOG_BENCH_EVENTS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1_000_000);
    let dir = tempfile::tempdir().expect("temp dir");
    let url = format!("sqlite://{}", dir.path().join("bench.db").display());
    bench("SQLite", &url, n).await;
    if let Ok(pg) = std::env::var("EVENTLOG_BENCH_POSTGRES_URL") {
        bench("PostgreSQL", &pg, n).await;
    }
}
