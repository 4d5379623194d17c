//! Every answer of `eventlog serve` carries the security headers, the server's own refusals
//! included (body budget `503`, request deadline `503`, route limit `413`, login `429`): read
//! off a real socket.

use crate::support;

use std::time::Duration;

use support::{Serve, ServeSpec};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// Sends `request` (headers and as much body as given) and returns the response head, read
/// while the connection stays open; the connection too, so the caller can keep it.
async fn head_of(addr: std::net::SocketAddr, request: &str) -> (String, TcpStream) {
    let mut s = TcpStream::connect(addr).await.unwrap();
    s.write_all(request.as_bytes()).await.unwrap();
    let mut head = Vec::new();
    let mut buf = [0u8; 4096];
    while !head.windows(4).any(|w| w == b"\r\n\r\n") {
        let n = tokio::time::timeout(Duration::from_secs(15), s.read(&mut buf))
            .await
            .expect("a response head within 15 s")
            .unwrap();
        assert!(n > 0, "closed before a response head: {head:?}");
        head.extend_from_slice(&buf[..n]);
    }
    (String::from_utf8_lossy(&head).to_ascii_lowercase(), s)
}

fn assert_security_headers(head: &str, what: &str) {
    for expected in [
        "content-security-policy: default-src 'self'; frame-ancestors 'none'",
        "x-frame-options: deny",
        "x-content-type-options: nosniff",
        "referrer-policy: same-origin",
        "cache-control: no-store",
    ] {
        assert!(
            head.contains(expected),
            "{what}: no {expected:?} in\n{head}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refusals_carry_the_security_headers() {
    let db = eventlog_testing::TestDb::sqlite();
    let token = support::token(db.url());
    let server = Serve::start(ServeSpec {
        config: "[server]\nrequest_timeout = \"1s\"\n\
                 [api]\nbody_limit = 1048576\nmax_inflight_bytes = 2097152\n",
        ..ServeSpec::new(db.url())
    });
    let addr = server.addr;
    let upload = |length: usize| {
        format!(
            "POST /api/v1/events HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {token}\r\n\
             Content-Type: application/json\r\nContent-Length: {length}\r\n\r\n["
        )
    };

    // 413: more than the route accepts, declared.
    let (head, _) = head_of(
        addr,
        "POST /login HTTP/1.1\r\nHost: x\r\nContent-Length: 100000\r\n\
         Content-Type: application/x-www-form-urlencoded\r\n\r\nu",
    )
    .await;
    assert!(head.starts_with("http/1.1 413"), "{head}");
    assert_security_headers(&head, "413 of the route limit");

    // 503 of the request deadline: an upload that stops halfway is answered after 1 s.
    let (head, held) = head_of(addr, &upload(1_000_000)).await;
    assert!(head.starts_with("http/1.1 503"), "{head}");
    assert!(head.contains("retry-after"), "{head}");
    assert_security_headers(&head, "503 of the deadline");
    drop(held);

    // 503 of the body budget: two uploads hold it all (the deadline has not run out yet).
    let mut holders = Vec::new();
    for _ in 0..2 {
        let mut s = TcpStream::connect(addr).await.unwrap();
        s.write_all(upload(1_000_000).as_bytes()).await.unwrap();
        holders.push(s);
    }
    tokio::time::sleep(Duration::from_millis(200)).await;
    let (head, _) = head_of(addr, &upload(1_000_000)).await;
    assert!(head.starts_with("http/1.1 503"), "{head}");
    assert!(head.contains("retry-after"), "{head}");
    assert_security_headers(&head, "503 of the body budget");
    drop(holders);
}

/// The login throttle's `429` (from the admin itself, under the server's layers).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn login_throttle_refusal_carries_the_security_headers() {
    let db = eventlog_testing::TestDb::sqlite();
    let server = Serve::start(ServeSpec::new(db.url()));
    let addr = server.addr;
    let mut last = String::new();
    for _ in 0..40 {
        let (head, _) = head_of(
            addr,
            "POST /login HTTP/1.1\r\nHost: x\r\nContent-Length: 28\r\n\
             Cookie: eventlog_login_csrf=c\r\nContent-Type: application/x-www-form-urlencoded\r\n\r\nusername=a&password=b&csrf=c",
        )
        .await;
        last = head;
        if last.starts_with("http/1.1 429") {
            break;
        }
    }
    assert!(last.starts_with("http/1.1 429"), "never throttled: {last}");
    assert_security_headers(&last, "429 of the login throttle");
}
