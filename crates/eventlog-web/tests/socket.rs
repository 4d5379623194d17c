//! Login and the list over a real TCP socket, through `eventlog_web::serve`.

use crate::common;

use chrono::Utc;
use common::*;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

eventlog_testing::on_both_backends!(backend: login_and_list_over_a_real_socket);

/// One HTTP/1.1 request with `Connection: close`; returns the raw response.
async fn http(addr: std::net::SocketAddr, request: String) -> String {
    let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
    s.write_all(request.as_bytes()).await.unwrap();
    let mut out = Vec::new();
    s.read_to_end(&mut out).await.unwrap();
    String::from_utf8_lossy(&out).into_owned()
}

fn cookie(resp: &str, name: &str) -> String {
    let line = resp
        .lines()
        .find(|l| {
            l.to_ascii_lowercase().starts_with("set-cookie:") && l.contains(&format!("{name}="))
        })
        .unwrap_or_else(|| panic!("no {name} cookie in {resp}"));
    let v = line.split_once(':').unwrap().1.trim();
    v.split(';').next().unwrap().to_owned()
}

async fn login_and_list_over_a_real_socket(backend: &str) {
    let fx = Fixture::new(backend).await;
    fx.insert(vec![ev("info", "Socket", "over the wire", Utc::now())])
        .await;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(eventlog_web::serve(listener, fx.router(), async {
        let _ = stop_rx.await;
    }));

    let page = http(
        addr,
        "GET /login HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n".into(),
    )
    .await;
    assert!(page.starts_with("HTTP/1.1 200"), "{page}");
    let login_csrf = cookie(&page, "eventlog_login_csrf");
    let token = hidden(&page, "csrf");
    let body = format!(
        "username=alice&password={}&csrf={token}",
        PASSWORD.replace(' ', "+")
    );
    let resp = http(
        addr,
        format!(
            "POST /login HTTP/1.1\r\nHost: x\r\nConnection: close\r\nCookie: {login_csrf}\r\n\
             Content-Type: application/x-www-form-urlencoded\r\nContent-Length: {}\r\n\r\n{body}",
            body.len()
        ),
    )
    .await;
    assert!(resp.starts_with("HTTP/1.1 303"), "{resp}");
    let session = cookie(&resp, "eventlog_session");
    let list = http(
        addr,
        format!(
            "GET /events HTTP/1.1\r\nHost: x\r\nConnection: close\r\nCookie: {session}\r\n\r\n"
        ),
    )
    .await;
    assert!(list.starts_with("HTTP/1.1 200"), "{list}");
    assert!(list.contains("over the wire"));
    let anon = http(
        addr,
        "GET /events HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n".into(),
    )
    .await;
    assert!(anon.starts_with("HTTP/1.1 303"), "{anon}");
    // Graceful shutdown ends the server task.
    stop_tx.send(()).unwrap();
    tokio::time::timeout(std::time::Duration::from_secs(10), server)
        .await
        .expect("server stops on shutdown")
        .unwrap()
        .unwrap();
}

/// Mounted as the documentation shows (`Router::nest_service("/admin/eventlog", app(state))`),
/// the admin answers at the prefix with and without the trailing slash, and its pages keep
/// answering under the prefix. (`Router::nest` would match only the form without the slash:
/// axum 0.8 maps the nested route `/` to the prefix alone.)
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_nested_admin_answers_with_and_without_the_trailing_slash() {
    let fx = Fixture::new("sqlite").await;
    let router = axum::Router::new().nest_service("/admin/eventlog", fx.router());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(eventlog_web::serve(listener, router, async {
        let _ = stop_rx.await;
    }));
    let get = |path: &str| {
        http(
            addr,
            format!("GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"),
        )
    };
    for path in ["/admin/eventlog", "/admin/eventlog/"] {
        let resp = get(path).await;
        assert!(resp.starts_with("HTTP/1.1 303"), "{path}: {resp}");
        assert!(
            resp.to_ascii_lowercase()
                .contains("location: /admin/eventlog/events\r\n"),
            "{path}: {resp}"
        );
    }
    // Logging in and reading the list work under the prefix as with `Router::nest`.
    let page = get("/admin/eventlog/login").await;
    assert!(page.starts_with("HTTP/1.1 200"), "{page}");
    assert!(page.contains("action=\"/admin/eventlog/login\""), "{page}");
    let login_csrf = cookie(&page, "eventlog_login_csrf");
    let body = format!(
        "username=alice&password={}&csrf={}",
        PASSWORD.replace(' ', "+"),
        hidden(&page, "csrf")
    );
    let resp = http(
        addr,
        format!(
            "POST /admin/eventlog/login HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\
             Cookie: {login_csrf}\r\nContent-Type: application/x-www-form-urlencoded\r\n\
             Content-Length: {}\r\n\r\n{body}",
            body.len()
        ),
    )
    .await;
    assert!(resp.starts_with("HTTP/1.1 303"), "{resp}");
    assert!(resp.contains("Path=/admin/eventlog"), "{resp}");
    let session = cookie(&resp, "eventlog_session");
    let list = http(
        addr,
        format!(
            "GET /admin/eventlog/ HTTP/1.1\r\nHost: x\r\nConnection: close\r\nCookie: {session}\r\n\r\n"
        ),
    )
    .await;
    assert!(
        list.to_ascii_lowercase()
            .contains("location: /admin/eventlog/events\r\n"),
        "{list}"
    );
    let health = get("/admin/eventlog/healthz").await;
    assert!(health.starts_with("HTTP/1.1 200"), "{health}");
    // Only the prefix itself gets the slash's leniency.
    let unknown = get("/admin/eventlog/nothing-here").await;
    assert!(unknown.starts_with("HTTP/1.1 404"), "{unknown}");
    stop_tx.send(()).unwrap();
    tokio::time::timeout(std::time::Duration::from_secs(10), server)
        .await
        .expect("server stops on shutdown")
        .unwrap()
        .unwrap();
}
