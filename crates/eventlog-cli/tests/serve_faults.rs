//! Real faults against the real `eventlog serve`: SIGKILL during HTTP ingest (both
//! backends), PostgreSQL stopped, frozen (SIGSTOP) and restarted under load. Nothing
//! acknowledged is lost or doubled, no request waits past the configured timeouts, and the
//! service resumes without restarting eventlog.

use crate::support;

use std::collections::HashSet;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use eventlog_testing::api::ApiClient;
use eventlog_testing::{PgCluster, TestDb};
use serde_json::json;
use support::{Serve, ServeSpec, http};

/// Timeouts the PostgreSQL fault tests run with: no request may wait longer than
/// `request_timeout` (plus scheduling slack on a loaded machine).
const FAULT_CONFIG: &str = "[server]\nrequest_timeout = \"5s\"\n\
     [database]\nacquire_timeout = \"2s\"\nstatement_timeout = \"4s\"\n";
const REQUEST_TIMEOUT: Duration = Duration::from_secs(5);
const SLACK: Duration = Duration::from_secs(3);

/// A batch of `n` events with fresh idempotency keys, in one group.
fn batch(group: &str, n: usize) -> (Vec<uuid::Uuid>, serde_json::Value) {
    let ids: Vec<uuid::Uuid> = (0..n).map(|_| uuid::Uuid::new_v4()).collect();
    let body = ids
        .iter()
        .map(|id| json!({"type": "info", "message": "fault test", "group": group, "id": id}))
        .collect();
    (ids, serde_json::Value::Array(body))
}

/// A private PostgreSQL (to stop, freeze or restart), an API token, and `eventlog serve` on
/// it with the faults' timeouts.
fn serving_a_private_cluster() -> (PgCluster, String, String, Serve) {
    let cluster = PgCluster::start().expect("start a private PostgreSQL");
    let url = cluster.url();
    let token = support::token(&url);
    let server = Serve::start(ServeSpec {
        config: FAULT_CONFIG,
        ..ServeSpec::new(&url)
    });
    (cluster, url, token, server)
}

/// [`serving_a_private_cluster`] working before the fault: one batch of `group` posted and
/// stored (201) through `api`, a client that gives up after `timeout`.
struct Working {
    cluster: PgCluster,
    url: String,
    server: Serve,
    api: ApiClient,
    /// The batch posted: to post again.
    body: serde_json::Value,
}

impl Working {
    async fn start(group: &str, timeout: Duration) -> Working {
        let (cluster, url, token, server) = serving_a_private_cluster();
        let api = ApiClient::new(http(timeout), server.url("/api/v1"), token);
        let (_, body) = batch(group, 1);
        assert_eq!(post(&api, &body).await.0, 201);
        Working {
            cluster,
            url,
            server,
            api,
            body,
        }
    }
}

/// One POST of `body` to `/events`; its status (0: no answer), how long it took and its
/// `Retry-After`.
async fn post(api: &ApiClient, body: &serde_json::Value) -> (u16, Duration, Option<String>) {
    let started = Instant::now();
    let resp = api
        .request(reqwest::Method::POST, "/events")
        .json(body)
        .send()
        .await;
    match resp {
        Ok(r) => {
            let status = r.status().as_u16();
            let retry = r
                .headers()
                .get("retry-after")
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned);
            let _ = r.bytes().await;
            (status, started.elapsed(), retry)
        }
        Err(_) => (0, started.elapsed(), None),
    }
}

/// Every acknowledged key is stored exactly once.
async fn assert_stored_once(url: &str, group: &str, acked: &HashSet<uuid::Uuid>) {
    let store = eventlog::store::open(url).await.unwrap();
    let events = store.group_events(group, 1_000_000).await.unwrap();
    let mut seen = HashSet::new();
    for e in &events {
        assert!(seen.insert(e.uuid), "event {} stored twice", e.uuid);
    }
    let missing = acked.iter().filter(|id| !seen.contains(id)).count();
    assert_eq!(
        missing,
        0,
        "{missing} of {} acknowledged events lost",
        acked.len()
    );
}

async fn sigkill_during_ingest_loses_and_doubles_nothing(url: &str) {
    let token = support::token(url);
    let mut server = Serve::start(ServeSpec::new(url));
    let base = server.url("/api/v1");
    let acked = Arc::new(Mutex::new(HashSet::new()));
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let mut clients = Vec::new();
    for _ in 0..4 {
        let (base, token, acked, stop) = (base.clone(), token.clone(), acked.clone(), stop.clone());
        clients.push(tokio::spawn(async move {
            let api = ApiClient::new(http(Duration::from_secs(30)), base, token);
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                let (ids, body) = batch("killed", 50);
                let (status, _, _) = post(&api, &body).await;
                match status {
                    201 => acked.lock().unwrap().extend(ids),
                    0 => break, // The server is gone.
                    other => panic!("unexpected status {other}"),
                }
            }
        }));
    }
    tokio::time::sleep(Duration::from_millis(1500)).await;
    server.signal("KILL");
    server.wait_exit(Duration::from_secs(10)).expect("killed");
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    for c in clients {
        c.await.unwrap();
    }
    let acked = acked.lock().unwrap().clone();
    assert!(
        !acked.is_empty(),
        "nothing was acknowledged before the kill"
    );

    // Restarted on the same database: it serves, and every 201 is there exactly once.
    let server = Serve::start(ServeSpec::new(url));
    let health = http(Duration::from_secs(15))
        .get(server.url("/healthz"))
        .send()
        .await
        .unwrap();
    assert_eq!(health.status(), 200);
    assert_stored_once(url, "killed", &acked).await;
}

eventlog_testing::on_both_backends!(sigkill_during_ingest_loses_and_doubles_nothing);

/// PostgreSQL stopped: `/healthz` and the API answer 503 with `Retry-After` within the
/// acquire timeout (not after 10 s, not 500), `/livez` still answers, the CLI names the
/// refused address once; after PostgreSQL comes back the same process serves again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stopped_postgres_gets_a_fast_503_and_service_resumes() {
    let Working {
        cluster,
        url,
        server,
        api,
        body,
    } = Working::start("outage", Duration::from_secs(30)).await;
    let client = &api.http;

    cluster.stop().unwrap();
    let started = Instant::now();
    let health = client.get(server.url("/healthz")).send().await.unwrap();
    assert_eq!(health.status(), 503);
    assert_eq!(health.headers()["retry-after"], "5");
    assert!(
        started.elapsed() < REQUEST_TIMEOUT + SLACK,
        "{:?}",
        started.elapsed()
    );
    assert_eq!(
        eventlog_testing::http::get_status(client, &server.url("/livez")).await,
        200
    );

    let started = Instant::now();
    let resp = api.post_json("/events", &body).await;
    let elapsed = started.elapsed();
    assert_eq!(resp.status(), 503);
    assert!(resp.headers().contains_key("retry-after"));
    let text = resp.text().await.unwrap();
    assert!(text.contains("database is unavailable"), "{text}");
    assert!(
        !text.to_lowercase().contains("pool"),
        "driver text leaked: {text}"
    );
    assert!(elapsed < REQUEST_TIMEOUT + SLACK, "503 took {elapsed:?}");

    // The CLI: one line naming the refused address, fast.
    let started = Instant::now();
    let out = support::eventlog(&url, &["migrate"], None);
    let elapsed = started.elapsed();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    let refused = format!("connection refused at 127.0.0.1:{}", cluster.port());
    assert!(stderr.contains(&refused), "{stderr}");
    assert_eq!(stderr.matches("refused").count(), 1, "{stderr}");
    assert!(!stderr.contains("pool timed out"), "{stderr}");
    assert!(elapsed < Duration::from_secs(8), "CLI took {elapsed:?}");

    cluster.restart().unwrap();
    let resumed = Instant::now();
    loop {
        let (status, _, _) = post(&api, &body).await;
        if status == 201 {
            break;
        }
        assert!(
            resumed.elapsed() < Duration::from_secs(30),
            "no 201 within 30 s of PostgreSQL's restart (last: {status})\n{}",
            server.log()
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert_eq!(
        eventlog_testing::http::get_status(client, &server.url("/healthz")).await,
        200
    );
}

/// A frozen PostgreSQL (SIGSTOP: connections open, nothing answers) does not hold a request
/// past the timeouts: 503, and the server serves again once it thaws.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn frozen_postgres_does_not_hold_requests() {
    let Working {
        cluster,
        server,
        api,
        body,
        ..
    } = Working::start("frozen", Duration::from_secs(60)).await;

    cluster.pause().unwrap();
    let result = async {
        let (status, took, retry) = post(&api, &body).await;
        let health_started = Instant::now();
        let health = api
            .http
            .get(server.url("/healthz"))
            .send()
            .await
            .map(|r| r.status().as_u16());
        (status, took, retry, health, health_started.elapsed())
    }
    .await;
    cluster.resume().unwrap();
    let (status, took, retry, health, health_took) = result;
    assert_eq!(status, 503, "{}", server.log());
    assert!(retry.is_some());
    assert!(
        took < REQUEST_TIMEOUT + SLACK,
        "the request was held {took:?}"
    );
    assert_eq!(health.unwrap(), 503);
    assert!(
        health_took < REQUEST_TIMEOUT + SLACK,
        "/healthz took {health_took:?}"
    );

    let thawed = Instant::now();
    while post(&api, &body).await.0 != 201 {
        assert!(
            thawed.elapsed() < Duration::from_secs(30),
            "{}",
            server.log()
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// PostgreSQL restarted while four clients post: every request gets an answer within the
/// timeouts (201 or 503), posting succeeds again without restarting eventlog, and every
/// 201 is stored exactly once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_restart_under_http_load() {
    let (cluster, url, token, server) = serving_a_private_cluster();
    let base = server.url("/api/v1");
    let acked = Arc::new(Mutex::new(HashSet::new()));
    let results = Arc::new(Mutex::new(Vec::new()));
    let started = Instant::now();
    let restarted_at = Arc::new(Mutex::new(None::<Instant>));
    let mut clients = Vec::new();
    for _ in 0..4 {
        let (base, token, acked, results, restarted_at) = (
            base.clone(),
            token.clone(),
            acked.clone(),
            results.clone(),
            restarted_at.clone(),
        );
        clients.push(tokio::spawn(async move {
            let api = ApiClient::new(http(Duration::from_secs(60)), base, token);
            let mut ok_after_restart = 0;
            while started.elapsed() < Duration::from_secs(5) || ok_after_restart == 0 {
                assert!(started.elapsed() < Duration::from_secs(60), "never resumed");
                let (ids, body) = batch("restart", 20);
                let (status, took, _) = post(&api, &body).await;
                let back = restarted_at
                    .lock()
                    .unwrap()
                    .is_some_and(|t| Instant::now() > t);
                if status == 201 {
                    acked.lock().unwrap().extend(ids);
                    if back {
                        ok_after_restart += 1;
                    }
                } else if status == 503 {
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
                results.lock().unwrap().push((status, took));
            }
        }));
    }
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let cluster = tokio::task::spawn_blocking(move || {
        cluster.restart().unwrap();
        cluster
    })
    .await
    .unwrap();
    *restarted_at.lock().unwrap() = Some(Instant::now());
    for c in clients {
        c.await.unwrap();
    }
    let results = results.lock().unwrap().clone();
    let unexpected: Vec<_> = results
        .iter()
        .filter(|(status, _)| *status != 201 && *status != 503)
        .collect();
    assert!(unexpected.is_empty(), "{unexpected:?}\n{}", server.log());
    let slowest = results.iter().map(|(_, took)| *took).max().unwrap();
    assert!(
        slowest < REQUEST_TIMEOUT + SLACK,
        "a request waited {slowest:?} (timeout {REQUEST_TIMEOUT:?})"
    );
    eprintln!(
        "{} requests, {} refused with 503, slowest {slowest:?}",
        results.len(),
        results.iter().filter(|(s, _)| *s == 503).count()
    );
    let acked = acked.lock().unwrap().clone();
    assert_stored_once(&url, "restart", &acked).await;
    drop(cluster);
}

/// A SQLite database file in a directory that does not exist: one message naming the
/// directory and how to create it.
#[test]
fn missing_sqlite_directory_is_named_once_with_a_fix() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("no").join("such");
    let url = format!("sqlite://{}/events.db", missing.display());
    let out = support::eventlog(&url, &["migrate"], None);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(
        stderr.contains(&format!("directory {} does not exist", missing.display())),
        "{stderr}"
    );
    assert!(stderr.contains("mkdir -p"), "{stderr}");
    assert_eq!(stderr.matches("does not exist").count(), 1, "{stderr}");
    assert_eq!(stderr.lines().count(), 2, "{stderr}");
}

/// A role that does not exist: named once, with the command that creates it; a URL
/// without a password is shown without `:***`.
#[tokio::test]
async fn missing_role_is_named_once_with_a_fix() {
    let db = TestDb::postgres().await;
    let url = db
        .url()
        .replacen("postgres://postgres@", "postgres://nobody_here@", 1);
    assert_ne!(url, db.url(), "expected a postgres://postgres@ test URL");
    let out = support::eventlog(&url, &["migrate"], None);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert_eq!(
        stderr
            .matches("role \"nobody_here\" does not exist")
            .count(),
        1,
        "{stderr}"
    );
    assert!(
        stderr.contains("createuser --login nobody_here"),
        "{stderr}"
    );
    assert!(!stderr.contains(":***"), "{stderr}");
}
