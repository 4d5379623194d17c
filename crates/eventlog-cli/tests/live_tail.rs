//! Following the log is exact: with concurrent writers on PostgreSQL and one transaction
//! that commits after later events were committed (its id is lower than theirs), the admin's
//! live tail (`eventlog serve`, SSE over HTTP) and `eventlog tail -f -n 0` (the real binary,
//! its stdout) each show every event exactly once, and nothing stored before they started.

use crate::support;

use std::collections::HashMap;
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use eventlog::{GroupId, NewEvent};
use eventlog_testing::TestDb;
use support::{Serve, ServeSpec, http};

const WRITERS: usize = 4;
const BATCHES: usize = 25;
const PER_BATCH: usize = 10;

fn event(message: String) -> NewEvent {
    NewEvent::new("info", GroupId::named("follow").unwrap(), message)
}

/// `m:KEY:end`, counted in a text.
fn count(text: &str, key: &str) -> usize {
    text.matches(&format!("m:{key}:end")).count()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_event_is_shown_once_with_a_transaction_held_open() {
    shown_once_with_a_transaction_held_open(TestDb::postgres().await).await;
}

/// The same through a Citus coordinator.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn on_citus_every_event_is_shown_once_with_a_transaction_held_open() {
    shown_once_with_a_transaction_held_open(TestDb::citus().await).await;
}

async fn shown_once_with_a_transaction_held_open(db: TestDb) {
    let store = eventlog::store::open(db.url()).await.unwrap();
    store
        .insert_batch(&[event("m:before:end".into())])
        .await
        .unwrap();
    support::add_user(db.url(), "alice", "correct horse battery staple");
    let server = Serve::start(ServeSpec::new(db.url()));
    let cookie = support::session_cookie(&server, "alice", "correct horse battery staple").await;
    let mut stream = http(Duration::from_secs(120))
        .get(server.url("/events/stream"))
        .header("cookie", &cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(stream.status(), 200);
    let sse = Arc::new(Mutex::new(String::new()));
    let reader = {
        let sse = sse.clone();
        tokio::spawn(async move {
            while let Ok(Some(chunk)) = stream.chunk().await {
                sse.lock()
                    .unwrap()
                    .push_str(&String::from_utf8_lossy(&chunk));
            }
        })
    };

    let mut tail = Command::new(env!("CARGO_BIN_EXE_eventlog"))
        .args(["tail", "-f", "-n", "0", "--interval", "100"])
        .env("EVENTLOG_DATABASE_URL", db.url())
        .env("EVENTLOG_CONFIG", "eventlog.toml")
        .env("NO_COLOR", "1")
        .current_dir(std::env::temp_dir())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let printed = Arc::new(Mutex::new(String::new()));
    support::collect_lines(tail.stdout.take().unwrap(), printed.clone(), |_| {});
    // Both followers are running once each has shown a probe; probes are not counted.
    for i in 0.. {
        assert!(i < 300, "the followers did not start");
        store
            .insert_batch(&[event(format!("probe {i}"))])
            .await
            .unwrap();
        tokio::time::sleep(Duration::from_millis(100)).await;
        if printed.lock().unwrap().contains("probe") && sse.lock().unwrap().contains("probe") {
            break;
        }
    }

    // An event whose id is drawn now, committed after everything below.
    let pool = sqlx::PgPool::connect(db.url()).await.unwrap();
    let mut held = pool.begin().await.unwrap();
    let gid: i64 = sqlx::query_scalar("SELECT gid FROM event_groups WHERE group_id = 'follow'")
        .fetch_one(&mut *held)
        .await
        .unwrap();
    let held_id: i64 = sqlx::query_scalar(
        "INSERT INTO events (ts, gid, uuid, event_type, message) \
         VALUES (now(), $1, $2, 'info', 'm:held:end') RETURNING id",
    )
    .bind(gid)
    .bind(uuid::Uuid::new_v4())
    .fetch_one(&mut *held)
    .await
    .unwrap();

    let writers: Vec<_> = (0..WRITERS)
        .map(|w| {
            let store = store.clone();
            tokio::spawn(async move {
                for b in 0..BATCHES {
                    let batch: Vec<NewEvent> = (0..PER_BATCH)
                        .map(|i| event(format!("m:{w}-{b}-{i}:end")))
                        .collect();
                    store.insert_batch(&batch).await.unwrap();
                    tokio::time::sleep(Duration::from_millis(5)).await;
                }
            })
        })
        .collect();
    for w in writers {
        w.await.unwrap();
    }
    let later: i64 = sqlx::query_scalar("SELECT max(id) FROM events")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert!(
        later > held_id,
        "later events have higher ids than the held one"
    );
    // Let both followers read past the later events before the held one commits.
    tokio::time::sleep(Duration::from_millis(2500)).await;
    assert_eq!(count(&printed.lock().unwrap(), "held"), 0);
    held.commit().await.unwrap();

    let mut keys: Vec<String> = vec!["held".into()];
    for w in 0..WRITERS {
        for b in 0..BATCHES {
            for i in 0..PER_BATCH {
                keys.push(format!("{w}-{b}-{i}"));
            }
        }
    }
    let all_seen = |text: &str| keys.iter().all(|k| count(text, k) >= 1);
    for _ in 0..300 {
        if all_seen(&printed.lock().unwrap()) && all_seen(&sse.lock().unwrap()) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // A moment more: a duplicate would arrive now.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let _ = tail.kill();
    let _ = tail.wait();
    reader.abort();
    for (name, text) in [
        ("tail -f", printed.lock().unwrap().clone()),
        ("admin live tail", sse.lock().unwrap().clone()),
    ] {
        let wrong: HashMap<&String, usize> = keys
            .iter()
            .map(|k| (k, count(&text, k)))
            .filter(|(_, n)| *n != 1)
            .collect();
        assert!(
            wrong.is_empty(),
            "{name}: events not shown exactly once (key: times): {wrong:?}"
        );
        assert_eq!(count(&text, "before"), 0, "{name} showed an older event");
    }
}
