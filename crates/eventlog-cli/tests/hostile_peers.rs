//! `eventlog serve` against many slow clients from one address that reconnect whenever they
//! are cut off, over real sockets: the cap per peer address keeps connections free for
//! everyone else, so `/healthz` and authenticated requests keep answering.
//!
//! Scaled down by default (300 slow clients against a cap of 200 connections); the full-scale
//! check (1,100 clients against `ulimit -n 1024` and the default caps) is
//! `scripts/slow-clients`, which runs this test with `EVENTLOG_SLOW_CLIENTS=1100` and
//! `EVENTLOG_SLOW_FULL_SCALE=1`.

use crate::support;

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use support::{Serve, ServeSpec};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpSocket, TcpStream};

/// The attackers' address: another loopback address than the probes' `127.0.0.1`.
const ATTACKER: [u8; 4] = [127, 0, 0, 2];

/// One slow client: connects from [`ATTACKER`], sends half a request, waits until the server
/// cuts it off, and starts again, until `stop`.
async fn slow_client(addr: SocketAddr, stop: Arc<AtomicBool>, connections: Arc<AtomicUsize>) {
    while !stop.load(Ordering::Relaxed) {
        let Ok(socket) = TcpSocket::new_v4() else {
            tokio::time::sleep(Duration::from_millis(100)).await;
            continue;
        };
        if socket.bind(SocketAddr::from((ATTACKER, 0))).is_err() {
            tokio::time::sleep(Duration::from_millis(100)).await;
            continue;
        }
        let Ok(Ok(mut s)) =
            tokio::time::timeout(Duration::from_secs(5), socket.connect(addr)).await
        else {
            continue;
        };
        connections.fetch_add(1, Ordering::Relaxed);
        let _ = s
            .write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Slow: ")
            .await;
        let mut buf = [0u8; 256];
        // Until the server closes it (at once when over the cap, else at the header timeout).
        loop {
            tokio::select! {
                read = s.read(&mut buf) => if !matches!(read, Ok(n) if n > 0) { break },
                () = tokio::time::sleep(Duration::from_millis(200)) => {
                    if stop.load(Ordering::Relaxed) { return; }
                }
            }
        }
        // Reconnects soon, as a client retrying would (not at once: two cores must also
        // serve the probes, and the loopback's ports must last).
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// One request on a fresh connection from `127.0.0.1`, answered within 2 s: whether it got
/// a 2xx.
async fn probe(addr: SocketAddr, request: String) -> bool {
    let attempt = async {
        let mut s = TcpStream::connect(addr).await.ok()?;
        s.write_all(request.as_bytes()).await.ok()?;
        let mut head = [0u8; 12];
        s.read_exact(&mut head).await.ok()?;
        Some(head.starts_with(b"HTTP/1.1 2"))
    };
    matches!(
        tokio::time::timeout(Duration::from_secs(2), attempt).await,
        Ok(Some(true))
    )
}

async fn reconnecting_slow_clients_from_one_address_starve_nobody(backend: &str) {
    let clients: usize = std::env::var("EVENTLOG_SLOW_CLIENTS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(300);
    let full_scale = std::env::var_os("EVENTLOG_SLOW_FULL_SCALE").is_some();
    let db = eventlog_testing::TestDb::backend(backend).await;
    let token = support::token(db.url());
    let server = Serve::start(ServeSpec {
        // Full scale: the defaults under systemd's `ulimit -n 1024` (a cap of 896
        // connections, 256 per peer). Scaled down: 200 connections, 50 per peer.
        config: if full_scale {
            ""
        } else {
            "[server]\nmax_connections = 200\nmax_connections_per_peer = 50\n\
             header_read_timeout = \"3s\"\n"
        },
        fd_limit: full_scale.then_some(1024),
        ..ServeSpec::new(db.url())
    });
    let addr = server.addr;
    let stop = Arc::new(AtomicBool::new(false));
    let connections = Arc::new(AtomicUsize::new(0));
    let attackers: Vec<_> = (0..clients)
        .map(|_| tokio::spawn(slow_client(addr, stop.clone(), connections.clone())))
        .collect();
    // Let them take what they can.
    tokio::time::sleep(Duration::from_secs(2)).await;

    let probes = if full_scale { 45 * 4 } else { 40 };
    let mut answered = 0;
    let started = Instant::now();
    for i in 0..probes {
        let request = if i % 4 == 3 {
            let body = r#"{"type": "info", "message": "probe"}"#;
            format!(
                "POST /api/v1/events HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {token}\r\n\
                 Content-Type: application/json\r\nContent-Length: {}\r\n\
                 Connection: close\r\n\r\n{body}",
                body.len()
            )
        } else {
            "GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n".to_owned()
        };
        let sent = Instant::now();
        if probe(addr, request).await {
            answered += 1;
        }
        tokio::time::sleep(Duration::from_millis(250).saturating_sub(sent.elapsed())).await;
    }
    stop.store(true, Ordering::Relaxed);
    for a in attackers {
        a.abort();
    }
    let opened = connections.load(Ordering::Relaxed);
    eprintln!(
        "{backend}: {answered} of {probes} probes answered within 2 s over {:?}, \
         while {clients} slow clients opened {opened} connections",
        started.elapsed()
    );
    assert!(
        opened > clients,
        "the slow clients did not reconnect ({opened} connections): the test proves nothing"
    );
    assert!(
        answered * 100 >= probes * 95,
        "only {answered} of {probes} probes answered within 2 s\n{}",
        server.log()
    );
}

eventlog_testing::on_both_backends!(
    backend: reconnecting_slow_clients_from_one_address_starve_nobody
);
