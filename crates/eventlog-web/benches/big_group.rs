//! The event page of a 5,000-event group over real HTTP: size and server time.
//!
//! Run with: `cargo bench -p eventlog-web --bench big_group`
//! (a quick debug-build look: `cargo bench --profile dev -p eventlog-web --bench big_group`).
//!
//! A fresh SQLite store (and a PostgreSQL one when EVENTLOG_TEST_POSTGRES_URL is set) gets one
//! group of 5,000 events (plus nothing else); the admin is served
//! on a loopback socket; after logging in, the page of the middle event and the next window
//! (`?after=`) are each fetched 50 times after 5 warm-ups; the median and p90 of the
//! time to the last byte and the page size are printed.

use std::time::{Duration, Instant};

use chrono::Utc;
use eventlog::{EventTypes, GroupId, NewEvent};

mod viewer;

const RUNS: usize = 50;

#[tokio::main]
async fn main() {
    // `cargo bench` passes --bench; test runners listing targets (nextest --list) must not
    // start a benchmark.
    if !std::env::args().any(|a| a == "--bench") {
        return;
    }
    let mut backends = vec!["sqlite"];
    if std::env::var(eventlog_testing::POSTGRES_URL_ENV).is_ok() {
        backends.push("postgres");
    }
    for backend in backends {
        println!("{backend}:");
        let db = eventlog_testing::TestDb::backend(backend).await;
        bench(db.url()).await;
    }
}

async fn bench(url: &str) {
    let store = eventlog::store::open(url).await.expect("open store");
    let t0 = Utc::now() - chrono::Duration::hours(2);
    let group = GroupId::named("Big import").expect("group");
    let events: Vec<NewEvent> = (0..5_000i64)
        .map(|i| {
            let mut e = NewEvent::new(
                if i % 97 == 3 { "error" } else { "info" },
                group.clone(),
                format!(
                    "Row {i} of the nightly import stored for customer {}",
                    i % 7919
                ),
            );
            e.timestamp = t0 + chrono::Duration::milliseconds(i * 1_300);
            e.initiator = Some(format!("user:{}", 10_000 + i % 500));
            e
        })
        .collect();
    let ids: Vec<i64> = store
        .insert_batch(&events)
        .await
        .expect("insert")
        .iter()
        .map(|i| i.id)
        .collect();
    viewer::add_viewer(store.as_ref()).await;
    let client = eventlog_testing::http::client(Duration::from_secs(60));
    let state = eventlog_web::AppState::new(store, EventTypes::default());
    let (base, cookie) = viewer::serve_logged_in(state, &client).await;

    let middle = ids[2_500];
    let after = format!(
        "{}_{}",
        events[2_550].timestamp.timestamp_micros(),
        ids[2_550]
    );
    for (name, path) in [
        (
            "event page, middle of the group",
            format!("/events/{middle}"),
        ),
        (
            "next window (?after=)",
            format!("/events/{middle}?after={after}"),
        ),
    ] {
        let mut times = Vec::with_capacity(RUNS);
        let mut size = 0;
        for run in 0..RUNS + 5 {
            let started = Instant::now();
            let r = client
                .get(format!("{base}{path}"))
                .header("cookie", &cookie)
                .send()
                .await
                .expect("request");
            assert_eq!(r.status(), 200, "{path}");
            let body = r.bytes().await.expect("body");
            let took = started.elapsed();
            size = body.len();
            if run >= 5 {
                times.push(took);
            }
        }
        times.sort();
        let ms = |d: Duration| d.as_secs_f64() * 1000.0;
        println!(
            "{name:<34} median {:>6.2} ms  p90 {:>6.2} ms  {:>7} bytes",
            ms(times[RUNS / 2]),
            ms(times[RUNS * 9 / 10]),
            size
        );
    }
}
