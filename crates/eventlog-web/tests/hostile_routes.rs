//! Every route and parameter of the admin and the API driven with hostile values (NUL,
//! bytes that are not UTF-8, bad percent escapes, huge numbers, path tricks, a thousand
//! conditions, hostile JSON), on SQLite and PostgreSQL, by a logged-in admin holding a token:
//! every answer is a 2xx, 3xx or 4xx, never a 5xx or a panic.

use crate::common;

use axum::body::Body;
use axum::http::{StatusCode, header};
use common::{Client, Fixture, PASSWORD};
use eventlog::store::TokenScope;
use proptest::prelude::*;
use proptest::test_runner::{Config, TestRunner};

eventlog_testing::on_both_backends!(
    backend: every_route_answers_hostile_values_without_a_5xx,
    nul_in_a_path_and_a_thousand_conditions_are_400s
);

/// Values every route and parameter is tried with, one by one, before the random cases.
const TRICKY: &[&str] = &[
    "%00",
    "a%00b",
    "%FF",
    "%C3%28",
    "%E2%82",
    "%",
    "%zz",
    "..",
    "%2e%2e%2f%2e%2e%2fetc%2fpasswd",
    "-1",
    "0",
    "9223372036854775808",
    "-9223372036854775809",
    "1e309",
    "00000000-0000-0000-0000-000000000000",
    "%27%3B%20DROP%20TABLE%20events%3B--",
    "%5C",
    "%0D%0ASet-Cookie:%20x=y",
    "%F0%9F%98%80",
    "%EF%BF%BF",
];

/// Where a value goes: every path segment and query parameter of the admin and the API.
const PLACES: &[&str] = &[
    "/api/v1/events/{}",
    "/api/v1/groups/{}",
    "/events/{}",
    "/static/{}",
    "/{}",
    "/api/v1/events?{}",
    "/events?{}",
    "/groups?{}",
    "/events/export?{}",
    "/events/delete?{}",
    "/login?{}",
    "/events/{}?{}",
];

/// Percent-encoded text as a client may send it, raw escapes included.
fn hostile() -> impl Strategy<Value = String> {
    let tricky = prop::sample::select(TRICKY.to_vec());
    let encoded = any::<String>()
        .prop_map(|s| form_urlencoded::byte_serialize(s.as_bytes()).collect::<String>());
    prop_oneof![
        3 => tricky.clone().prop_map(str::to_owned),
        2 => encoded.clone(),
        2 => (encoded, tricky).prop_map(|(a, b)| format!("{a}{b}")),
        1 => (1usize..20_000).prop_map(|n| "a".repeat(n)),
    ]
}

/// Query keys of every listing, and some nobody knows.
fn key() -> impl Strategy<Value = String> {
    prop::sample::select(vec![
        "q",
        "type",
        "group",
        "initiator",
        "since",
        "until",
        "order",
        "cursor",
        "limit",
        "page",
        "date",
        "format",
        "next",
        "id",
        "ids",
        "data.a",
        "data.a.b",
        "data.",
        "data..x",
        "%00",
        "x%FF",
    ])
    .prop_map(str::to_owned)
}

fn query() -> impl Strategy<Value = String> {
    prop_oneof![
        4 => prop::collection::vec((key(), hostile()), 0..5).prop_map(|pairs| {
            pairs
                .into_iter()
                .map(|(k, v)| format!("{k}={v}"))
                .collect::<Vec<_>>()
                .join("&")
        }),
        // Far more conditions than any store combines in one query.
        1 => (60usize..1_200).prop_map(|n| {
            (0..n).map(|i| format!("data.k{i}=v")).collect::<Vec<_>>().join("&")
        }),
    ]
}

/// A hostile JSON value: strings with NUL and lone surrogate escapes, deep nesting, huge
/// numbers.
fn json_value() -> impl Strategy<Value = String> {
    prop::sample::select(vec![
        r#""a\u0000b""#,
        r#""\ud800""#,
        r#""\udc00x""#,
        "1e400",
        "-0",
        "18446744073709551616",
        "null",
        "[]",
        "{}",
        r#"{"\u0000": 1}"#,
        r#"{"a": {"b": [1, "\u0000", {"c": null}]}}"#,
        r#""2026-13-45T99:99:99Z""#,
        r#""""#,
        "true",
    ])
    .prop_map(str::to_owned)
}

fn event_body() -> impl Strategy<Value = String> {
    let field = prop::sample::select(vec![
        "type",
        "message",
        "group",
        "initiator",
        "data",
        "timestamp",
        "id",
        "send_mail",
        "unknown",
    ]);
    prop::collection::vec((field, json_value()), 0..6).prop_map(|fields| {
        let body: Vec<String> = fields
            .into_iter()
            .map(|(k, v)| format!("\"{k}\": {v}"))
            .collect();
        format!("{{{}}}", body.join(", "))
    })
}

/// One hostile request.
#[derive(Debug, Clone)]
enum Case {
    Get(String),
    PostJson(String, String),
    PostForm(String, String),
}

fn case() -> impl Strategy<Value = Case> {
    let get_path = prop_oneof![
        hostile().prop_map(|s| format!("/api/v1/events/{s}")),
        hostile().prop_map(|s| format!("/api/v1/groups/{s}")),
        hostile().prop_map(|s| format!("/events/{s}")),
        hostile().prop_map(|s| format!("/static/{s}")),
        hostile().prop_map(|s| format!("/{s}")),
        query().prop_map(|q| format!("/api/v1/events?{q}")),
        query().prop_map(|q| format!("/events?{q}")),
        query().prop_map(|q| format!("/groups?{q}")),
        query().prop_map(|q| format!("/events/export?{q}")),
        query().prop_map(|q| format!("/events/delete?{q}")),
        query().prop_map(|q| format!("/login?{q}")),
        hostile().prop_map(|s| format!("/healthz?{s}")),
    ];
    prop_oneof![
        4 => get_path.prop_map(Case::Get),
        2 => (event_body(), prop::sample::select(vec!["application/json", "application/x-ndjson"]))
            .prop_map(|(b, t)| Case::PostJson(b, t.to_owned())),
        1 => query().prop_map(|q| Case::PostForm("/events/delete".into(), q)),
        1 => query().prop_map(|q| Case::PostForm("/login".into(), q)),
    ]
}

async fn every_route_answers_hostile_values_without_a_5xx(backend: &str) {
    let fx = Fixture::new(backend).await;
    fx.insert_ago(&[("info", "Order 1", "Mail sent", 5)]).await;
    let token = fx
        .store
        .create_token("fuzz", TokenScope::All)
        .await
        .unwrap();
    let mut client = Client::new(fx.router());
    let login = client.login("alice", PASSWORD).await;
    assert_eq!(login.status, StatusCode::SEE_OTHER, "{}", login.body);
    let csrf = client.csrf().await;

    // Every place with every tricky value (as the value of each query key, too).
    for place in PLACES {
        for value in TRICKY {
            let mut paths = vec![place.replace("{}", value)];
            if place.contains('?') {
                let keys = [
                    "q",
                    "type",
                    "group",
                    "initiator",
                    "since",
                    "until",
                    "order",
                    "cursor",
                    "limit",
                    "page",
                    "date",
                    "format",
                    "next",
                    "data.a",
                    "id",
                ];
                paths.extend(
                    keys.iter()
                        .map(|k| place.replace("?{}", &format!("?{k}={value}"))),
                );
                paths.push(place.replace("?{}", &format!("?{value}=1")));
            }
            for path in paths {
                let path = path.replace("{}", "1");
                let Ok(req) = client
                    .request("GET", &path)
                    .header(header::AUTHORIZATION, format!("Bearer {token}"))
                    .body(Body::empty())
                else {
                    continue;
                };
                let resp = client.send(req).await;
                assert!(
                    resp.status.as_u16() < 500,
                    "{backend}: GET {path} -> {}: {}",
                    resp.status,
                    resp.body
                );
            }
        }
    }

    let client = std::cell::RefCell::new(client);
    let sent = std::cell::Cell::new(0usize);
    let handle = tokio::runtime::Handle::current();
    let mut runner = TestRunner::new(Config {
        cases: 512,
        failure_persistence: None,
        ..Config::default()
    });
    // The runner is synchronous; each case drives the router on this test's runtime.
    let result = tokio::task::block_in_place(|| {
        runner.run(&case(), |case| {
            let mut client = client.borrow_mut();
            let request = match &case {
                Case::Get(path) => client.request("GET", path).body(Body::empty()),
                Case::PostJson(body, content_type) => client
                    .request("POST", "/api/v1/events")
                    .header(header::CONTENT_TYPE, content_type.as_str())
                    .body(Body::from(body.clone())),
                Case::PostForm(path, form) => client
                    .request("POST", path)
                    .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
                    .body(Body::from(format!("csrf={csrf}&{form}"))),
            };
            let Ok(mut request) = request else {
                // Not a request a client could send (the URI does not parse).
                return Ok(());
            };
            request.headers_mut().insert(
                header::AUTHORIZATION,
                format!("Bearer {token}").parse().unwrap(),
            );
            let resp = handle.block_on(client.send(request));
            sent.set(sent.get() + 1);
            prop_assert!(
                resp.status.as_u16() < 500,
                "{case:?} -> {}: {}",
                resp.status,
                resp.body
            );
            Ok(())
        })
    });
    if let Err(e) = result {
        panic!("{backend}: {e}");
    }
    eprintln!("{backend}: {} hostile requests answered", sent.get());
    assert!(sent.get() >= 400, "only {} requests were sent", sent.get());
}

/// The two holes of record, by name: a NUL in a group name (PostgreSQL answered 500) and a
/// thousand `data.*` conditions (SQLite answered 500 "Expression tree is too large").
async fn nul_in_a_path_and_a_thousand_conditions_are_400s(backend: &str) {
    let fx = Fixture::new(backend).await;
    let token = fx
        .store
        .create_token("fuzz", TokenScope::All)
        .await
        .unwrap();
    let mut client = Client::new(fx.router());
    let mut get = async |path: &str| {
        let req = client
            .request("GET", path)
            .header(header::AUTHORIZATION, format!("Bearer {token}"))
            .body(Body::empty())
            .unwrap();
        client.send(req).await
    };
    let nul = get("/api/v1/groups/a%00b").await;
    assert_eq!(nul.status, StatusCode::BAD_REQUEST, "{}", nul.body);
    assert!(nul.body.contains("NUL"), "{}", nul.body);
    let many: Vec<String> = (0..1_000).map(|i| format!("data.k{i}=v")).collect();
    let resp = get(&format!("/api/v1/events?{}", many.join("&"))).await;
    assert_eq!(resp.status, StatusCode::BAD_REQUEST, "{}", resp.body);
    assert!(
        resp.body.contains("more than 64 conditions"),
        "{}",
        resp.body
    );
}
