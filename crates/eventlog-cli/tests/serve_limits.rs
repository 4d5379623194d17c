//! `eventlog serve` against hostile and long-lived clients, over real sockets: slow
//! clients cannot exhaust its file descriptors, and SIGTERM ends it promptly even with a
//! live-tail stream open.

use crate::support;

use std::time::{Duration, Instant};

use eventlog_testing::TestDb;
use support::{Serve, ServeSpec, http};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// 1,100 connections that send half a request each, against a server limited to 1,024
/// file descriptors (as systemd gives a service): `/healthz` still answers, and the
/// half-open connections are closed by the server.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slow_clients_cannot_starve_healthz() {
    let db = TestDb::sqlite();
    let server = Serve::start(ServeSpec {
        // Shorter than the 10 s default so the test stays short; the mechanism is the same.
        config: "[server]\nheader_read_timeout = \"4s\"\n",
        fd_limit: Some(1024),
        ..ServeSpec::new(db.url())
    });
    let addr = server.addr;
    let mut slow = Vec::new();
    for _ in 0..1_100 {
        // From another address than the probe's: the cap per peer closes what one address
        // holds beyond its share (those writes may fail), which is not what is tested here.
        let socket = tokio::net::TcpSocket::new_v4().unwrap();
        socket.bind(([127, 0, 0, 2], 0).into()).unwrap();
        let mut s = socket.connect(addr).await.expect("connect");
        let _ = s
            .write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Slow: ")
            .await;
        slow.push(s);
    }
    let started = Instant::now();
    let health = http(Duration::from_secs(15))
        .get(server.url("/healthz"))
        .send()
        .await
        .unwrap_or_else(|e| panic!("/healthz did not answer within 15 s: {e}\n{}", server.log()));
    assert_eq!(health.status(), 200);
    eprintln!("/healthz answered after {:?}", started.elapsed());

    // Every half-sent request is cut off by the server (EOF or reset), none stays open.
    let mut open = 0;
    for mut s in slow {
        let mut buf = [0u8; 256];
        match tokio::time::timeout(Duration::from_secs(20), s.read(&mut buf)).await {
            Ok(Ok(_)) | Ok(Err(_)) => {}
            Err(_) => open += 1,
        }
    }
    assert_eq!(open, 0, "{open} half-open connections were never closed");
}

/// SIGTERM with a live-tail stream open: the stream ends and the process exits within the
/// configured grace period.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_ends_live_tail_and_exits_within_grace() {
    let db = TestDb::sqlite();
    support::add_user(db.url(), "alice", "correct horse battery staple");
    let mut server = Serve::start(ServeSpec {
        config: "[server]\nshutdown_grace = \"3s\"\n",
        ..ServeSpec::new(db.url())
    });
    let cookies = support::session_cookie(&server, "alice", "correct horse battery staple").await;

    let mut stream = TcpStream::connect(server.addr).await.unwrap();
    stream
        .write_all(
            format!("GET /events/stream HTTP/1.1\r\nHost: x\r\nCookie: {cookies}\r\n\r\n")
                .as_bytes(),
        )
        .await
        .unwrap();
    let mut head = vec![0u8; 1024];
    let n = tokio::time::timeout(Duration::from_secs(10), stream.read(&mut head))
        .await
        .expect("stream response headers")
        .unwrap();
    let head = String::from_utf8_lossy(&head[..n]).into_owned();
    assert!(head.starts_with("HTTP/1.1 200"), "{head}");
    assert!(head.contains("text/event-stream"), "{head}");

    let signalled = Instant::now();
    server.signal("TERM");
    let status = server
        .wait_exit(Duration::from_secs(8))
        .unwrap_or_else(|| panic!("still running 8 s after SIGTERM\n{}", server.log()));
    assert!(status.success(), "exit status {status}\n{}", server.log());
    // The stream was ended by the server, not left to the grace period's end.
    let mut rest = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(2), stream.read_to_end(&mut rest)).await;
    eprintln!("exited {:?} after SIGTERM", signalled.elapsed());
    assert!(
        signalled.elapsed() < Duration::from_secs(3),
        "exit took {:?}: the stream was not ended at shutdown\n{}",
        signalled.elapsed(),
        server.log()
    );
    assert!(
        server.log().contains("eventlog: stopped"),
        "{}",
        server.log()
    );
}

/// `[api] max_inflight_bytes`: while two uploads hold the whole budget, a third gets `503`
/// with `Retry-After` at once (before its body is read); when they are gone it is accepted.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn request_bytes_in_flight_are_bounded() {
    let db = TestDb::sqlite();
    let token = support::token(db.url());
    let server = Serve::start(ServeSpec {
        config: "[api]\nbody_limit = 1048576\nmax_inflight_bytes = 2097152\n",
        ..ServeSpec::new(db.url())
    });
    let body = {
        let message = "x".repeat(1_000);
        let items: Vec<_> = (0..1_000)
            .map(|_| serde_json::json!({"type": "info", "message": message}))
            .collect();
        serde_json::to_vec(&items).unwrap()
    };
    assert!(body.len() < 1_048_576 && body.len() > 900_000);
    let mut holders = Vec::new();
    for _ in 0..2 {
        let mut s = TcpStream::connect(server.addr).await.unwrap();
        s.write_all(
            format!(
                "POST /api/v1/events HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {token}\r\n\
                 Content-Type: application/json\r\nContent-Length: {}\r\n\r\n[",
                body.len()
            )
            .as_bytes(),
        )
        .await
        .unwrap();
        holders.push(s);
    }
    // Let the server take both in.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let client = http(Duration::from_secs(20));
    let post = || {
        client
            .post(server.url("/api/v1/events"))
            .bearer_auth(&token)
            .header("Content-Type", "application/json")
            .body(body.clone())
            .send()
    };
    let refused = post().await.unwrap();
    assert_eq!(refused.status(), 503, "{}", server.log());
    assert_eq!(refused.headers()["retry-after"], "1");
    let text = refused.text().await.unwrap();
    assert!(text.contains("too much data at once"), "{text}");

    drop(holders);
    tokio::time::sleep(Duration::from_millis(500)).await;
    let accepted = post().await.unwrap();
    assert_eq!(accepted.status(), 201, "{}", server.log());
}

/// With `--log-format json` every line on stderr is JSON (the request logs, one per request,
/// and the notices: "listening on", "shutting down"), numbers are numbers, and no colour
/// codes appear when stderr is not a terminal.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn request_logs_are_json_lines_without_colour() {
    let db = TestDb::sqlite();
    let mut server = Serve::start(ServeSpec {
        log_format: Some("json"),
        ..ServeSpec::new(db.url())
    });
    let client = http(Duration::from_secs(20));
    assert_eq!(
        eventlog_testing::http::get_status(&client, &server.url("/healthz")).await,
        200
    );
    assert_eq!(
        eventlog_testing::http::get_status(&client, &server.url("/nope")).await,
        404
    );
    server.signal("TERM");
    server.wait_exit(Duration::from_secs(15)).expect("exits");
    let log = server.log();
    assert!(!log.contains('\u{1b}'), "colour codes in a pipe: {log}");
    let lines: Vec<serde_json::Value> = log
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}")))
        .collect();
    assert!(
        lines.iter().any(|v| v["fields"]["message"]
            .as_str()
            .unwrap_or_default()
            .contains("shutting down")),
        "{log}"
    );
    let requests: Vec<&serde_json::Value> = lines
        .iter()
        .filter(|v| v["span"]["uri"].is_string())
        .collect();
    assert!(
        requests
            .iter()
            .all(|v| v["fields"]["latency_ms"].is_number()),
        "latency as a number: {log}"
    );
    let seen = |uri: &str, status: u64| {
        requests
            .iter()
            .any(|v| v["span"]["uri"] == uri && v["fields"]["status"] == status)
    };
    assert!(seen("/healthz", 200), "{log}");
    assert!(seen("/nope", 404), "{log}");
}

/// A keep-alive connection left idle after its request is closed by the server after
/// `header_read_timeout`, so idle clients cannot pile up.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn idle_keep_alive_connections_are_closed() {
    let db = TestDb::sqlite();
    let server = Serve::start(ServeSpec {
        config: "[server]\nheader_read_timeout = \"1s\"\n",
        ..ServeSpec::new(db.url())
    });
    let mut s = TcpStream::connect(server.addr).await.unwrap();
    s.write_all(b"GET /livez HTTP/1.1\r\nHost: x\r\n\r\n")
        .await
        .unwrap();
    let mut buf = vec![0u8; 4096];
    let n = s.read(&mut buf).await.unwrap();
    assert!(buf[..n].starts_with(b"HTTP/1.1 200"));
    let idle = Instant::now();
    let n = tokio::time::timeout(Duration::from_secs(10), s.read(&mut buf))
        .await
        .expect("the idle connection was not closed within 10 s")
        .unwrap_or(0);
    assert_eq!(n, 0, "expected the server to close the connection");
    assert!(
        idle.elapsed() >= Duration::from_millis(900),
        "{:?}",
        idle.elapsed()
    );
}
