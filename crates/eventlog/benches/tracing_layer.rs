//! What the layer costs ordinary (unmarked) `tracing` events: a subscriber with the layer
//! against the same subscriber without it.
//!
//! Run with: `cargo bench -p eventlog --bench tracing_layer`

use criterion::{Criterion, criterion_group, criterion_main};
use eventlog::EventLog;
use eventlog::tracing_layer::EventLogLayer;
use tracing_subscriber::prelude::*;

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

criterion_group!(benches, unmarked_events);
criterion_main!(benches);
