//! The recording API and the background writer against real databases.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};

use eventlog::store;
use eventlog::{CommitObserver, Error, Event, EventLog, NewEvent, ValidationError};
use serde_json::json;

use eventlog_testing::PgCluster;

use crate::support::all_stored;

async fn records_and_flushes(url: &str) {
    let log = EventLog::open(url).await.unwrap();
    let e = log.group();
    e.info("About to send 1000 mails.")
        .initiator("Mailer Daemon")
        .await
        .unwrap();
    e.error("There was an error sending the emails.")
        .initiator("Mailer Daemon")
        .data(&json!({"sent": 17}))
        .await
        .unwrap();
    log.flush().await.unwrap();
    let events = all_stored(url).await;
    assert_eq!(events.len(), 2);
    assert_eq!(events[0].message, "About to send 1000 mails.");
    assert_eq!(events[0].group, e.id().as_str());
    assert_eq!(events[1].event_type, "error");
    assert_eq!(events[1].data, Some(json!({"sent": 17})));
    assert_eq!(events[1].initiator.as_deref(), Some("Mailer Daemon"));
    let stats = log.close().await.unwrap();
    assert_eq!((stats.stored, stats.failed, stats.queued), (2, 0, 0));
}

async fn plain_threads_share_a_named_group(url: &str) {
    let log = EventLog::builder(url).open_blocking().unwrap();
    let threads: Vec<_> = (0..4)
        .map(|t| {
            let log = log.clone();
            std::thread::spawn(move || {
                for i in 0..250 {
                    let group = log.group_named("Order 1234").unwrap();
                    group
                        .info(format!("thread {t} step {i}"))
                        .data(&json!({"t": t, "i": i}))
                        .record()
                        .unwrap();
                }
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
    let stats = log.close_blocking().unwrap();
    assert_eq!(stats.stored, 1000);
    let store = store::open(url).await.unwrap();
    let group = store.group_events("Order 1234", 10_000).await.unwrap();
    assert_eq!(group.len(), 1000);
    let summary = store.group_summary("Order 1234").await.unwrap().unwrap();
    assert_eq!(summary.event_count, 1000);
}

async fn back_pressure_loses_nothing(url: &str) {
    // A queue of 8 and batches of 3 force callers to wait on the writer constantly.
    let log = EventLog::builder(url)
        .capacity(8)
        .batch_size(3)
        .open()
        .await
        .unwrap();
    let mut tasks = Vec::new();
    for t in 0..4 {
        let log = log.clone();
        tasks.push(tokio::spawn(async move {
            let g = log.group();
            for i in 0..100 {
                g.warning(format!("{t}/{i}")).await.unwrap();
            }
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    let stats = log.close().await.unwrap();
    assert_eq!(stats.stored, 400);
    assert_eq!(all_stored(url).await.len(), 400);
}

async fn dropping_the_last_handle_stores_everything(url: &str) {
    {
        let log = EventLog::builder(url).open_blocking().unwrap();
        let g = log.group();
        for i in 0..500 {
            g.info(format!("event {i}")).record().unwrap();
        }
        // No flush, no close: the drop must drain the queue.
    }
    assert_eq!(all_stored(url).await.len(), 500);
}

async fn invalid_events_fail_at_the_call_and_store_nothing(url: &str) {
    let log = EventLog::open(url).await.unwrap();
    let g = log.group();
    let err = g.event("mail_sent", "x").await.unwrap_err();
    assert_eq!(
        err.to_string(),
        "event type \"mail_sent\" is not configured; configured types are: info, warning, error, critical"
    );
    let err = g.event("bad type", "x").await.unwrap_err();
    assert!(
        matches!(err, Error::Invalid(ValidationError::TypeName { .. })),
        "{err}"
    );
    let err = g.info("x").initiator("i".repeat(501)).await.unwrap_err();
    assert!(err.to_string().contains("at most 500 characters"), "{err}");
    let err = g.info("").await.unwrap_err();
    assert_eq!(
        err.to_string(),
        "message is empty; every event needs a message"
    );
    let err = g.info("x").send_mail("not an address").await.unwrap_err();
    assert!(
        err.to_string().contains("is not an e-mail address"),
        "{err}"
    );
    let err = log.group_named("g".repeat(41)).unwrap_err();
    assert!(
        err.to_string().contains("must be 1 to 40 characters"),
        "{err}"
    );
    // Group defaults keep the chain unbroken: checked by `check()` or at the record.
    assert!(log.group().send_mail("nope").check().is_err());
    assert!(log.group().initiator("i".repeat(501)).check().is_err());
    let err = log
        .group()
        .initiator("i".repeat(501))
        .info("x")
        .await
        .unwrap_err();
    assert!(
        matches!(
            err,
            Error::Invalid(ValidationError::InitiatorLength { len: 501 })
        ),
        "{err}"
    );
    let err = log
        .group()
        .send_mail("nope")
        .info("x")
        .record()
        .unwrap_err();
    assert!(
        matches!(err, Error::Invalid(ValidationError::MailRecipient { .. })),
        "{err}"
    );
    log.flush().await.unwrap();
    assert!(all_stored(url).await.is_empty(), "nothing half-written");
    assert_eq!(log.close().await.unwrap().stored, 0);
}

/// No `Debug`: `.data()` needs only `Serialize`.
struct NotJson(HashMap<(u8, u8), &'static str>);

impl serde::Serialize for NotJson {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        // Tuple keys are not valid JSON object keys: serde_json fails.
        self.0.serialize(s)
    }
}

async fn unserializable_data_is_stored_with_its_error(url: &str) {
    let log = EventLog::open(url).await.unwrap();
    let data = NotJson(HashMap::from([((1, 2), "x")]));
    log.group().info("odd data").data(&data).await.unwrap();
    log.close().await.unwrap();
    let events = all_stored(url).await;
    assert_eq!(
        events[0].data,
        Some(json!({"unserializable": "key must be a string"})),
        "stored as the serialization error"
    );
}

async fn the_same_uuid_is_stored_once(url: &str) {
    let log = EventLog::open(url).await.unwrap();
    let event = log.group().info("once").into_event();
    log.record(event.clone()).await.unwrap();
    log.flush().await.unwrap();
    log.record(event.clone()).await.unwrap();
    let stats = log.close().await.unwrap();
    assert_eq!((stats.stored, stats.duplicates), (1, 1));
    assert_eq!(all_stored(url).await.len(), 1);
}

#[derive(Default)]
struct Seen(Mutex<Vec<Event>>);

impl CommitObserver for Seen {
    fn committed(&self, events: &[Event]) {
        self.0.lock().unwrap().extend_from_slice(events);
    }
}

async fn observers_see_each_stored_event_once(url: &str) {
    let seen = Arc::new(Seen::default());
    let log = EventLog::builder(url)
        .on_commit(seen.clone())
        .open()
        .await
        .unwrap();
    let g = log.group().send_mail("ops@example.com");
    let first: NewEvent = g.info("one").into_event();
    log.record(first.clone()).await.unwrap();
    log.record(first).await.unwrap(); // duplicate: not observed again
    g.warning("two")
        .send_mail("boss@example.com")
        .await
        .unwrap();
    log.close().await.unwrap();
    let seen = seen.0.lock().unwrap();
    assert_eq!(seen.len(), 2);
    assert!(seen.iter().all(|e| e.id > 0));
    assert_eq!(seen[0].send_mail.as_deref(), Some("ops@example.com"));
    assert_eq!(seen[1].send_mail.as_deref(), Some("boss@example.com"));
}

async fn a_bad_url_fails_at_open(_: &str) {
    let err = EventLog::open("mysql://localhost/x").await.unwrap_err();
    assert!(
        err.to_string().contains("unsupported database URL"),
        "{err}"
    );
}

/// An event the database refuses for its data (here a constraint the test adds: a message
/// "poison" is rejected) is a permanent error. The writer isolates it by splitting the batch,
/// logs and counts it as failed, and stores every other event.
async fn an_unstorable_event_is_isolated_and_counted(url: &str) {
    use sqlx::Connection;
    let log = EventLog::open(url).await.unwrap(); // migrates
    if url.starts_with("sqlite") {
        let mut conn = sqlx::SqliteConnection::connect(url).await.unwrap();
        sqlx::query(
            "CREATE TRIGGER poison BEFORE INSERT ON events WHEN NEW.message = 'poison' \
             BEGIN SELECT RAISE(ABORT, 'poison refused'); END",
        )
        .execute(&mut conn)
        .await
        .unwrap();
    } else {
        let mut conn = sqlx::PgConnection::connect(url).await.unwrap();
        sqlx::query("ALTER TABLE events ADD CONSTRAINT no_poison CHECK (message <> 'poison')")
            .execute(&mut conn)
            .await
            .unwrap();
    }
    let g = log.group();
    for i in 0..50 {
        let message = if i == 17 {
            "poison".to_owned()
        } else {
            format!("ok {i}")
        };
        g.info(message).await.unwrap();
    }
    let stats = log.close().await.unwrap();
    assert_eq!((stats.stored, stats.failed), (49, 1), "{stats:?}");
    let stored = all_stored(url).await;
    assert_eq!(stored.len(), 49);
    assert!(stored.iter().all(|e| e.message != "poison"));
}

/// Restart the PostgreSQL server in the middle of a stream of events, then flush: every event
/// is stored exactly once (uuids make retried batches idempotent).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_restart_mid_stream_loses_and_duplicates_nothing() {
    let cluster = PgCluster::start().expect("start a private PostgreSQL cluster");
    let url = cluster.url();
    let log = EventLog::builder(&url)
        .batch_size(200)
        .open()
        .await
        .unwrap();
    let progress = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let producer = {
        let log = log.clone();
        let progress = progress.clone();
        tokio::spawn(async move {
            let mut uuids = Vec::new();
            for i in 0..20_000 {
                progress.store(i, std::sync::atomic::Ordering::SeqCst);
                let g = log.group_named(format!("run {}", i / 100)).unwrap();
                uuids.push(
                    g.info(format!("event {i}"))
                        .initiator("restart test")
                        .await
                        .unwrap(),
                );
                // Spread the stream over a few seconds so the restart lands inside it.
                if i % 50 == 0 {
                    tokio::time::sleep(std::time::Duration::from_millis(5)).await;
                }
            }
            uuids
        })
    };
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    let recorded_before = progress.load(std::sync::atomic::Ordering::SeqCst);
    let cluster = tokio::task::spawn_blocking(move || {
        cluster.restart().expect("restart");
        cluster
    })
    .await
    .unwrap();
    let recorded_after = progress.load(std::sync::atomic::Ordering::SeqCst);
    assert!(
        recorded_before > 0 && recorded_after < 19_999,
        "the restart must fall inside the stream ({recorded_before}..{recorded_after})"
    );
    let uuids = producer.await.unwrap();
    log.flush().await.unwrap();
    let stats = log.close().await.unwrap();
    assert_eq!((stats.stored, stats.failed), (20_000, 0), "{stats:?}");
    let events = all_stored(&cluster.url()).await;
    assert_eq!(events.len(), 20_000);
    let stored: HashSet<_> = events.iter().map(|e| e.uuid).collect();
    let sent: HashSet<_> = uuids.into_iter().collect();
    assert_eq!(stored, sent, "exactly the recorded events, each once");
}

eventlog_testing::on_both_backends!(
    records_and_flushes,
    plain_threads_share_a_named_group,
    back_pressure_loses_nothing,
    dropping_the_last_handle_stores_everything,
    invalid_events_fail_at_the_call_and_store_nothing,
    unserializable_data_is_stored_with_its_error,
    the_same_uuid_is_stored_once,
    observers_see_each_stored_event_once,
    a_bad_url_fails_at_open,
    an_unstorable_event_is_isolated_and_counted,
);
