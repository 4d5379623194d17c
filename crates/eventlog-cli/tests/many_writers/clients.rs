//! The HTTP clients: each posts paced batches and keeps what was acknowledged.

use super::*;

/// A small deterministic generator (xorshift64*): enough to vary types, groups and sizes.
pub(super) struct Rng(pub(super) u64);

impl Rng {
    pub(super) fn new(seed: u64) -> Rng {
        Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1)
    }

    pub(super) fn below(&mut self, n: usize) -> usize {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        (self.0.wrapping_mul(0x2545_F491_4F6C_DD1D) >> 33) as usize % n
    }
}

/// Sleeps so that `done` events since `start` do not exceed `rate` per second (0: no pace).
pub(super) fn pace(start: Instant, done: u64, rate: u64) -> Duration {
    if rate == 0 {
        return Duration::ZERO;
    }
    let due = Duration::from_secs_f64(done as f64 / rate as f64);
    due.saturating_sub(start.elapsed())
}

/// What went wrong on the way to an acknowledgement, by kind, over all HTTP clients.
pub(super) type Refusals = Arc<Mutex<BTreeMap<String, u64>>>;

/// One HTTP client: posts batches of 1–50 events until `stop`, each to the next server in
/// turn, every event with an id of its own. A failed or refused request is sent again, with
/// the same ids, until it is answered `201`; only then are its events acknowledged.
pub(super) async fn http_client(
    n: usize,
    servers: Arc<Vec<String>>,
    token: Arc<String>,
    stop: Arc<AtomicBool>,
    refusals: Refusals,
    rate: u64,
) -> Vec<Uuid> {
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(30))
        .build()
        .unwrap();
    let mut rng = Rng::new(1_000 + n as u64);
    let mut acked = Vec::new();
    let start = Instant::now();
    let mut request = 0usize;
    while !stop.load(Ordering::SeqCst) {
        let size = 1 + rng.below(50);
        let ids: Vec<Uuid> = (0..size).map(|_| Uuid::now_v7()).collect();
        // Three shapes: items in shared named groups, items without a group (the request gets
        // a random one), and a named group of this batch alone.
        let shape = rng.below(3);
        let own_group = format!("http-{n}-{request}");
        let items: Vec<Value> = ids
            .iter()
            .map(|id| {
                let mut item = json!({
                    "id": id,
                    "type": TYPES[rng.below(TYPES.len())],
                    "message": format!("from HTTP client {n}"),
                });
                match shape {
                    0 => item["group"] = json!(shared_group(rng.below(SHARED_GROUPS))),
                    1 => {}
                    _ => item["group"] = json!(own_group),
                }
                item
            })
            .collect();
        let body = Value::Array(items);
        let first_try = Instant::now();
        let mut attempt = 0;
        loop {
            let server = &servers[(n + request + attempt) % servers.len()];
            let refusal = match http
                .post(format!("{server}/api/v1/events"))
                .bearer_auth(token.as_str())
                .json(&body)
                .send()
                .await
            {
                Ok(response) if response.status().as_u16() == 201 => {
                    match response.json::<Value>().await {
                        Ok(answer) => {
                            let stored = answer["ids"].as_array().map_or(0, Vec::len);
                            assert_eq!(stored, size, "201 names every event: {answer}");
                            break;
                        }
                        Err(e) => format!("201 with an unreadable body: {e}"),
                    }
                }
                Ok(response) => {
                    let status = response.status();
                    let text = response.text().await.unwrap_or_default();
                    assert!(
                        status.is_server_error() || status.as_u16() == 429,
                        "a well-formed batch was refused with {status}: {text}"
                    );
                    status.to_string()
                }
                Err(e) if e.is_timeout() => "client timeout".to_owned(),
                Err(_) => "connection failed".to_owned(),
            };
            *refusals.lock().unwrap().entry(refusal).or_default() += 1;
            assert!(
                first_try.elapsed() < ACK_DEADLINE,
                "client {n}: a batch was not acknowledged within {ACK_DEADLINE:?}: {:?}",
                refusals.lock().unwrap()
            );
            attempt += 1;
            tokio::time::sleep(Duration::from_millis(50 * attempt.min(20) as u64)).await;
        }
        acked.extend(ids);
        request += 1;
        tokio::time::sleep(pace(start, acked.len() as u64, rate)).await;
    }
    acked
}
