//! Cost of one log call on the caller's thread: validate, stamp, enqueue.
//!
//! Run with: `cargo bench -p eventlog --bench log_call` (all sections), or name sections:
//! `cargo bench -p eventlog --bench log_call -- single threads build`.
//!
//! The call is the README's: `group.info(msg).initiator(who).data(&json!({…})).record()`.
//! Every call is timed on its own (median, p99 are per call). The log stores into a real
//! SQLite file with a queue large enough (1,000,000) that no call waits for space: the figure
//! is what the caller pays while the writer is storing at the same time on the other core —
//! each section prints how many events the writer stored while the timed calls ran.
//!
//! - `build`: the event built but not queued (validation, uuid, clock, data to JSON).
//! - `single`: one thread recording, 5 rounds of 100,000 calls, a flush between rounds.
//! - `threads`: 1, 2, 4 and 8 threads recording at once into one `EventLog`, 400,000 calls
//!   in all in 5 rounds, each thread in its own group: per-call figures over all threads and
//!   the total calls/s from the first call to the last (the median round, and the range).
//!
//! For instruction counts (stable on a busy machine), `EVENTLOG_BENCH_PROFILE=record:N` (or
//! `build:N`) makes N calls inside `profiled_calls` and exits; run the bench binary under
//! `valgrind --tool=callgrind --toggle-collect='*profiled_calls*'`.

mod common;

use std::sync::{Arc, Barrier};
use std::time::{Duration, Instant};

use common::{Samples, timer_overhead};
use eventlog::{EventBuilder, EventGroup, EventLog};
use serde_json::json;

const CAPACITY: usize = 1_000_000;

fn open(dir: &tempfile::TempDir) -> EventLog {
    let url = format!("sqlite://{}", dir.path().join("bench.db").display());
    EventLog::builder(url)
        .capacity(CAPACITY)
        .open_blocking()
        .expect("open")
}

/// A log on a fresh SQLite file (in the directory returned), warmed up: `calls` calls stored.
fn warmed_up(calls: u64) -> (tempfile::TempDir, EventLog) {
    let dir = tempfile::tempdir().expect("temp dir");
    let log = open(&dir);
    let warm = log.group();
    for i in 0..calls {
        call(&warm, i);
    }
    log.flush_blocking().expect("flush");
    (dir, log)
}

/// The README's event, built up to the last step.
#[inline(always)]
fn readme_event(g: &EventGroup, i: u64) -> EventBuilder<'_> {
    g.info("About to send 1000 mails.")
        .initiator("Mailer Daemon")
        .data(&json!({"batch": i, "recipients": 1000}))
}

/// The measured call.
#[inline(always)]
fn call(g: &EventGroup, i: u64) -> uuid::Uuid {
    readme_event(g, i).record().expect("record")
}

#[inline(always)]
fn build(g: &EventGroup, i: u64) -> eventlog::NewEvent {
    readme_event(g, i).into_event()
}

fn main() {
    let sections: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with('-'))
        .collect();
    if let Ok(spec) = std::env::var("EVENTLOG_BENCH_PROFILE") {
        profile(&spec);
        return;
    }
    // `cargo bench` passes --bench; test runners listing or running targets (nextest --list,
    // `cargo test --benches`) must get no output and no run.
    if !std::env::args().any(|a| a == "--bench") {
        return;
    }
    let wanted = |name: &str| sections.is_empty() || sections.iter().any(|s| s == name);
    println!(
        "timer overhead (included in every figure): {:?}",
        timer_overhead()
    );
    if wanted("build") {
        build_only();
    }
    if wanted("single") {
        single();
    }
    if wanted("threads") {
        threads();
    }
}

fn build_only() {
    let dir = tempfile::tempdir().expect("temp dir");
    let log = open(&dir);
    let g = log.group();
    let n = 300_000;
    let mut samples = Samples::with_capacity(n);
    for i in 0..n as u64 {
        let event = samples.time(|| build(&g, i));
        drop(std::hint::black_box(event));
    }
    println!("log_call/build_only: {}", samples.summary());
}

fn single() {
    const ROUND: usize = 100_000;
    const ROUNDS: usize = 5;
    let (_dir, log) = warmed_up(20_000);
    let g = log.group();
    let mut samples = Samples::with_capacity(ROUND * ROUNDS);
    let mut stored_meanwhile = 0;
    let mut wall = Duration::ZERO;
    for _ in 0..ROUNDS {
        let before = log.stats().stored;
        let start = Instant::now();
        for i in 0..ROUND as u64 {
            samples.time(|| call(&g, i));
        }
        wall += start.elapsed();
        stored_meanwhile += log.stats().stored - before;
        log.flush_blocking().expect("flush");
    }
    let calls = (ROUND * ROUNDS) as f64;
    println!(
        "log_call/info_with_initiator_and_json_data: {}\n    {:.0} calls/s; the writer stored {} events ({:.0} %) while the calls ran",
        samples.summary(),
        calls / wall.as_secs_f64(),
        stored_meanwhile,
        stored_meanwhile as f64 * 100.0 / calls
    );
}

fn threads() {
    const TOTAL: usize = 400_000;
    // Each thread count runs in rounds and reports the median round's calls/s: on a shared
    // machine one stalled thread can stretch a single round's wall time many-fold.
    const ROUNDS: usize = 5;
    let (_dir, log) = warmed_up(20_000);
    for n in [1usize, 2, 4, 8] {
        let per_thread = TOTAL / ROUNDS / n;
        let mut all = Samples::with_capacity(TOTAL);
        let mut rates = Vec::with_capacity(ROUNDS);
        let mut stored = 0;
        for _ in 0..ROUNDS {
            let barrier = Arc::new(Barrier::new(n + 1));
            let before = log.stats().stored;
            let workers: Vec<_> = (0..n)
                .map(|_| {
                    let log = log.clone();
                    let barrier = barrier.clone();
                    std::thread::spawn(move || {
                        let g = log.group();
                        let mut samples = Samples::with_capacity(per_thread);
                        barrier.wait();
                        for i in 0..per_thread as u64 {
                            samples.time(|| call(&g, i));
                        }
                        (samples, Instant::now())
                    })
                })
                .collect();
            barrier.wait();
            let start = Instant::now();
            let mut end = start;
            for w in workers {
                let (samples, done) = w.join().expect("thread");
                all.merge(samples);
                end = end.max(done);
            }
            rates.push((per_thread * n) as f64 / (end - start).as_secs_f64());
            stored += log.stats().stored - before;
            log.flush_blocking().expect("flush");
        }
        rates.sort_by(f64::total_cmp);
        let calls = per_thread * n * ROUNDS;
        println!(
            "log_call/threads/{n}: {}\n    {:.0} calls/s in all (median of {ROUNDS} rounds; {:.0}–{:.0}); the writer stored {} events ({:.0} %) while the calls ran",
            all.summary(),
            rates[ROUNDS / 2],
            rates[0],
            rates[ROUNDS - 1],
            stored,
            stored as f64 * 100.0 / calls as f64
        );
    }
}

/// `record:N` or `build:N` from `EVENTLOG_BENCH_PROFILE`.
fn profile(spec: &str) {
    let (mode, n) = spec.split_once(':').unwrap_or((spec, "100000"));
    let n: u64 = n
        .parse()
        .expect("EVENTLOG_BENCH_PROFILE=record:N or build:N");
    let (_dir, log) = warmed_up(1_000);
    let g = log.group();
    profiled_calls(&g, mode == "build", n);
    log.flush_blocking().expect("flush");
    eprintln!("{n} {mode} calls; writer: {:?}", log.stats());
}

#[inline(never)]
fn profiled_calls(g: &EventGroup, build_only: bool, n: u64) {
    for i in 0..n {
        if build_only {
            drop(std::hint::black_box(build(g, i)));
        } else {
            std::hint::black_box(call(g, i));
        }
    }
}
