//! Many writers, one log: three real `eventlog serve` processes, four processes recording
//! through the library, and twelve HTTP clients posting batches, all on one PostgreSQL server
//! that is restarted in the middle of the run. Afterwards every acknowledged event (a `201`
//! from the API, or a successful `flush` in a library process) is stored exactly once, nothing
//! else is stored, and every group summary equals a recount from the events.
//!
//! The library writers are this test binary run again as child processes: the ignored test
//! `library_writer_process` does the recording when the parent starts it with its settings in
//! the environment. (An integration test can only name binaries of its own package, and a
//! second binary in the CLI package would be installed with it.)

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::io::{BufRead, BufReader, BufWriter, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use eventlog::store::{self, EventFilter, GroupFilter, GroupSummary, Order};
use eventlog::{EventGroup, EventLog};
use eventlog_testing::PgCluster;
use serde_json::{Value, json};
use uuid::Uuid;

mod citus;
mod clients;
mod processes;
mod verify;

use clients::{Refusals, Rng, http_client, pace};
use processes::{Process, eventlog, read_writer_output, serve};

/// How long everybody writes. The restart happens at `RESTART_AT`.
const LOAD: Duration = Duration::from_secs(30);

const RESTART_AT: Duration = Duration::from_secs(12);

/// How long PostgreSQL stays down: long enough that every writer runs into it. Longer than
/// the pools' 2 s acquire timeout, or a writer that had no query in flight at the stop just
/// waits in `acquire` until the server is back and never sees the outage.
const DOWNTIME: Duration = Duration::from_secs(3);

const SERVERS: usize = 3;

const LIBRARY_WRITERS: usize = 4;

const HTTP_CLIENTS: usize = 12;

/// Named groups every writer adds to, so that summaries are updated concurrently from every
/// process; the other events go to groups of their own (random or per batch).
const SHARED_GROUPS: usize = 40;

const TYPES: [&str; 4] = ["info", "warning", "error", "critical"];

/// A pace, in events per second, for each library writer and each HTTP client: the test is
/// about correctness, not throughput, and shares two cores with the rest of the suite.
/// `EVENTLOG_MANY_WRITERS_FLAT_OUT=1` removes it (to see what one PostgreSQL takes).
const WRITER_RATE: u64 = 2_000;

const CLIENT_RATE: u64 = 250;

/// How long one acknowledged write may take, retries included, before the test fails.
const ACK_DEADLINE: Duration = Duration::from_secs(90);

// Settings of a library writer child process.
const CHILD_OUT_ENV: &str = "EVENTLOG_LOAD_WRITER_OUT";

const CHILD_URL_ENV: &str = "EVENTLOG_LOAD_WRITER_URL";

const CHILD_MILLIS_ENV: &str = "EVENTLOG_LOAD_WRITER_MILLIS";

const CHILD_RATE_ENV: &str = "EVENTLOG_LOAD_WRITER_RATE";

const CHILD_SEED_ENV: &str = "EVENTLOG_LOAD_WRITER_SEED";

const FLAT_OUT_ENV: &str = "EVENTLOG_MANY_WRITERS_FLAT_OUT";

fn shared_group(k: usize) -> String {
    format!("shared-{k}")
}

/// One library writer (a child process of `many_writers_one_log`): records events in shared
/// named groups and in random groups of 1–4 events through `EventLog`, flushes every 200
/// events, and after each successful flush appends the uuids it covered to the output file,
/// one per line. It fails if the writer gave up on any event.
#[test]
#[ignore = "a child process of many_writers_one_log, which starts it with its settings"]
fn library_writer_process() {
    let Ok(out) = std::env::var(CHILD_OUT_ENV) else {
        eprintln!("library_writer_process is started by many_writers_one_log; nothing to do");
        return;
    };
    let var = |name: &str| std::env::var(name).unwrap_or_else(|_| panic!("{name} is not set"));
    let url = var(CHILD_URL_ENV);
    let run_for = Duration::from_millis(var(CHILD_MILLIS_ENV).parse().unwrap());
    let rate: u64 = var(CHILD_RATE_ENV).parse().unwrap();
    let mut rng = Rng::new(var(CHILD_SEED_ENV).parse().unwrap());

    let log = EventLog::builder(url)
        .open_blocking()
        .expect("open the log");
    let shared: Vec<EventGroup> = (0..SHARED_GROUPS)
        .map(|k| log.group_named(shared_group(k)).unwrap())
        .collect();
    let mut file = BufWriter::new(std::fs::File::create(&out).unwrap());
    let start = Instant::now();
    let mut recorded = 0u64;
    let mut pending = Vec::new();
    while start.elapsed() < run_for {
        while pending.len() < 200 {
            let kind = TYPES[rng.below(TYPES.len())];
            if rng.below(2) == 0 {
                let group = &shared[rng.below(SHARED_GROUPS)];
                pending.push(group.event(kind, "from a library writer").record().unwrap());
            } else {
                let group = log.group();
                for _ in 0..1 + rng.below(4) {
                    pending.push(group.event(kind, "in a group of its own").record().unwrap());
                }
            }
        }
        recorded += pending.len() as u64;
        log.flush_blocking().expect("flush");
        let stats = log.stats();
        assert_eq!(stats.failed, 0, "the writer gave up on events: {stats:?}");
        for uuid in pending.drain(..) {
            writeln!(file, "{uuid}").unwrap();
        }
        file.flush().unwrap();
        std::thread::sleep(pace(start, recorded, rate));
    }
    let stats = log.close_blocking().expect("close the log");
    assert_eq!(stats.failed, 0, "the writer gave up on events: {stats:?}");
    // The last line: how often a batch had to be retried (the restart must show here).
    writeln!(file, "retried {}", stats.retried).unwrap();
    file.flush().unwrap();
}

/// Starts this test binary again as a library writer.
fn start_library_writer(url: &str, out: &Path, run_for: Duration, rate: u64, seed: u64) -> Process {
    // The test's name as the harness knows it: its path below the test binary's root.
    let test = match module_path!().split_once("::") {
        Some((_, module)) => format!("{module}::library_writer_process"),
        None => "library_writer_process".to_owned(),
    };
    let child = Command::new(std::env::current_exe().unwrap())
        .args(["--exact", &test, "--ignored", "--nocapture"])
        .env(CHILD_OUT_ENV, out)
        .env(CHILD_URL_ENV, url)
        .env(CHILD_MILLIS_ENV, run_for.as_millis().to_string())
        .env(CHILD_RATE_ENV, rate.to_string())
        .env(CHILD_SEED_ENV, seed.to_string())
        .stdout(Stdio::null())
        .spawn()
        .expect("start a library writer");
    Process(child)
}

/// A group summary recounted from its events.
#[derive(Debug, PartialEq)]
struct Recount {
    count: i64,
    first_at: DateTime<Utc>,
    last_at: DateTime<Utc>,
    types: BTreeSet<String>,
}

impl From<&GroupSummary> for Recount {
    fn from(s: &GroupSummary) -> Recount {
        Recount {
            count: s.event_count,
            first_at: s.first_at,
            last_at: s.last_at,
            types: s.types.iter().cloned().collect(),
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn many_writers_one_log() {
    let flat_out = std::env::var(FLAT_OUT_ENV).is_ok_and(|v| v == "1");
    let (writer_rate, client_rate) = if flat_out {
        (0, 0)
    } else {
        (WRITER_RATE, CLIENT_RATE)
    };
    let cluster = tokio::task::spawn_blocking(PgCluster::start)
        .await
        .unwrap()
        .expect("start a private PostgreSQL cluster");
    let url = cluster.url();
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("eventlog.toml");
    std::fs::write(&config, "").unwrap();

    // Migrate once, then make a token for the HTTP clients.
    let token = eventlog(&url, &config)
        .args(["token", "add", "many-writers"])
        .output()
        .unwrap();
    eventlog_testing::process::assert_success(&token);
    let token = Arc::new(String::from_utf8(token.stdout).unwrap().trim().to_owned());

    let mut servers = Vec::new();
    let mut bases = Vec::new();
    for n in 0..SERVERS {
        let (process, base) = serve(&url, &config, n);
        servers.push(process);
        bases.push(base);
    }
    let bases = Arc::new(bases);
    let http = reqwest::Client::new();
    for base in bases.iter() {
        let ready = async {
            while http.get(format!("{base}/healthz")).send().await.is_err() {
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        };
        tokio::time::timeout(Duration::from_secs(30), ready)
            .await
            .unwrap_or_else(|_| panic!("{base} does not answer"));
    }

    let started = Instant::now();
    let outputs: Vec<PathBuf> = (0..LIBRARY_WRITERS)
        .map(|n| dir.path().join(format!("writer-{n}.uuids")))
        .collect();
    let mut writers: Vec<Process> = outputs
        .iter()
        .enumerate()
        .map(|(n, out)| start_library_writer(&url, out, LOAD, writer_rate, n as u64))
        .collect();
    let stop = Arc::new(AtomicBool::new(false));
    let refusals = Refusals::default();
    let clients: Vec<_> = (0..HTTP_CLIENTS)
        .map(|n| {
            tokio::spawn(http_client(
                n,
                bases.clone(),
                token.clone(),
                stop.clone(),
                refusals.clone(),
                client_rate,
            ))
        })
        .collect();

    // PostgreSQL goes away in the middle of it all, and comes back.
    tokio::time::sleep(RESTART_AT).await;
    let cluster = Arc::new(cluster);
    let c = cluster.clone();
    tokio::task::spawn_blocking(move || {
        c.stop().expect("stop PostgreSQL");
        std::thread::sleep(DOWNTIME);
        c.restart().expect("start PostgreSQL again");
    })
    .await
    .unwrap();
    tokio::time::sleep(LOAD.saturating_sub(started.elapsed())).await;
    stop.store(true, Ordering::SeqCst);

    let mut acked_http = Vec::new();
    for client in clients {
        acked_http.extend(client.await.expect("an HTTP client failed"));
    }
    let deadline = Instant::now() + Duration::from_secs(120);
    for (n, writer) in writers.iter_mut().enumerate() {
        let status = loop {
            if let Some(status) = writer.0.try_wait().unwrap() {
                break status;
            }
            assert!(
                Instant::now() < deadline,
                "library writer {n} does not finish"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        };
        assert!(status.success(), "library writer {n} failed: {status}");
    }
    let elapsed = started.elapsed();
    drop(servers);

    let mut acked_library = Vec::new();
    let mut library_retries = 0;
    for out in &outputs {
        let (uuids, retried) = read_writer_output(out);
        acked_library.extend(uuids);
        library_retries += retried;
    }
    let refusals = refusals.lock().unwrap().clone();
    let total_acked = acked_http.len() + acked_library.len();
    eprintln!(
        "acknowledged {} events ({} over HTTP, {} through the library) in {:.1} s: {:.0} events/s; \
         HTTP retries by cause: {refusals:?}; library batches retried: {library_retries}",
        total_acked,
        acked_http.len(),
        acked_library.len(),
        elapsed.as_secs_f64(),
        total_acked as f64 / elapsed.as_secs_f64(),
    );
    // The restart reached both kinds of writer: otherwise this test tried nothing.
    assert!(
        !refusals.is_empty(),
        "no HTTP request failed while PostgreSQL was down"
    );
    assert!(
        library_retries > 0,
        "no library writer had to retry while PostgreSQL was down"
    );

    let mut acked = HashSet::with_capacity(total_acked);
    for uuid in acked_http.iter().chain(&acked_library) {
        assert!(acked.insert(*uuid), "uuid {uuid} acknowledged twice");
    }

    verify::stored_exactly_once_and_summaries_recount(&url, &acked).await;
}
