//! `eventlog serve` against anonymous clients that start uploads and never finish them, over
//! real sockets: they draw on a small budget of their own, so authenticated ingests and
//! logins keep being served.

use crate::support;

use std::time::{Duration, Instant};

use support::{Serve, ServeSpec, http};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// Opens `n` anonymous uploads that never finish: chunked login forms (the attack of
/// record), chunked and 8 MiB-declared API posts without a token, and login forms declaring
/// more than the form limit. Each has sent its headers and a first piece of its body.
async fn hanging_uploads(addr: std::net::SocketAddr, n: usize) -> Vec<TcpStream> {
    let mut hangers = Vec::new();
    for i in 0..n {
        let mut s = TcpStream::connect(addr).await.expect("connect");
        let head = match i % 4 {
            0 | 1 => "POST /login HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\
                      Content-Type: application/x-www-form-urlencoded\r\n\r\n"
                .to_owned(),
            2 => "POST /api/v1/events HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\
                  Content-Type: application/json\r\n\r\n"
                .to_owned(),
            _ => format!(
                "POST /login HTTP/1.1\r\nHost: x\r\nContent-Length: {}\r\n\
                 Content-Type: application/x-www-form-urlencoded\r\n\r\n",
                8 * 1024 * 1024
            ),
        };
        s.write_all(head.as_bytes()).await.expect("send headers");
        let piece = if head.contains("chunked") {
            format!("400\r\n{}", "a".repeat(0x400))
        } else {
            "a".repeat(0x400)
        };
        // The server may already have answered (401, 413) and closed: that is fine.
        let _ = s.write_all(piece.as_bytes()).await;
        hangers.push(s);
    }
    // Let the server take them all in.
    tokio::time::sleep(Duration::from_millis(500)).await;
    hangers
}

async fn anonymous_uploads_leave_authenticated_work_alone(backend: &str, hangers: usize) {
    let db = eventlog_testing::TestDb::backend(backend).await;
    let token = support::token(db.url());
    let server = Serve::start(ServeSpec::new(db.url()));
    let open = hanging_uploads(server.addr, hangers).await;

    let client = http(Duration::from_secs(20));
    let started = Instant::now();
    let ingest = client
        .post(server.url("/api/v1/events"))
        .bearer_auth(&token)
        .header("Content-Type", "application/json")
        .body(r#"{"type": "info", "message": "while anonymous uploads hang"}"#)
        .send()
        .await
        .unwrap_or_else(|e| panic!("ingest failed: {e}\n{}", server.log()));
    let took = started.elapsed();
    assert_eq!(ingest.status(), 201, "{}", server.log());
    // Generous: the point is that it is not held until the uploads time out (30 s).
    assert!(took < Duration::from_secs(10), "ingest took {took:?}");
    eprintln!("{backend}, {hangers} hanging uploads: ingest answered 201 in {took:?}");

    // A chunked ingest (no Content-Length) is charged as it arrives and passes too.
    let body = r#"{"type": "info", "message": "chunked"}"#;
    let mut s = TcpStream::connect(server.addr).await.unwrap();
    s.write_all(
        format!(
            "POST /api/v1/events HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {token}\r\n\
             Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n\
             Connection: close\r\n\r\n{:x}\r\n{body}\r\n0\r\n\r\n",
            body.len()
        )
        .as_bytes(),
    )
    .await
    .unwrap();
    let mut answer = Vec::new();
    tokio::time::timeout(Duration::from_secs(10), s.read_to_end(&mut answer))
        .await
        .expect("chunked ingest answered within 10 s")
        .unwrap();
    let answer = String::from_utf8_lossy(&answer);
    assert!(
        answer.starts_with("HTTP/1.1 201"),
        "{answer}\n{}",
        server.log()
    );

    // Anonymous work of its own kind still goes through: a login form is read (and refused
    // for its missing CSRF token), not turned away for lack of room.
    let login = client
        .post(server.url("/login"))
        .header("Content-Type", "application/x-www-form-urlencoded")
        .body("username=a&password=b&csrf=c")
        .send()
        .await
        .unwrap();
    assert_ne!(login.status(), 503, "{}", server.log());
    assert!(login.status().is_client_error(), "{}", login.status());

    // The hanging uploads are all still open: none was cut to make room.
    let mut still_open = 0;
    for mut s in open {
        let mut buf = [0u8; 1];
        if tokio::time::timeout(Duration::from_millis(5), s.read(&mut buf))
            .await
            .is_err()
        {
            still_open += 1;
        }
    }
    assert!(
        still_open >= hangers / 2,
        "only {still_open} of {hangers} uploads still hanging: the test did not hold them"
    );
}

async fn eight_hanging_anonymous_uploads(backend: &str) {
    anonymous_uploads_leave_authenticated_work_alone(backend, 8).await;
}

async fn sixty_four_hanging_anonymous_uploads(backend: &str) {
    anonymous_uploads_leave_authenticated_work_alone(backend, 64).await;
}

eventlog_testing::on_both_backends!(
    backend: eight_hanging_anonymous_uploads,
    sixty_four_hanging_anonymous_uploads
);

/// A login form declaring more than the form limit is answered `413` at once, and not
/// charged 8 MiB of anybody's budget while its sender trickles.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn oversized_declared_login_form_is_refused_before_it_is_read() {
    let db = eventlog_testing::TestDb::sqlite();
    let server = Serve::start(ServeSpec::new(db.url()));
    let mut s = TcpStream::connect(server.addr).await.unwrap();
    s.write_all(
        b"POST /login HTTP/1.1\r\nHost: x\r\nContent-Length: 8388608\r\n\
          Content-Type: application/x-www-form-urlencoded\r\n\r\nusername=",
    )
    .await
    .unwrap();
    let mut buf = vec![0u8; 4096];
    let n = tokio::time::timeout(Duration::from_secs(10), s.read(&mut buf))
        .await
        .expect("no answer within 10 s")
        .unwrap();
    let head = String::from_utf8_lossy(&buf[..n]);
    assert!(head.starts_with("HTTP/1.1 413"), "{head}");
}

/// What an upload costs once parsed is taken from the budget before its body is read (four
/// bytes per body byte on ingest: the body and about three copies of its parsed events), so
/// that memory stays within the budget: with a 32 MiB budget, one 7.6 MB upload in progress
/// leaves no room for a second (`503` before it is read), where counting raw bytes let four
/// run at once. When the first is done the second is stored. Peak memory under many such
/// clients: `scripts/bench-inflight-rss`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_uploads_parsed_cost_is_reserved_before_its_body_is_read() {
    let db = eventlog_testing::TestDb::sqlite();
    let token = support::token(db.url());
    let server = Serve::start(ServeSpec {
        config: "[api]\nmax_inflight_bytes = 33554432\n",
        ..ServeSpec::new(db.url())
    });
    let body = {
        let message = "m".repeat(1_000);
        let items: Vec<_> = (0..7_200)
            .map(|i| serde_json::json!({"type": "info", "message": message, "group": format!("g{}", i % 50)}))
            .collect();
        serde_json::to_vec(&items).unwrap()
    };
    // The first upload: headers and a first piece; the server is reading its body.
    let mut first = TcpStream::connect(server.addr).await.unwrap();
    first
        .write_all(
            format!(
                "POST /api/v1/events HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {token}\r\n\
                 Content-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                body.len()
            )
            .as_bytes(),
        )
        .await
        .unwrap();
    first.write_all(&body[..1_000]).await.unwrap();
    tokio::time::sleep(Duration::from_millis(500)).await;

    let client = http(Duration::from_secs(60));
    let post = || {
        client
            .post(server.url("/api/v1/events"))
            .bearer_auth(&token)
            .header("Content-Type", "application/json")
            .body(body.clone())
            .send()
    };
    let second = post().await.expect("an answer to the second upload");
    assert_eq!(second.status(), 503, "{}", server.log());
    assert_eq!(second.headers()["retry-after"], "1");

    first.write_all(&body[1_000..]).await.unwrap();
    let mut answer = Vec::new();
    tokio::time::timeout(Duration::from_secs(60), first.read_to_end(&mut answer))
        .await
        .expect("the first upload answered within 60 s")
        .unwrap();
    assert!(
        answer.starts_with(b"HTTP/1.1 201"),
        "{}",
        String::from_utf8_lossy(&answer)
    );
    let again = post().await.unwrap();
    assert_eq!(again.status(), 201, "{}", server.log());
}
