//! What the `tracing` layer costs.
//!
//! Run with: `cargo bench -p eventlog --bench tracing_layer`
//!
//! - `marked`: a marked `tracing` event recorded through the layer (group and initiator from
//!   the enclosing span, two data fields) against the same event recorded by a direct call,
//!   every call timed on its own (median, p99), 5 rounds of 50,000 calls each with a flush
//!   between rounds; the writer stores into a real SQLite file while the calls run.
//! - `unmarked_tracing_event` (criterion): what the layer costs ordinary diagnostics, a
//!   subscriber with the layer against the same subscriber without it.

mod common;

use std::time::Instant;

use common::{Samples, Summary, timer_overhead};
use criterion::Criterion;
use eventlog::EventLog;
use eventlog::tracing_layer::EventLogLayer;
use serde_json::json;
use tracing_subscriber::prelude::*;

const ROUND: u64 = 50_000;
const ROUNDS: usize = 5;

fn rounds(log: &EventLog, mut call: impl FnMut(u64)) -> Summary {
    let mut samples = Samples::with_capacity(ROUND as usize * ROUNDS);
    for i in 0..10_000 {
        call(i);
    }
    log.flush_blocking().expect("flush");
    for _ in 0..ROUNDS {
        for i in 0..ROUND {
            samples.time(|| call(i));
        }
        log.flush_blocking().expect("flush");
    }
    samples.summary()
}

fn marked_events() {
    let dir = tempfile::tempdir().expect("temp dir");
    let url = format!("sqlite://{}", dir.path().join("bench.db").display());
    let log = EventLog::builder(url)
        .capacity(1_000_000)
        .open_blocking()
        .expect("open");
    println!(
        "timer overhead (included in every figure): {:?}",
        timer_overhead()
    );
    let start = Instant::now();
    let group = log
        .group_named("Mail run 42")
        .map(|g| g.initiator("Mailer Daemon"))
        .expect("group");
    let direct = rounds(&log, |i| {
        group
            .info("About to send 1000 mails.")
            .data(&json!({"batch": i, "recipients": 1000}))
            .record()
            .expect("record");
    });
    let subscriber = tracing_subscriber::registry().with(EventLogLayer::new(log.clone()));
    let layer = tracing::subscriber::with_default(subscriber, || {
        let span = tracing::info_span!(
            "mail run",
            eventlog.group = "Mail run 42",
            eventlog.initiator = "Mailer Daemon"
        );
        let _entered = span.enter();
        rounds(&log, |i| {
            tracing::info!(
                eventlog = true,
                batch = i,
                recipients = 1000,
                "About to send 1000 mails."
            )
        })
    });
    let stats = log.close_blocking().expect("close");
    assert_eq!(
        stats.stored,
        2 * (10_000 + ROUND * ROUNDS as u64),
        "every event stored"
    );
    println!("marked/direct_call: {direct}");
    println!("marked/through_layer: {layer}");
    println!(
        "    layer / direct: {:.2}x at the median, {:.2}x at p99 ({:.1} s in all)",
        layer.median as f64 / direct.median as f64,
        layer.p99 as f64 / direct.p99 as f64,
        start.elapsed().as_secs_f64()
    );
}

fn unmarked_events(c: &mut Criterion) {
    let dir = tempfile::tempdir().expect("temp dir");
    let url = format!("sqlite://{}", dir.path().join("bench.db").display());
    let log = EventLog::builder(url).open_blocking().expect("open");
    let mut group = c.benchmark_group("unmarked_tracing_event");

    let without = tracing_subscriber::registry();
    tracing::subscriber::with_default(without, || {
        let span = tracing::info_span!("request", eventlog.group = "g");
        let _g = span.enter();
        group.bench_function("registry_without_layer", |b| {
            b.iter(|| tracing::info!(user = 42, "ordinary diagnostics"))
        });
    });

    let with = tracing_subscriber::registry().with(EventLogLayer::new(log.clone()));
    tracing::subscriber::with_default(with, || {
        let span = tracing::info_span!("request", eventlog.group = "g");
        let _g = span.enter();
        group.bench_function("registry_with_eventlog_layer", |b| {
            b.iter(|| tracing::info!(user = 42, "ordinary diagnostics"))
        });
    });
    group.finish();
}

fn main() {
    // `cargo bench` passes --bench; test runners listing or running targets (nextest --list,
    // `cargo test --benches`) must get no output and no run.
    if !std::env::args().any(|a| a == "--bench") {
        return;
    }
    marked_events();
    let mut c = Criterion::default().configure_from_args();
    unmarked_events(&mut c);
    c.final_summary();
}
