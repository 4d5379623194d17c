//! HTTP ingest throughput: `POST /api/v1/events` over a real loopback socket with a pooled
//! HTTP client, batches of 1,000 and 100 and single events, into SQLite (and PostgreSQL when
//! EVENTLOG_TEST_POSTGRES_URL is set). Prints events per second, and the same load straight
//! into the store for comparison.
//!
//! Run with: cargo bench -p eventlog-web --bench ingest
//! (INGEST_SECS=N sets the measuring time per case, default 5; INGEST_CLIENTS=N the number
//! of concurrent clients, default 16; INGEST_BATCHES=1000,100,1 the batch sizes.)

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use axum::Router;
use eventlog::EventTypes;
use eventlog::store::{self, EventFilter};
use eventlog_testing::TestDb;
use eventlog_web::api::{self, ApiState};
use serde_json::json;

/// jemalloc, as in the `eventlog` binary (which also makes it SQLite's C `malloc`): the
/// server's allocations cost here what they cost in production.
#[cfg(not(target_env = "msvc"))]
#[global_allocator]
static ALLOCATOR: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

fn env_num(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

async fn run_case(db: &TestDb, label: &str, batch: usize) {
    let store = store::open(db.url()).await.expect("open store");
    let token = store
        .create_token(&format!("bench-{batch}"), eventlog::store::TokenScope::All)
        .await
        .expect("token");
    let state = ApiState::new(store.clone(), EventTypes::default());
    let app = Router::new().nest(api::BASE_PATH, api::router(state));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    let server = tokio::spawn(async move { axum::serve(listener, app).await });
    let url = format!("http://{addr}/api/v1/events");
    let http = reqwest::Client::builder()
        .pool_max_idle_per_host(256)
        .build()
        .expect("client");
    let before = store.count(&EventFilter::default()).await.expect("count");

    // One body per client, reused: the server, not the client, is being measured.
    let body = |client: usize| {
        let items: Vec<_> = (0..batch)
            .map(|i| {
                json!({"type": "info", "message": format!("bench event {i} of client {client}"),
                       "initiator": "bench", "data": {"i": i, "client": client}})
            })
            .collect();
        if batch == 1 {
            items[0].to_string()
        } else {
            serde_json::Value::Array(items).to_string()
        }
    };
    let clients = env_num("INGEST_CLIENTS", 16) as usize;
    let secs = env_num("INGEST_SECS", 5);
    let sent = Arc::new(AtomicU64::new(0));
    let start = Instant::now();
    let deadline = start + Duration::from_secs(secs);
    let tasks: Vec<_> = (0..clients)
        .map(|c| {
            let (http, url, token, sent) = (http.clone(), url.clone(), token.clone(), sent.clone());
            let body = body(c);
            tokio::spawn(async move {
                while Instant::now() < deadline {
                    let r = http
                        .post(&url)
                        .bearer_auth(&token)
                        .header("content-type", "application/json")
                        .body(body.clone())
                        .send()
                        .await
                        .expect("request");
                    assert_eq!(r.status(), 201, "{:?}", r.text().await);
                    sent.fetch_add(batch as u64, Ordering::Relaxed);
                }
            })
        })
        .collect();
    for t in tasks {
        t.await.expect("client task");
    }
    let elapsed = start.elapsed().as_secs_f64();
    let n = sent.load(Ordering::Relaxed);
    let stored = store.count(&EventFilter::default()).await.expect("count") - before;
    assert_eq!(stored, n, "every acknowledged event is stored");
    println!(
        "{label:<10} batch {batch:>3}: {n:>8} events in {elapsed:.1} s = {:>9.0} events/s ({:.0} requests/s, {clients} clients)",
        n as f64 / elapsed,
        n as f64 / batch as f64 / elapsed
    );
    server.abort();
}

/// The same load straight into `Store::insert_batch` (no HTTP), to show what HTTP costs.
async fn store_only(db: &TestDb, label: &str, batch: usize) {
    let store = store::open(db.url()).await.expect("open store");
    let clients = env_num("INGEST_CLIENTS", 16) as usize;
    let secs = env_num("INGEST_SECS", 5);
    let start = Instant::now();
    let deadline = start + Duration::from_secs(secs);
    let sent = Arc::new(AtomicU64::new(0));
    let tasks: Vec<_> = (0..clients)
        .map(|c| {
            let (store, sent) = (store.clone(), sent.clone());
            tokio::spawn(async move {
                while Instant::now() < deadline {
                    // One group per batch, as in the HTTP case (items without a group).
                    let group = eventlog::GroupId::random();
                    let events: Vec<_> = (0..batch)
                        .map(|i| {
                            let mut e = eventlog::NewEvent::new(
                                "info",
                                group.clone(),
                                format!("bench event {i} of client {c}"),
                            );
                            e.initiator = Some("bench".into());
                            e.data = Some(json!({"i": i, "client": c}));
                            e
                        })
                        .collect();
                    store.insert_batch(&events).await.expect("insert");
                    sent.fetch_add(batch as u64, Ordering::Relaxed);
                }
            })
        })
        .collect();
    for t in tasks {
        t.await.expect("task");
    }
    let n = sent.load(Ordering::Relaxed);
    let elapsed = start.elapsed().as_secs_f64();
    println!(
        "{label:<10} batch {batch:>3}: {n:>8} events in {elapsed:.1} s = {:>9.0} events/s (store only: one transaction per batch, no HTTP)",
        n as f64 / elapsed
    );
}

fn main() {
    // `cargo bench` passes --bench; test runners listing targets (nextest --list) must not
    // start a benchmark.
    if !std::env::args().any(|a| a == "--bench") {
        return;
    }
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    rt.block_on(async {
        let mut backends = vec!["sqlite"];
        if std::env::var(eventlog_testing::POSTGRES_URL_ENV).is_ok() {
            backends.push("postgres");
        }
        for backend in backends {
            let batches = std::env::var("INGEST_BATCHES").unwrap_or_else(|_| "1000,100,1".into());
            for batch in batches
                .split(',')
                .filter_map(|b| b.trim().parse::<usize>().ok())
            {
                let db = TestDb::backend(backend).await;
                run_case(&db, backend, batch).await;
                if batch > 1 {
                    let db = TestDb::backend(backend).await;
                    store_only(&db, backend, batch).await;
                }
            }
        }
    });
}
