//! The live tail over a real socket (`eventlog_web::serve`, reqwest): one shared poll for
//! every stream, in-memory filters, limits on open streams, and streams that end with their
//! session.

use crate::common;

use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::Utc;
use common::*;
use eventlog_web::{LiveTail, StreamLimits};

eventlog_testing::on_every_backend!(
    backend: fifty_filtered_streams_share_one_poll,
    a_stream_ends_when_its_session_ends,
    a_reconnect_mid_burst_resumes_exactly
);

/// A server on 127.0.0.1:0 serving `state`; stops when the sender is dropped.
async fn serve(state: eventlog_web::AppState) -> (String, tokio::sync::oneshot::Sender<()>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    tokio::spawn(eventlog_web::serve(
        listener,
        eventlog_web::app(state),
        async {
            let _ = stop_rx.await;
        },
    ));
    (base, stop_tx)
}

/// [`serve`] with these limits on open streams; the live tail too, to watch its polls.
async fn serve_limited(
    fx: &Fixture,
    per_session: usize,
    total: usize,
) -> (Arc<LiveTail>, String, tokio::sync::oneshot::Sender<()>) {
    let state = fx
        .builder()
        .live_tail_limits(StreamLimits {
            per_session,
            per_user: total,
            total,
        })
        .build();
    let live = state.live_tail().clone();
    let (base, stop) = serve(state).await;
    (live, base, stop)
}

fn http() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .timeout(Duration::from_secs(60))
        .build()
        .unwrap()
}

fn cookies_of(resp: &reqwest::Response) -> Vec<String> {
    resp.headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .filter_map(|v| v.split(';').next())
        .map(str::to_owned)
        .collect()
}

/// Logs in over HTTP; the `Cookie` header of the session.
async fn login(base: &str, user: &str) -> String {
    let c = http();
    let page = c.get(format!("{base}/login")).send().await.unwrap();
    let jar = cookies_of(&page);
    let csrf = hidden(&page.text().await.unwrap(), "csrf");
    let resp = c
        .post(format!("{base}/login"))
        .header("cookie", jar.join("; "))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(
            serde_urlencoded::to_string([
                ("username", user),
                ("password", PASSWORD),
                ("csrf", &csrf),
            ])
            .unwrap_or_default(),
        )
        .send()
        .await
        .unwrap();
    assert!(resp.status().is_redirection(), "login: {}", resp.status());
    cookies_of(&resp)
        .into_iter()
        .filter(|c| c.starts_with("eventlog_session"))
        .collect::<Vec<_>>()
        .join("; ")
}

async fn open_stream(base: &str, cookie: &str, query: &str) -> reqwest::Response {
    http()
        .get(format!("{base}/events/stream?{query}"))
        .header("cookie", cookie)
        .send()
        .await
        .unwrap()
}

/// Reads the stream until `done` holds for what was read, or `limit` passes; what was read.
async fn read_until(
    resp: &mut reqwest::Response,
    limit: Duration,
    done: impl Fn(&str) -> bool,
) -> String {
    let deadline = tokio::time::Instant::now() + limit;
    let mut text = String::new();
    while !done(&text) {
        match tokio::time::timeout_at(deadline, resp.chunk()).await {
            Ok(Ok(Some(chunk))) => text.push_str(&String::from_utf8_lossy(&chunk)),
            // The server ended the stream, or the time is up.
            Ok(Ok(None)) | Ok(Err(_)) | Err(_) => break,
        }
    }
    text
}

/// 50 streams with a `data.*` filter cost one read of new events per interval, not 50, and
/// each stream gets exactly the events its filter selects.
async fn fifty_filtered_streams_share_one_poll(backend: &str) {
    let fx = Fixture::new(backend).await;
    let (live, base, _stop) = serve_limited(&fx, 60, 60).await;
    let cookie = login(&base, "victor").await;
    let mut streams = Vec::new();
    for _ in 0..50 {
        let resp = open_stream(&base, &cookie, "data.customer.email=a%40b.c").await;
        assert_eq!(resp.status(), 200);
        streams.push(resp);
    }
    assert_eq!(live.open_streams(), 50);
    let before = live.polls();
    tokio::time::sleep(Duration::from_secs(2)).await;
    let polls = live.polls() - before;
    // The interval is 100 ms: about 20 reads in 2 s for all 50 streams (50 per interval
    // would be 1,000).
    assert!(
        (5..=30).contains(&polls),
        "{polls} reads in 2 s for 50 streams"
    );
    let mut wanted = ev("info", "G", "for a@b.c", Utc::now());
    wanted.data = Some(serde_json::json!({"customer": {"email": "a@b.c"}}));
    let mut other = ev("info", "G", "for someone else", Utc::now());
    other.data = Some(serde_json::json!({"customer": {"email": "x@y.z"}}));
    fx.insert(vec![other, wanted]).await;
    for s in &mut streams {
        let text = read_until(s, Duration::from_secs(10), |t| t.contains("for a@b.c")).await;
        assert!(text.contains("event: events"), "{text}");
        assert!(text.contains("for a@b.c"), "{text}");
        assert!(!text.contains("someone else"), "{text}");
    }
}

/// Asserts that opening a stream was refused with `429`, saying `says`.
async fn assert_refused(stream: reqwest::Response, says: &str) {
    assert_eq!(stream.status(), 429, "expected {says:?}");
    let text = stream.text().await.unwrap();
    assert!(text.contains(says), "{says:?} missing from {text}");
}

/// Asserts that `stream` ends (`event: ended`) within the 5 s session check (plus slack);
/// a failure names `case`.
async fn assert_ends_within_the_session_check(stream: &mut reqwest::Response, case: &str) {
    let started = Instant::now();
    let text = read_until(stream, Duration::from_secs(15), |_| false).await;
    assert!(
        started.elapsed() < Duration::from_millis(6500),
        "{case}: ended after {:?}",
        started.elapsed()
    );
    assert!(text.contains("event: ended"), "{case}: {text}");
}

/// Logout, and the user's removal, end an open stream within the 5 s session check.
async fn a_stream_ends_when_its_session_ends(backend: &str) {
    let fx = Fixture::new(backend).await;
    let (base, _stop) = serve(fx.state()).await;

    // Logout.
    let cookie = login(&base, "alice").await;
    let mut stream = open_stream(&base, &cookie, "").await;
    assert_eq!(stream.status(), 200);
    let page = http()
        .get(format!("{base}/groups"))
        .header("cookie", &cookie)
        .send()
        .await
        .unwrap();
    let csrf = hidden(&page.text().await.unwrap(), "csrf");
    let out = http()
        .post(format!("{base}/logout"))
        .header("cookie", &cookie)
        .header("content-type", "application/x-www-form-urlencoded")
        .body(serde_urlencoded::to_string([("csrf", csrf.as_str())]).unwrap_or_default())
        .send()
        .await
        .unwrap();
    assert!(out.status().is_redirection(), "logout: {}", out.status());
    assert_ends_within_the_session_check(&mut stream, "after logout").await;

    // The user removed (as `eventlog user remove` does).
    let cookie = login(&base, "victor").await;
    let mut stream = open_stream(&base, &cookie, "").await;
    assert_eq!(stream.status(), 200);
    assert!(fx.store.remove_user("victor").await.unwrap());
    assert_ends_within_the_session_check(&mut stream, "after the user's removal").await;
}

/// Past the limits, a stream gets `429` and a message naming the limit; a closed stream
/// frees its place.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn streams_are_limited_per_session_and_overall() {
    let fx = Fixture::new("sqlite").await;
    let (live, base, _stop) = serve_limited(&fx, 2, 3).await;
    let alice = login(&base, "alice").await;
    let victor = login(&base, "victor").await;
    let a1 = open_stream(&base, &alice, "").await;
    let a2 = open_stream(&base, &alice, "").await;
    assert_eq!((a1.status().as_u16(), a2.status().as_u16()), (200, 200));
    assert_refused(
        open_stream(&base, &alice, "").await,
        "this session already has 2 live tails open",
    )
    .await;
    let v1 = open_stream(&base, &victor, "").await;
    assert_eq!(v1.status(), 200, "another session has its own share");
    assert_refused(
        open_stream(&base, &victor, "").await,
        "the server has 3 live tails open",
    )
    .await;
    drop(a1);
    let deadline = Instant::now() + Duration::from_secs(20);
    while live.open_streams() > 2 && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let v3 = open_stream(&base, &victor, "").await;
    assert_eq!(v3.status(), 200, "a closed stream gives its place back");
    drop((a2, v1, v3));
}

/// The `events` messages of a stream's text: `(id, event ids shown)`, in order.
fn event_messages(text: &str) -> Vec<(Option<String>, Vec<i64>)> {
    text.split("\n\n")
        .filter(|m| m.lines().any(|l| l == "event: events"))
        .map(|m| {
            let id = m
                .lines()
                .find_map(|l| l.strip_prefix("id: "))
                .map(str::to_owned);
            let shown = m
                .split("data-id=\"")
                .skip(1)
                .filter_map(|rest| rest.split('"').next()?.parse().ok())
                .collect();
            (id, shown)
        })
        .collect()
}

/// A browser cut off in the middle of a burst (the live tail reads it page by page) resumes
/// from the last message's id (`Last-Event-ID`): every event of the burst shown once.
async fn a_reconnect_mid_burst_resumes_exactly(backend: &str) {
    let fx = Fixture::new(backend).await;
    let (_live, base, _stop) = serve_limited(&fx, 4, 8).await;
    let cookie = login(&base, "victor").await;
    let mut first = open_stream(&base, &cookie, "").await;
    assert_eq!(first.status(), 200);
    // More than one poll's page (1,000 events), in one transaction: the first message stands
    // mid-page (asserted below); fewer than the catch-up's bound, so nothing is skipped.
    let burst = 1_500;
    let now = Utc::now();
    let ids = fx
        .insert(
            (0..burst)
                .map(|i| ev("info", "burst", &format!("burst {i}"), now))
                .collect(),
        )
        .await;
    let text = read_until(&mut first, Duration::from_secs(20), |t| {
        !event_messages(t).is_empty() && t.ends_with("\n\n")
    })
    .await;
    drop(first);
    let messages = event_messages(&text);
    let (resume, mut shown) = messages.into_iter().next().expect("a first message");
    assert!(
        shown.len() < burst,
        "the first message is part of the burst"
    );
    let resume = resume.expect("a message mid-burst carries its resume id");

    let again = http()
        .get(format!("{base}/events/stream"))
        .header("cookie", &cookie)
        .header("last-event-id", &resume)
        .send()
        .await
        .unwrap();
    assert_eq!(again.status(), 200);
    let mut again = again;
    let text = read_until(&mut again, Duration::from_secs(20), |t| {
        event_messages(t).iter().map(|m| m.1.len()).sum::<usize>() + shown.len() >= burst
    })
    .await;
    for (id, rows) in event_messages(&text) {
        assert!(id.is_some(), "every message carries its resume id");
        shown.extend(rows);
    }
    shown.sort_unstable();
    let mut expected = ids.clone();
    expected.sort_unstable();
    assert_eq!(
        shown, expected,
        "every event of the burst once: none missed, none twice"
    );
}

/// One user logged in many times (many sessions) holds at most `per_user` streams: another
/// user still gets one.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn streams_are_limited_per_user_over_their_sessions() {
    let fx = Fixture::new("sqlite").await;
    let state = fx
        .builder()
        .live_tail_limits(StreamLimits {
            per_session: 2,
            per_user: 3,
            total: 10,
        })
        .build();
    let (base, _stop) = serve(state).await;
    let (first, second) = (login(&base, "alice").await, login(&base, "alice").await);
    let mut open = Vec::new();
    for cookie in [&first, &first, &second] {
        let s = open_stream(&base, cookie, "").await;
        assert_eq!(s.status(), 200);
        open.push(s);
    }
    assert_refused(
        open_stream(&base, &second, "").await,
        "this user already has 3 live tails open",
    )
    .await;
    let third = login(&base, "alice").await;
    assert_refused(
        open_stream(&base, &third, "").await,
        "this user already has 3 live tails open",
    )
    .await;
    let victor = login(&base, "victor").await;
    let v = open_stream(&base, &victor, "").await;
    assert_eq!(v.status(), 200, "another user has places of their own");
    drop((open, v));
}
