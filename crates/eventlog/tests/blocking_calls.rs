//! Calls that may wait, and how long: dropping the last `EventLog` handle blocks for a
//! bounded time, even when the database is locked (the writer would retry for its 30 s
//! shutdown timeout) and the mail server hangs (the mail sender would wait for its send and
//! close timeouts) — `close()` stays the way to wait for everything; and `.record()` waiting
//! for queue space inside a tokio runtime does not stall the worker's other tasks.

use std::time::{Duration, Instant};

use eventlog::EventLog;
use eventlog::mail::MailConfig;
use eventlog_testing::TestDb;
use eventlog_testing::smtp::{Mode, SmtpSink};
use sqlx::Connection as _;

/// The default bound is 5 s; "well below the 30 s the writer alone could take" is the point.
const GENEROUS: Duration = Duration::from_secs(12);

/// Another connection to `db`, holding its write lock until `ROLLBACK`.
async fn lock_database(db: &TestDb) -> sqlx::SqliteConnection {
    let mut locker = sqlx::SqliteConnection::connect(db.url()).await.unwrap();
    sqlx::query("BEGIN EXCLUSIVE")
        .execute(&mut locker)
        .await
        .unwrap();
    locker
}

#[test]
fn drop_returns_within_its_bound_while_the_database_is_locked() {
    let db = TestDb::sqlite();
    let log = EventLog::builder(db.url()).open_blocking().unwrap();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    // Another connection holds the write lock: the writer's transaction waits and retries.
    let mut locker = runtime.block_on(lock_database(&db));
    log.group().info("stuck behind the lock").record().unwrap();

    let started = Instant::now();
    drop(log);
    let took = started.elapsed();
    assert!(took < GENEROUS, "drop blocked for {took:?}");
    // It did wait for the writer first (not a drop that abandons work at once).
    assert!(
        took >= Duration::from_secs(4),
        "drop returned after {took:?}"
    );
    runtime
        .block_on(sqlx::query("ROLLBACK").execute(&mut locker))
        .unwrap();
}

#[test]
fn drop_returns_within_its_bound_while_the_mail_server_hangs() {
    let db = TestDb::sqlite();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    let sink = runtime.block_on(SmtpSink::start(Mode::Hang));
    let mail: MailConfig = toml::from_str(&format!(
        "url = \"{}\"\ntimeout_secs = 20\nclose_timeout_secs = 60\n",
        sink.url()
    ))
    .unwrap();
    let log = EventLog::builder(db.url())
        .mail(mail)
        .open_blocking()
        .unwrap();
    log.group()
        .info("mailed to a server that never answers")
        .send_mail("ops@example.com")
        .record()
        .unwrap();
    log.flush_blocking().unwrap();
    // Let the sender start its (hanging) attempt.
    std::thread::sleep(Duration::from_millis(500));

    let started = Instant::now();
    drop(log);
    let took = started.elapsed();
    assert!(took < GENEROUS, "drop blocked for {took:?}");
}

/// A full queue (capacity 1, the database locked so the writer cannot drain it): `.record()`
/// called in a task of a one-worker multi-threaded runtime waits, and meanwhile another task
/// of that runtime keeps running (the wait moved off the worker with `block_in_place`).
#[test]
fn record_waiting_inside_a_runtime_does_not_stall_other_tasks() {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicU64, Ordering};

    let db = TestDb::sqlite();
    let log = EventLog::builder(db.url())
        .capacity(1)
        .open_blocking()
        .unwrap();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    let mut locker = runtime.block_on(lock_database(&db));

    let ticks = Arc::new(AtomicU64::new(0));
    let recorded = runtime.block_on(async {
        let ticker = {
            let ticks = ticks.clone();
            tokio::spawn(async move {
                loop {
                    tokio::time::sleep(Duration::from_millis(10)).await;
                    ticks.fetch_add(1, Ordering::Relaxed);
                }
            })
        };
        let recorder = {
            let log = log.clone();
            tokio::spawn(async move {
                let g = log.group();
                for i in 0..4 {
                    g.info(format!("event {i}")).record().unwrap();
                }
            })
        };
        // The recorder is stuck on the full queue for as long as the lock is held.
        tokio::time::sleep(Duration::from_millis(300)).await;
        let stalled = recorder.is_finished();
        let before = ticks.load(Ordering::Relaxed);
        tokio::time::sleep(Duration::from_millis(500)).await;
        let after = ticks.load(Ordering::Relaxed);
        sqlx::query("ROLLBACK").execute(&mut locker).await.unwrap();
        recorder.await.unwrap();
        ticker.abort();
        (stalled, before, after)
    });
    let (finished_early, before, after) = recorded;
    assert!(
        !finished_early,
        "the queue was not full: the test proves nothing"
    );
    assert!(
        after > before + 10,
        "the other task stalled while .record() waited: {before} -> {after} ticks"
    );
    log.flush_blocking().unwrap();
    assert_eq!(log.close_blocking().unwrap().stored, 4);
}
