//! Arbitrary query strings against the admin's list pages and export and the API's list, on
//! SQLite and PostgreSQL: every answer is a 2xx or a 4xx, never a 5xx or a panic.

use std::sync::Arc;

use async_trait::async_trait;
use axum::body::Body;
use axum::http::Request;
use axum::http::request::Parts;
use eventlog::store::{self, Backend, Role, TokenScope};
use eventlog::{EventTypes, GroupId, NewEvent};
use eventlog_web::AppState;
use eventlog_web::auth::host::{HostAuth, HostUser};
use proptest::prelude::*;
use proptest::test_runner::{Config, TestRunner};
use tower::ServiceExt;

eventlog_testing::on_both_backends!(
    arbitrary_list_queries_never_fail_the_server,
    a_word_unicode61_splits_is_searched_over_a_socket
);

struct Viewer;

#[async_trait]
impl HostAuth for Viewer {
    async fn user(&self, _: &Parts) -> Option<HostUser> {
        Some(HostUser {
            name: "viewer".into(),
            role: Role::Viewer,
        })
    }
}

/// The app over `store`, its pages seen by a signed-in viewer, and an API token named `name`.
async fn app_and_token(store: &Arc<dyn Backend>, name: &str) -> (axum::Router, String) {
    let token = store.create_token(name, TokenScope::All).await.unwrap();
    let router = eventlog_web::app(
        AppState::builder(store.clone(), EventTypes::default())
            .host_auth(Arc::new(Viewer))
            .build(),
    );
    (router, token)
}

/// Keys the handlers know, a few they do not, and data paths.
fn key() -> impl Strategy<Value = String> {
    prop_oneof![
        3 => prop::sample::select(vec![
            "q", "type", "group", "initiator", "since", "until", "order", "cursor", "limit",
            "date", "format", "after", "data.customer.email",
        ])
        .prop_map(str::to_owned),
        1 => any::<String>().prop_map(|p| format!("data.{p}")),
        1 => any::<String>(),
    ]
}

/// Search text: any Unicode, and letters next to characters that changed category since
/// Unicode 6.1 (SQLite's tables) or that lowercase into more than one character.
fn search_text() -> impl Strategy<Value = String> {
    let tricky = prop::sample::select(vec![
        "asc\u{19b0}\u{2d2d}",
        "a\u{10a05}b",
        "x\u{130}y",
        "\u{1f600}",
        "\u{e000}z",
        "\u{308}",
    ]);
    prop_oneof![
        2 => any::<String>(),
        2 => prop::collection::vec(any::<char>(), 0..12).prop_map(|c| c.into_iter().collect()),
        2 => (any::<String>(), tricky, any::<String>()).prop_map(|(a, b, c)| format!("{a}{b}{c}")),
    ]
}

/// Values: anything, and near-misses of the valid forms (extreme years, NUL, backslashes).
fn value() -> impl Strategy<Value = String> {
    let special = prop::sample::select(vec![
        "",
        "asc",
        "desc",
        "today",
        "7d",
        "csv",
        "jsonl",
        "info,error",
        "\u{0}",
        "a\\b",
        "-262143-01-01",
        "+262142-12-31",
        "9999-12-31",
        "0000-01-01",
        "1970-01-01T00:00",
    ]);
    prop_oneof![
        2 => any::<String>(),
        2 => (any::<String>(), special.clone(), any::<String>())
            .prop_map(|(a, b, c)| format!("{a}{b}{c}")),
        3 => special.prop_map(str::to_owned),
        2 => "[0-9+-]{1,7}-[0-9]{1,2}-[0-9]{1,2}([T ][0-9]{1,2}:[0-9]{1,2}(:[0-9]{1,2})?)?(Z|[+-][0-9]{2}:[0-9]{2})?",
        1 => "-?[0-9]{1,20}(_[0-9a-z\\\\\u{0}]{0,20})?",
    ]
}

/// A query string: encoded pairs, or raw bytes as a client may send them (bad percent escapes,
/// invalid UTF-8 once decoded).
fn query() -> impl Strategy<Value = String> {
    prop_oneof![
        (prop::collection::vec((key(), value()), 0..6), search_text()).prop_map(
            |(mut pairs, q)| {
                // Search text gets arbitrary Unicode too, and more of it: SQLite's tokenizer
                // classifies characters by its own (older) tables, where a word could split.
                pairs.push(("q".into(), q));
                form_urlencoded::Serializer::new(String::new())
                    .extend_pairs(pairs)
                    .finish()
            }
        ),
        "([a-z.=&%+]|%[0-9A-Fa-f]{2}|%[^0-9A-Fa-f]){0,40}",
    ]
}

async fn arbitrary_list_queries_never_fail_the_server(url: &str) {
    let store = store::open(url).await.unwrap();
    let mut e = NewEvent::new("info", GroupId::named("Order 1").unwrap(), "Mail sent");
    e.data = Some(serde_json::json!({"customer": {"email": "a@b.c"}, "n": -1}));
    e.initiator = Some("cron".into());
    store.insert_batch(&[e]).await.unwrap();
    let (router, token) = app_and_token(&store, "fuzz").await;
    let handle = tokio::runtime::Handle::current();
    let mut runner = TestRunner::new(Config {
        cases: 256,
        failure_persistence: None,
        ..Config::default()
    });
    // The runner is synchronous; each case drives the router on this test's runtime.
    let result = tokio::task::block_in_place(|| {
        runner.run(&query(), |q| {
            for path in ["/events", "/groups", "/events/export", "/api/v1/events"] {
                let uri = format!("{path}?{q}");
                let Ok(req) = Request::get(&uri)
                    .header("authorization", format!("Bearer {token}"))
                    .body(Body::empty())
                else {
                    // Not a URI a client could send.
                    continue;
                };
                let resp = handle.block_on(router.clone().oneshot(req)).unwrap();
                let status = resp.status();
                let body = handle
                    .block_on(axum::body::to_bytes(resp.into_body(), usize::MAX))
                    .unwrap_or_default();
                prop_assert!(
                    status.as_u16() < 500,
                    "GET {uri} -> {status}: {}",
                    String::from_utf8_lossy(&body)
                );
            }
            Ok(())
        })
    });
    if let Err(e) = result {
        panic!("{e}");
    }
}

/// One HTTP/1.1 GET with `Connection: close` over a real socket; the status and the body.
async fn get(addr: std::net::SocketAddr, path: &str, token: &str) -> (u16, String) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
    let req = format!(
        "GET {path} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {token}\r\nConnection: close\r\n\r\n"
    );
    s.write_all(req.as_bytes()).await.unwrap();
    let mut out = Vec::new();
    s.read_to_end(&mut out).await.unwrap();
    let out = String::from_utf8_lossy(&out).into_owned();
    let status = out[9..12].parse().unwrap();
    let body = out.split_once("\r\n\r\n").map(|(_, b)| b.to_owned());
    (status, body.unwrap_or_default())
}

/// `asc\u{19b0}\u{2d2d}`: U+19B0 is a letter today but was a vowel mark in the Unicode
/// tables of SQLite's `unicode61` tokenizer, which splits the word there. The search split it
/// as one word, the index saw a phrase it cannot answer, and SQLite's list answered 500. Now
/// the search splits where the tokenizer does, and both backends find the same event.
async fn a_word_unicode61_splits_is_searched_over_a_socket(url: &str) {
    let store = store::open(url).await.unwrap();
    let events: Vec<NewEvent> = ["asc \u{2d2d} split", "ascending only", "unrelated"]
        .into_iter()
        .map(|m| NewEvent::new("info", GroupId::named("Order 1").unwrap(), m))
        .collect();
    store.insert_batch(&events).await.unwrap();
    let (router, token) = app_and_token(&store, "reader").await;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(eventlog_web::serve(listener, router, async {
        let _ = stop_rx.await;
    }));

    let q = "q=asc%E1%A6%B0%E2%B4%AD";
    let (status, body) = get(addr, &format!("/api/v1/events?{q}"), &token).await;
    assert_eq!(status, 200, "{body}");
    let page: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(
        eventlog_testing::api::messages(&page),
        ["asc \u{2d2d} split"]
    );
    for path in [format!("/?{q}"), format!("/events?{q}")] {
        let (status, body) = get(addr, &path, &token).await;
        assert!(status < 400, "GET {path} -> {status}: {body}");
        if status == 200 {
            assert!(body.contains("asc \u{2d2d} split") && !body.contains("ascending only"));
        }
    }
    let _ = stop_tx.send(());
    server.await.unwrap().unwrap();
}
