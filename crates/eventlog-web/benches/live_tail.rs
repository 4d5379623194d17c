//! Live tail under sustained ingest: writers store events as fast as PostgreSQL takes them
//! (batches of 1,000 through the store, as the library's writer does) while one admin
//! live-tail stream reads them over a real socket (SSE). Prints the ingest rate, the rate the
//! stream delivered, how many it was told it skipped, and its lag (from the commit of an
//! event to its arrival in the stream).
//!
//! Run with: EVENTLOG_TEST_POSTGRES_URL=postgres://… cargo bench -p eventlog-web --bench live_tail
//! (LIVE_SECS=N ingest time, default 10; LIVE_WRITERS=N concurrent writers, default 4;
//! LIVE_TARGET=N events per second to aim at, default 0 = as fast as possible.)

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use eventlog::store;

mod viewer;
use eventlog::{EventTypes, GroupId, NewEvent};
use eventlog_testing::TestDb;

fn env_num(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

#[tokio::main]
async fn main() {
    // `cargo bench` passes --bench; test runners listing targets (nextest --list) must not
    // start a benchmark.
    if !std::env::args().any(|a| a == "--bench") {
        return;
    }
    let secs = env_num("LIVE_SECS", 10);
    let writers = env_num("LIVE_WRITERS", 4) as usize;
    let target = env_num("LIVE_TARGET", 0);
    if std::env::var("EVENTLOG_TEST_POSTGRES_URL").is_err() {
        eprintln!("live_tail bench: set EVENTLOG_TEST_POSTGRES_URL");
        std::process::exit(1);
    }
    let db = TestDb::postgres().await;
    let store = store::open(db.url()).await.expect("open store");
    viewer::add_viewer(store.as_ref()).await;
    let state = eventlog_web::AppState::new(store.clone(), EventTypes::default());
    let live = state.live_tail().clone();
    // No timeout: the stream stays open for the whole run.
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("client");
    let (base, cookie) = viewer::serve_logged_in(state, &http).await;
    let mut stream = http
        .get(format!("{base}/events/stream"))
        .header("cookie", &cookie)
        .send()
        .await
        .expect("stream");
    assert_eq!(stream.status(), 200);

    // (when, events so far) on each side.
    let committed: Arc<Mutex<Vec<(Instant, u64)>>> = Arc::default();
    let total = Arc::new(std::sync::atomic::AtomicU64::new(0));
    let delivered: Arc<Mutex<Vec<(Instant, u64)>>> = Arc::default();
    let skipped = Arc::new(std::sync::atomic::AtomicU64::new(0));
    let reader = {
        let delivered = delivered.clone();
        let skipped = skipped.clone();
        tokio::spawn(async move {
            let mut n = 0u64;
            let mut pending = String::new();
            while let Ok(Some(chunk)) = stream.chunk().await {
                pending.push_str(&String::from_utf8_lossy(&chunk));
                if std::env::var_os("LIVE_DEBUG").is_some() {
                    eprintln!("chunk {} bytes, pending {}", chunk.len(), pending.len());
                }
                // Whole messages only (a blank line ends one).
                let Some(end) = pending.rfind("\n\n") else {
                    continue;
                };
                let done: String = pending.drain(..end + 2).collect();
                n += done.matches("<tr data-group=").count() as u64;
                if done.contains("event: skipped") {
                    for line in done.lines() {
                        if let Some(Ok(k)) = line
                            .strip_prefix("data: ")
                            .map(|count| count.trim().parse::<u64>())
                        {
                            skipped.fetch_add(k, std::sync::atomic::Ordering::Relaxed);
                        }
                    }
                }
                delivered.lock().expect("lock").push((Instant::now(), n));
            }
        })
    };
    // Let the poller start.
    tokio::time::sleep(Duration::from_millis(1500)).await;

    let started = Instant::now();
    let stop = started + Duration::from_secs(secs);
    let per_writer_rate = if target == 0 {
        None
    } else {
        Some(target as f64 / writers as f64)
    };
    let tasks: Vec<_> = (0..writers)
        .map(|w| {
            let store = store.clone();
            let committed = committed.clone();
            let total = total.clone();
            tokio::spawn(async move {
                let mut sent = 0u64;
                while Instant::now() < stop {
                    let batch: Vec<NewEvent> = (0..1000)
                        .map(|i| {
                            let mut e = NewEvent::new(
                                "info",
                                GroupId::named(format!("w{w}")).expect("group"),
                                format!("live tail bench {i}"),
                            );
                            e.initiator = Some("bench".into());
                            e
                        })
                        .collect();
                    store.insert_batch(&batch).await.expect("insert");
                    sent += 1000;
                    let so_far = total.fetch_add(1000, std::sync::atomic::Ordering::Relaxed) + 1000;
                    committed
                        .lock()
                        .expect("lock")
                        .push((Instant::now(), so_far));
                    if let Some(rate) = per_writer_rate {
                        let due = started + Duration::from_secs_f64(sent as f64 / rate);
                        tokio::time::sleep_until(due.into()).await;
                    }
                }
            })
        })
        .collect();
    for t in tasks {
        t.await.expect("writer");
    }
    let ingest_time = started.elapsed();
    let stored = total.load(std::sync::atomic::Ordering::Relaxed);
    // Wait until the stream has everything (or has said what it skipped), 60 s at most.
    let wait_until = Instant::now() + Duration::from_secs(60);
    loop {
        let got = delivered.lock().expect("lock").last().map_or(0, |d| d.1);
        let missed = skipped.load(std::sync::atomic::Ordering::Relaxed);
        if got + missed >= stored || Instant::now() > wait_until {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    reader.abort();
    println!("poller reads: {}", live.polls());
    let delivered = delivered.lock().expect("lock").clone();
    let committed = committed.lock().expect("lock").clone();
    let got = delivered.last().map_or(0, |d| d.1);
    let last_delivery = delivered.last().map_or(started, |d| d.0);
    // Lag of each delivery: how long ago the newest event it completed was committed.
    let mut lags: Vec<f64> = delivered
        .iter()
        .filter_map(|&(at, n)| {
            let i = committed.partition_point(|&(_, c)| c < n);
            committed
                .get(i)
                .map(|&(when, _)| at.saturating_duration_since(when).as_secs_f64() * 1000.0)
        })
        .collect();
    lags.sort_by(|a, b| a.total_cmp(b));
    let pct = |p: f64| {
        lags.get(((lags.len() as f64 - 1.0) * p).round() as usize)
            .copied()
            .unwrap_or(f64::NAN)
    };
    println!(
        "ingest: {stored} events in {:.1} s = {:.0} events/s ({writers} writers, batches of 1000)",
        ingest_time.as_secs_f64(),
        stored as f64 / ingest_time.as_secs_f64()
    );
    println!(
        "live tail: {got} delivered, {} reported skipped, {:.0} events/s until the last delivery",
        skipped.load(std::sync::atomic::Ordering::Relaxed),
        got as f64 / last_delivery.duration_since(started).as_secs_f64()
    );
    println!(
        "lag (commit to arrival): p50 {:.0} ms, p90 {:.0} ms, p99 {:.0} ms, max {:.0} ms; last event {:.0} ms after the last commit",
        pct(0.5),
        pct(0.9),
        pct(0.99),
        pct(1.0),
        last_delivery
            .saturating_duration_since(committed.last().map_or(started, |c| c.0))
            .as_secs_f64()
            * 1000.0
    );
}
