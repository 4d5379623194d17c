//! Cost of one log call on the caller's thread: validate, stamp, enqueue.
//!
//! Run with: `cargo bench -p eventlog --bench log_call`
//!
//! Only the calls are timed; the writer drains the queue (into a real SQLite file) between
//! timed rounds, so the figure is what the caller pays, not the database.

use std::time::{Duration, Instant};

use criterion::{Criterion, criterion_group, criterion_main};
use eventlog::EventLog;
use serde_json::json;

fn log_call(c: &mut Criterion) {
    let dir = tempfile::tempdir().expect("temp dir");
    let url = format!("sqlite://{}", dir.path().join("bench.db").display());
    let log = EventLog::builder(url)
        .capacity(1_000_000)
        .open_blocking()
        .expect("open");
    let mut group = c.benchmark_group("log_call");
    group.measurement_time(Duration::from_secs(5));
    group.bench_function("info_with_initiator_and_json_data", |b| {
        b.iter_custom(|iters| {
            let mut elapsed = Duration::ZERO;
            let mut done = 0;
            while done < iters {
                let round = (iters - done).min(50_000);
                let g = log.group();
                let start = Instant::now();
                for i in 0..round {
                    g.info("About to send 1000 mails.")
                        .initiator("Mailer Daemon")
                        .data(&json!({"batch": i, "recipients": 1000}))
                        .record()
                        .expect("record");
                }
                elapsed += start.elapsed();
                log.flush_blocking().expect("flush");
                done += round;
            }
            elapsed
        })
    });
    // The same event built but not queued: what validation and allocation cost alone.
    let g = log.group();
    group.bench_function("build_only", |b| {
        b.iter(|| {
            g.info("About to send 1000 mails.")
                .initiator("Mailer Daemon")
                .data(&json!({"batch": 1, "recipients": 1000}))
                .into_event()
        })
    });
    group.finish();
}

criterion_group!(benches, log_call);
criterion_main!(benches);
