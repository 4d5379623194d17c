//! A Citus worker stopped under ingest: `eventlog serve` on a private Citus cluster answers
//! fast (a `503` with `Retry-After`, never a hang or a `500`) while the worker is down, loses
//! and doubles no acknowledged event, and serves again once the worker is back, without a
//! restart of eventlog.

use crate::support;

use std::collections::{BTreeMap, HashSet};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use eventlog::store::{EventFilter, Order};
use eventlog_testing::CitusCluster;
use serde_json::json;
use support::{Serve, ServeSpec, http};

/// The limits a request has: no answer may take longer than `request_timeout` (plus slack
/// for a loaded machine).
const FAULT_CONFIG: &str = "[server]\nrequest_timeout = \"5s\"\n\
     [database]\nacquire_timeout = \"2s\"\nstatement_timeout = \"4s\"\n";
const LONGEST_ANSWER: Duration = Duration::from_secs(8);

/// What the clients saw: each status (0: no answer) with its count, the slowest answer, and
/// when the last `201` came.
#[derive(Debug, Default)]
struct Seen {
    statuses: BTreeMap<u16, u64>,
    slowest: Duration,
    acked: HashSet<uuid::Uuid>,
    last_created: Option<Instant>,
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stopped_worker_gets_fast_503s_loses_nothing_and_service_resumes() {
    let cluster = CitusCluster::start()
        .await
        .expect("start a private Citus cluster (Citus built by ../shared/vendor/citus/build.sh)");
    let url = cluster.url();
    let token = support::token(&url);
    let server = Serve::start(ServeSpec {
        config: FAULT_CONFIG,
        ..ServeSpec::new(&url)
    });
    let base = server.url("/api/v1/events");
    let seen = Arc::new(Mutex::new(Seen::default()));
    let stop = Arc::new(AtomicBool::new(false));
    let clients: Vec<_> = (0..4)
        .map(|c| {
            let (base, token, seen, stop) = (base.clone(), token.clone(), seen.clone(), stop.clone());
            tokio::spawn(async move {
                let http = http(Duration::from_secs(30));
                let mut n = 0;
                while !stop.load(Ordering::SeqCst) {
                    // Sixteen groups: shards on both workers.
                    let ids: Vec<uuid::Uuid> = (0..16).map(|_| uuid::Uuid::now_v7()).collect();
                    let body: Vec<_> = ids
                        .iter()
                        .enumerate()
                        .map(|(i, id)| {
                            json!({"id": id, "type": "info", "message": "fault", "group": format!("c{c}-{n}-{i}")})
                        })
                        .collect();
                    n += 1;
                    let started = Instant::now();
                    let status = match http.post(&base).bearer_auth(&token).json(&body).send().await {
                        Ok(r) => {
                            let status = r.status().as_u16();
                            if status == 503 {
                                assert!(r.headers().contains_key("retry-after"), "503 without Retry-After");
                            }
                            let _ = r.bytes().await;
                            status
                        }
                        Err(_) => 0,
                    };
                    let took = started.elapsed();
                    {
                        let mut seen = seen.lock().unwrap();
                        *seen.statuses.entry(status).or_default() += 1;
                        seen.slowest = seen.slowest.max(took);
                        if status == 201 {
                            seen.acked.extend(ids);
                            seen.last_created = Some(Instant::now());
                        }
                    }
                    tokio::time::sleep(Duration::from_millis(20)).await;
                }
            })
        })
        .collect();

    tokio::time::sleep(Duration::from_secs(2)).await;
    let before = seen.lock().unwrap().acked.len();
    assert!(
        before > 0,
        "nothing was stored before the fault: {:?}",
        seen.lock().unwrap()
    );
    cluster.worker(1).stop().expect("stop a worker");
    let stopped_at = Instant::now();
    tokio::time::sleep(Duration::from_secs(6)).await;
    let during = std::mem::take(&mut seen.lock().unwrap().statuses);
    cluster.worker(1).restart().expect("start the worker again");
    let restarted_at = Instant::now();
    // Service resumes by itself: a 201 after the restart, within 30 s.
    loop {
        let last = seen.lock().unwrap().last_created;
        if last.is_some_and(|t| t > restarted_at) {
            break;
        }
        assert!(
            restarted_at.elapsed() < Duration::from_secs(30),
            "no event stored since the worker came back: {:?}",
            seen.lock().unwrap()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    tokio::time::sleep(Duration::from_secs(1)).await;
    stop.store(true, Ordering::SeqCst);
    for client in clients {
        client.await.expect("a client failed");
    }
    let seen = Arc::try_unwrap(seen).unwrap().into_inner().unwrap();
    eprintln!(
        "while the worker was down ({:?}): {during:?}; after: {:?}; slowest answer {:?}",
        restarted_at - stopped_at,
        seen.statuses,
        seen.slowest
    );
    let log = server.log();
    for line in log.lines().filter(|l| l.contains("ERROR")).take(5) {
        eprintln!("server: {line}");
    }
    assert!(
        during.get(&503).copied().unwrap_or(0) > 0,
        "no 503 while a worker was down: {during:?}"
    );
    for status in during.keys().chain(seen.statuses.keys()) {
        assert!(
            [201, 503].contains(status),
            "status {status} (only 201 or 503 expected): {during:?} {:?}",
            seen.statuses
        );
    }
    assert!(
        seen.slowest < LONGEST_ANSWER,
        "an answer took {:?}",
        seen.slowest
    );

    // Every acknowledged event is stored, once.
    let store = eventlog::store::open(&url).await.unwrap();
    let mut stored = HashSet::new();
    let mut cursor = None;
    loop {
        let page = store
            .list(&EventFilter::default(), Order::Asc, cursor.as_ref(), 10_000)
            .await
            .unwrap();
        for e in &page.items {
            assert!(stored.insert(e.uuid), "event {} stored twice", e.uuid);
        }
        match page.next {
            Some(next) => cursor = Some(next),
            None => break,
        }
    }
    let lost = seen.acked.difference(&stored).count();
    assert_eq!(
        lost,
        0,
        "{lost} of {} acknowledged events lost",
        seen.acked.len()
    );
}
