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
