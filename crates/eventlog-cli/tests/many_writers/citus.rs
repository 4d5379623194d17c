//! Many writers through a Citus coordinator: three `eventlog serve` processes, library writer
//! processes and HTTP clients, as on one PostgreSQL; besides, racing requests that repeat the
//! same idempotency keys through different servers, and a live tail that follows it all.
//! Every acknowledged event is stored once, summaries equal a recount, each repeated key is
//! one event answered without a 5xx, and the tail reads every stored event exactly once.

use super::*;

use eventlog::store::Backend;
use eventlog_testing::TestDb;

/// Shorter than on one PostgreSQL: the cluster is three servers on the same two cores.
const CITUS_LOAD: Duration = Duration::from_secs(15);

/// Racers that send the same batch at the same moment, each through another server.
const RACERS: usize = 3;

/// Sends batches of fresh ids without a group (each request gives them a random group of its
/// own, so the racers' copies arrive under different groups, on different shards) from
/// [`RACERS`] tasks at once, one server each, until `stop`. Every answer must be a `2xx`;
/// returns the ids, all acknowledged.
async fn racing_repeats(
    servers: Arc<Vec<String>>,
    token: Arc<String>,
    stop: Arc<AtomicBool>,
) -> Vec<Uuid> {
    let http = http_client_of(Duration::from_secs(30));
    let mut acked = Vec::new();
    while !stop.load(Ordering::SeqCst) {
        let ids: Vec<Uuid> = (0..5).map(|_| Uuid::now_v7()).collect();
        let body: Value = ids
            .iter()
            .map(|id| json!({"id": id, "type": "info", "message": "raced"}))
            .collect();
        // Each copy on a task of its own: they reach their servers at the same moment.
        let sends: Vec<_> = (0..RACERS)
            .map(|r| {
                let request = http
                    .post(format!("{}/api/v1/events", servers[r % servers.len()]))
                    .bearer_auth(token.as_str())
                    .json(&body)
                    .send();
                tokio::spawn(async move {
                    let response = request.await.expect("the server answers");
                    let status = response.status();
                    let text = response.text().await.unwrap_or_default();
                    assert!(status.is_success(), "a repeated batch got {status}: {text}");
                })
            })
            .collect();
        for send in sends {
            send.await.expect("a racer failed");
        }
        acked.extend(ids);
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    acked
}

fn http_client_of(timeout: Duration) -> reqwest::Client {
    reqwest::Client::builder().timeout(timeout).build().unwrap()
}

/// Follows the log from `start` until `stop`, then once more: the uuids read, in order.
async fn tail(store: Arc<dyn Backend>, stop: Arc<AtomicBool>) -> Vec<Uuid> {
    let all = EventFilter::default();
    let mut cursor = store.follow_start().await.unwrap();
    let mut seen = Vec::new();
    loop {
        let last = stop.load(Ordering::SeqCst);
        let (events, next) = store.follow(&all, &cursor, 1000).await.unwrap();
        seen.extend(events.iter().map(|e| e.uuid));
        cursor = next;
        if last {
            return seen;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn many_writers_through_a_citus_coordinator() {
    let flat_out = std::env::var(FLAT_OUT_ENV).is_ok_and(|v| v == "1");
    let (writer_rate, client_rate) = if flat_out {
        (0, 0)
    } else {
        (WRITER_RATE / 2, CLIENT_RATE / 2)
    };
    let db = TestDb::citus().await;
    let url = db.url().to_owned();
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("eventlog.toml");
    std::fs::write(&config, "").unwrap();
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

    // The tail starts before anybody writes: it must read everything.
    let store = store::open(&url).await.expect("open the store");
    let stop_tail = Arc::new(AtomicBool::new(false));
    let follower = tokio::spawn(tail(store.clone(), stop_tail.clone()));
    // Let it take its starting position.
    tokio::time::sleep(Duration::from_millis(500)).await;

    let started = Instant::now();
    let outputs: Vec<PathBuf> = (0..LIBRARY_WRITERS)
        .map(|n| dir.path().join(format!("writer-{n}.uuids")))
        .collect();
    let mut writers: Vec<Process> = outputs
        .iter()
        .enumerate()
        .map(|(n, out)| start_library_writer(&url, out, CITUS_LOAD, writer_rate, n as u64))
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
    let racer = tokio::spawn(racing_repeats(bases.clone(), token.clone(), stop.clone()));
    tokio::time::sleep(CITUS_LOAD).await;
    stop.store(true, Ordering::SeqCst);

    let mut acked_http = Vec::new();
    for client in clients {
        acked_http.extend(client.await.expect("an HTTP client failed"));
    }
    let raced = racer.await.expect("a racing client failed");
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
    stop_tail.store(true, Ordering::SeqCst);
    let tailed = follower.await.expect("the tail failed");

    let mut acked_library = Vec::new();
    for out in &outputs {
        acked_library.extend(read_writer_output(out).0);
    }
    let refusals = refusals.lock().unwrap().clone();
    let total = acked_http.len() + acked_library.len() + raced.len();
    eprintln!(
        "acknowledged {total} events ({} over HTTP, {} through the library, {} raced by \
         {RACERS} servers at once) in {:.1} s: {:.0} events/s; HTTP retries by cause: \
         {refusals:?}",
        acked_http.len(),
        acked_library.len(),
        raced.len(),
        elapsed.as_secs_f64(),
        total as f64 / elapsed.as_secs_f64(),
    );
    assert!(!raced.is_empty(), "no racing batch was sent");
    let server_errors: Vec<_> = refusals.keys().filter(|k| k.starts_with('5')).collect();
    assert!(server_errors.is_empty(), "5xx answers: {refusals:?}");

    let mut acked = HashSet::new();
    for uuid in acked_http.iter().chain(&acked_library).chain(&raced) {
        assert!(acked.insert(*uuid), "uuid {uuid} acknowledged twice");
    }
    verify::stored_exactly_once_and_summaries_recount(&url, &acked).await;

    // The tail read each stored event once: the stored ones are exactly the acknowledged.
    let mut read = HashSet::with_capacity(tailed.len());
    for uuid in &tailed {
        assert!(read.insert(*uuid), "the tail read {uuid} twice");
    }
    let missed = acked.difference(&read).count();
    assert_eq!(
        missed,
        0,
        "the tail missed {missed} of {} events",
        acked.len()
    );
    assert_eq!(read.len(), acked.len(), "the tail read events never stored");
}
