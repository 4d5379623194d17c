//! An anonymous login flood against the real `eventlog serve`: its memory stays bounded and it
//! keeps answering `/healthz`.

use crate::support;

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use eventlog::store::Role;
use support::{Serve, ServeSpec};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// Sends a scripted login (CSRF cookie and field set to the same value) and returns the
/// status code, or 0 when the server closed the connection before answering.
async fn login(addr: SocketAddr, user: String, password: &str) -> u16 {
    let body = format!("csrf=scripted&username={user}&password={password}");
    let head = format!(
        "POST /login HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\
         Cookie: eventlog_login_csrf=scripted\r\n\
         Content-Type: application/x-www-form-urlencoded\r\nContent-Length: {}\r\n\r\n",
        body.len()
    );
    let Ok(mut s) = tokio::net::TcpStream::connect(addr).await else {
        return 0;
    };
    // The server may answer (413) and close before the whole body is sent.
    let _ = s.write_all(head.as_bytes()).await;
    let _ = s.write_all(body.as_bytes()).await;
    let mut out = Vec::new();
    let _ = s.read_to_end(&mut out).await;
    String::from_utf8_lossy(&out)
        .get(9..12)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0)
}

/// How long `/healthz` takes to answer 200.
async fn healthz(addr: SocketAddr) -> Duration {
    let start = Instant::now();
    let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
    s.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        .await
        .unwrap();
    let mut out = Vec::new();
    s.read_to_end(&mut out).await.unwrap();
    let out = String::from_utf8_lossy(&out);
    assert!(out.starts_with("HTTP/1.1 200"), "{out}");
    start.elapsed()
}

/// Runs `attempts` concurrently, checks `/healthz` while they run, and returns the statuses.
async fn flood(addr: SocketAddr, attempts: Vec<(String, &'static str)>) -> Vec<u16> {
    let tasks: Vec<_> = attempts
        .into_iter()
        .map(|(user, password)| tokio::spawn(login(addr, user, password)))
        .collect();
    // Three probes while the flood runs. The machine may be busy with other work (2 cores), so
    // each probe only has to show liveness (5 s); the fastest must be within 1 s.
    let mut probes = Vec::new();
    for _ in 0..3 {
        tokio::time::sleep(Duration::from_millis(30)).await;
        probes.push(healthz(addr).await);
    }
    assert!(
        probes.iter().all(|t| *t < Duration::from_secs(5)),
        "/healthz during a login flood: {probes:?}"
    );
    assert!(
        probes
            .iter()
            .min()
            .is_some_and(|t| *t < Duration::from_secs(1)),
        "/healthz during a login flood: {probes:?}"
    );
    let mut statuses = Vec::new();
    for t in tasks {
        statuses.push(t.await.unwrap());
    }
    statuses
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_login_flood_keeps_memory_bounded_and_healthz_answering() {
    let db = eventlog_testing::TestDb::sqlite();
    {
        let store = eventlog::store::open(db.url()).await.unwrap();
        let hash = eventlog_web::auth::password::hash_password("correct horse battery").unwrap();
        store
            .create_user("admin", &hash, Role::Admin)
            .await
            .unwrap()
            .unwrap();
    }
    let server = Serve::start(ServeSpec::new(db.url()));

    // 200 concurrent logins with 200 KB user names.
    let huge: Vec<_> = (0..200)
        .map(|i| (format!("{i}{}", "u".repeat(200 * 1024)), "wrong password"))
        .collect();
    let statuses = flood(server.addr, huge).await;
    assert!(
        statuses.iter().all(|s| matches!(s, 400 | 413 | 0)),
        "huge names are refused before any check: {statuses:?}"
    );
    assert!(statuses.contains(&413), "{statuses:?}");

    // 200 concurrent logins with plausible names and wrong passwords: at most a few Argon2
    // checks (19 MiB each) run at once; the rest are throttled or told to come back.
    let plausible: Vec<_> = (0..200)
        .map(|i| (format!("user{i}"), "wrong password"))
        .collect();
    let statuses = flood(server.addr, plausible).await;
    assert!(
        statuses.iter().all(|s| matches!(s, 401 | 429 | 503)),
        "{statuses:?}"
    );
    assert!(
        statuses.iter().any(|s| *s == 429 || *s == 503),
        "{statuses:?}"
    );

    let peak = server.peak_rss_mib();
    eprintln!("eventlog serve peak RSS after both floods: {peak} MiB");
    assert!(peak < 300, "eventlog serve peaked at {peak} MiB RSS");
    let after = healthz(server.addr).await;
    assert!(
        after < Duration::from_secs(1),
        "/healthz after the flood: {after:?}"
    );
}
