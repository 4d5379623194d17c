//! Attacks on the login form over a real socket (`eventlog_web::serve`): guessing races,
//! lock-outs and open redirects.

use crate::common;

use std::net::SocketAddr;
use std::time::Duration;

use common::*;
use eventlog_web::auth::{LoginLimits, Throttle};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

eventlog_testing::on_both_backends!(
    backend: concurrent_guesses_are_counted_before_checking_and_the_owner_gets_in_after_the_wait,
    next_after_login_never_leaves_the_site,
);

/// Serves `state` on a fresh loopback port.
async fn start(state: eventlog_web::AppState) -> SocketAddr {
    eventlog_testing::http::serve_on_loopback(|listener| {
        eventlog_web::serve(listener, eventlog_web::app(state), std::future::pending())
    })
    .await
}

/// One HTTP/1.1 request with `Connection: close`; returns the raw response.
async fn http(addr: SocketAddr, request: String) -> String {
    let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
    s.write_all(request.as_bytes()).await.unwrap();
    let mut out = Vec::new();
    s.read_to_end(&mut out).await.unwrap();
    String::from_utf8_lossy(&out).into_owned()
}

/// A login POST as a script sends it: the login CSRF cookie and field set to the same value.
async fn login(addr: SocketAddr, user: &str, password: &str, next: &str) -> String {
    let body = serde_urlencoded::to_string([
        ("username", user),
        ("password", password),
        ("csrf", "scripted"),
        ("next", next),
    ])
    .unwrap();
    http(
        addr,
        format!(
            "POST /login HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\
             Cookie: eventlog_login_csrf=scripted\r\n\
             Content-Type: application/x-www-form-urlencoded\r\nContent-Length: {}\r\n\r\n{body}",
            body.len()
        ),
    )
    .await
}

fn status(resp: &str) -> u16 {
    resp.get(9..12)
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("not an HTTP response: {resp:?}"))
}

fn header<'a>(resp: &'a str, name: &str) -> Option<&'a str> {
    let head = resp.split("\r\n\r\n").next()?;
    head.lines().find_map(|l| {
        let (k, v) = l.split_once(':')?;
        k.eq_ignore_ascii_case(name).then(|| v.trim())
    })
}

async fn concurrent_guesses_are_counted_before_checking_and_the_owner_gets_in_after_the_wait(
    backend: &str,
) {
    let fx = Fixture::new(backend).await;
    let state = fx
        .builder()
        .login_limits(LoginLimits {
            per_user: Throttle {
                burst: 5,
                period: Duration::from_secs(2),
            },
            per_address: Throttle {
                burst: 500,
                period: Duration::from_millis(10),
            },
            ..Default::default()
        })
        .build();
    let addr = start(state).await;
    let guesses = (0..200).map(|i| {
        tokio::spawn(async move { login(addr, "alice", &format!("guess number {i}"), "").await })
    });
    let mut checked = 0;
    let mut waits = Vec::new();
    for g in guesses {
        let resp = g.await.unwrap();
        match status(&resp) {
            401 => checked += 1,
            429 | 503 => {
                let wait: u64 = header(&resp, "retry-after")
                    .unwrap_or_else(|| panic!("no Retry-After: {resp}"))
                    .parse()
                    .unwrap();
                waits.push(wait);
            }
            other => panic!("unexpected {other}: {resp}"),
        }
    }
    // The burst is 5; one more may have been earned while the 200 were answered.
    assert!(
        (1..=6).contains(&checked),
        "{checked} of 200 concurrent guesses had their password checked"
    );
    let longest = waits.iter().copied().max().unwrap();
    assert!((1..=2).contains(&longest), "Retry-After {longest}");
    // No lock-out: after the wait, the owner's right password gets in.
    tokio::time::sleep(Duration::from_secs(longest)).await;
    let resp = login(addr, "alice", PASSWORD, "").await;
    assert_eq!(status(&resp), 303, "{resp}");
}

async fn next_after_login_never_leaves_the_site(backend: &str) {
    let fx = Fixture::new(backend).await;
    let generous = Throttle {
        burst: 1000,
        period: Duration::from_millis(1),
    };
    let state = fx
        .builder()
        .login_limits(LoginLimits {
            per_user: generous,
            per_address: generous,
            ..Default::default()
        })
        .build();
    let addr = start(state).await;
    let bypasses = [
        "//evil.example",
        "//evil.example/path",
        "/\\evil.example",
        "\\\\evil.example",
        "/\t/evil.example/",
        "/%09/evil.example/",
        "/%2F%2Fevil.example",
        "/%2f/evil.example",
        "/%5Cevil.example",
        "/%5C%5Cevil.example",
        "https://evil.example",
        "http:evil.example",
        "//\u{0}evil.example",
        "/\r\n/evil.example",
        "/\n/evil.example",
        "/%0d%0a/evil.example",
        " //evil.example",
        "javascript:alert(1)",
        "evil.example",
        "/\u{7f}/evil.example",
        "/\u{3000}/evil.example",
        "///evil.example",
    ];
    for next in bypasses {
        let resp = login(addr, "alice", PASSWORD, next).await;
        assert_eq!(status(&resp), 303, "{next:?}: {resp}");
        assert_eq!(header(&resp, "location"), Some("/events"), "{next:?}");
    }
    for next in ["/groups?q=x", "/events/7", "/events?type=info&q=a%20b", "/"] {
        let resp = login(addr, "alice", PASSWORD, next).await;
        assert_eq!(header(&resp, "location"), Some(next), "{next:?}");
    }
}
