// Over 500 lines on purpose: every API route on both backends around one `Server` fixture.
//! The HTTP API over a real socket, on SQLite and on PostgreSQL.
//!
//! Each test is an `async fn(TestDb)`; `api_tests!` makes `sqlite::NAME` and `postgres::NAME`.
//! PostgreSQL comes from `scripts/test` (EVENTLOG_TEST_POSTGRES_URL); without it those fail.

use std::collections::BTreeSet;
use std::sync::Arc;

use axum::Router;
use eventlog::EventTypes;
use eventlog::store::{self, Backend, EventFilter, WriteStore};
use eventlog_testing::TestDb;
use eventlog_testing::api::{self as api_client, ApiClient};
use eventlog_web::api::{self, ApiState};
use reqwest::Method;
use serde_json::{Value, json};

eventlog_testing::on_both_backends!(
    db: single_event_is_committed_before_201,
    batch_without_groups_shares_one_new_group,
    one_bad_item_stores_nothing_and_names_the_index,
    json_lines_batches,
    same_id_twice_stores_one_event,
    racing_duplicate_ids_store_one_event,
    racing_ids_in_opposite_orders_all_get_201,
    concurrent_requests_get_their_own_ids,
    body_over_the_limit_is_413,
    tokens_are_required_and_revocation_is_immediate,
    non_json_bodies_are_415,
    list_filters_and_cursor_pagination,
    get_event_and_group,
    openapi_paths_are_the_routes,
    malformed_events_are_refused_and_not_echoed,
);

struct Server {
    /// The API's root URL, `http://ADDR/api/v1`.
    base: String,
    http: reqwest::Client,
    /// `http` with the token of scope `all`.
    api: ApiClient,
    store: Arc<dyn Backend>,
    _db: TestDb,
}

impl Server {
    async fn start(db: TestDb) -> Server {
        Server::start_with_limit(db, 8 * 1024 * 1024).await
    }

    async fn start_with_limit(db: TestDb, body_limit: usize) -> Server {
        let store = store::open(db.url()).await.unwrap();
        let token = store
            .create_token("test", eventlog::store::TokenScope::All)
            .await
            .unwrap();
        let state = ApiState::new(store.clone(), EventTypes::default()).with_config(
            &eventlog::config::ApiConfig {
                body_limit,
                ..Default::default()
            },
        );
        Server::serve(state, store, token, db).await
    }

    /// Serves `state`'s API on a loopback socket, mounted as the server mounts it; `token`
    /// (of scope `all`) is sent with every request.
    async fn serve(state: ApiState, store: Arc<dyn Backend>, token: String, db: TestDb) -> Server {
        let app = Router::new().nest(api::BASE_PATH, api::router(state));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        let base = format!("http://{addr}/api/v1");
        let http = reqwest::Client::new();
        Server {
            api: ApiClient::new(http.clone(), &base, token),
            base,
            http,
            store,
            _db: db,
        }
    }

    async fn post(&self, body: Value) -> (u16, Value) {
        api_client::status_and_json(self.api.post_json("/events", &body).await).await
    }

    /// `POST /events` of `body` as `content_type`.
    async fn post_as(
        &self,
        content_type: &str,
        body: impl Into<reqwest::Body>,
    ) -> reqwest::Response {
        let request = self.api.request(Method::POST, "/events");
        api_client::send(request.header("content-type", content_type).body(body)).await
    }

    async fn get(&self, path: &str) -> (u16, Value) {
        self.api.get_json(path).await
    }

    async fn count(&self) -> u64 {
        self.store.count(&EventFilter::default()).await.unwrap()
    }
}

async fn single_event_is_committed_before_201(db: TestDb) {
    let s = Server::start(db).await;
    let (status, body) = s
        .post(json!({
            "type": "warning", "message": "Mail server slow", "group": "Order 1",
            "initiator": "svc:mailer", "data": {"ms": 1500}, "timestamp": "2026-01-31T12:00:00.1234567+01:00"
        }))
        .await;
    assert_eq!(status, 201, "{body}");
    assert_eq!(body["groups"], json!(["Order 1"]));
    let id = body["ids"][0].as_i64().unwrap();
    let stored = s
        .store
        .get(id)
        .await
        .unwrap()
        .expect("committed before the answer");
    assert_eq!(stored.message, "Mail server slow");
    assert_eq!(stored.data, Some(json!({"ms": 1500})));
    assert_eq!(
        stored.timestamp.to_rfc3339(),
        "2026-01-31T11:00:00.123456+00:00",
        "UTC, truncated to microseconds"
    );
}

async fn batch_without_groups_shares_one_new_group(db: TestDb) {
    let s = Server::start(db).await;
    let (status, body) = s
        .post(json!([
            {"type": "info", "message": "About to send 1000 mails"},
            {"type": "info", "message": "All emails sent!"},
            {"type": "error", "message": "elsewhere", "group": "Other"},
        ]))
        .await;
    assert_eq!(status, 201, "{body}");
    let groups = body["groups"].as_array().unwrap();
    assert_eq!(groups[0], groups[1]);
    assert_eq!(groups[0].as_str().unwrap().len(), 32, "a random group");
    assert_eq!(groups[2], "Other");
    let (_, again) = s.post(json!([{"type": "info", "message": "x"}])).await;
    assert_ne!(again["groups"][0], groups[0], "a new group per request");
}

async fn one_bad_item_stores_nothing_and_names_the_index(db: TestDb) {
    let s = Server::start(db).await;
    let cases = [
        (
            json!({"type": "nope", "message": "m"}),
            "event type \"nope\" is not configured",
        ),
        (
            json!({"type": "info", "message": "m", "group": "g".repeat(41)}),
            "a group id must be 1 to 40 characters",
        ),
        (
            json!({"type": "info", "message": "m", "initiator": "i".repeat(501)}),
            "an initiator must be at most 500 characters",
        ),
        (json!({"type": "info", "message": ""}), "message is empty"),
        (
            json!({"type": "bad-name", "message": "m"}),
            "is invalid: a type name must match",
        ),
        (
            json!({"type": "info", "message": "m", "timestamp": "yesterday"}),
            "timestamp \"yesterday\" is not an RFC 3339 date-time",
        ),
        (
            json!({"type": "info", "message": "m", "colour": "red"}),
            "unknown field `colour`",
        ),
        (
            json!({"type": "info", "message": "m", "id": "not-a-uuid"}),
            "UUID",
        ),
        (json!({"type": "info"}), "missing field `message`"),
    ];
    for (bad, rule) in cases {
        let batch = json!([
            {"type": "info", "message": "fine 0"},
            {"type": "info", "message": "fine 1"},
            bad,
        ]);
        let (status, body) = s.post(batch).await;
        assert_eq!(status, 400, "{body}");
        assert_eq!(body["index"], 2, "{body}");
        let error = body["error"].as_str().unwrap();
        assert!(error.starts_with("item 2: "), "{error}");
        assert!(error.contains(rule), "{error} should contain {rule}");
    }
    assert_eq!(s.count().await, 0, "nothing of a rejected batch is stored");
    let (status, body) = s.post(json!("just a string")).await;
    assert_eq!(status, 400);
    assert!(
        body["error"]
            .as_str()
            .unwrap()
            .contains("event object or an array")
    );
}

async fn json_lines_batches(db: TestDb) {
    let s = Server::start(db).await;
    let lines = (0..50)
        .map(|i| json!({"type": "info", "message": format!("line {i}"), "group": "nd"}).to_string())
        .collect::<Vec<_>>()
        .join("\n");
    let r = s
        .post_as("application/x-ndjson", format!("{lines}\n\n"))
        .await;
    assert_eq!(r.status(), 201);
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["ids"].as_array().unwrap().len(), 50);
    assert_eq!(s.count().await, 50);

    let bad = format!("{lines}\n{{\"type\": \"info\"");
    let r = s.post_as("application/x-ndjson", bad).await;
    assert_eq!(r.status(), 400);
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["index"], 50);
    assert!(
        body["error"]
            .as_str()
            .unwrap()
            .contains("item 50: the line is not JSON")
    );
    assert_eq!(s.count().await, 50);
}

async fn same_id_twice_stores_one_event(db: TestDb) {
    let s = Server::start(db).await;
    let id = "0193a0b0-0000-7000-8000-000000000001";
    let (st1, first) = s
        .post(json!({"type": "info", "message": "once", "id": id}))
        .await;
    let (st2, second) = s
        .post(json!({"type": "info", "message": "once", "id": id}))
        .await;
    assert_eq!((st1, st2), (201, 201));
    assert_eq!(first["ids"], second["ids"]);
    assert_eq!(
        first["groups"], second["groups"],
        "the stored group, not a new one"
    );
    assert_eq!(s.count().await, 1);
    let (status, by_uuid) = s.get(&format!("/events/{id}")).await;
    assert_eq!(status, 200);
    assert_eq!(by_uuid["id"], first["ids"][0]);
}

/// `n` events of a race's round, each with its own id (the same ids on every call).
fn round_with_ids(round: usize, n: usize) -> Vec<Value> {
    (0..n)
        .map(|i| {
            json!({"type": "info", "message": format!("r{round} e{i}"),
                   "id": format!("0193a0b0-0000-7000-8000-{:06}{:06}", round, i)})
        })
        .collect()
}

async fn racing_duplicate_ids_store_one_event(db: TestDb) {
    let s = Arc::new(Server::start(db).await);
    for round in 0..5 {
        let batch = Value::Array(round_with_ids(round, 20));
        let tasks: Vec<_> = (0..8)
            .map(|_| {
                let (s, batch) = (s.clone(), batch.clone());
                tokio::spawn(async move { s.post(batch).await })
            })
            .collect();
        let mut answers = Vec::new();
        for t in tasks {
            let (status, body) = t.await.unwrap();
            assert_eq!(status, 201, "{body}");
            answers.push(body["ids"].clone());
        }
        assert!(
            answers.windows(2).all(|w| w[0] == w[1]),
            "every racer sees the same ids"
        );
    }
    assert_eq!(s.count().await, 100, "5 rounds × 20 distinct ids");
}

/// Two requests carrying the same 200 ids, one in reverse order, sent at once: on PostgreSQL
/// their transactions lock the same uuids, and must not deadlock each other into a 500.
async fn racing_ids_in_opposite_orders_all_get_201(db: TestDb) {
    let s = Arc::new(Server::start(db).await);
    for round in 0..40 {
        let forward = round_with_ids(round, 200);
        let mut backward = forward.clone();
        backward.reverse();
        let tasks: Vec<_> = [forward, backward]
            .into_iter()
            .map(|batch| {
                let s = s.clone();
                tokio::spawn(async move { s.post(Value::Array(batch)).await })
            })
            .collect();
        for t in tasks {
            let (status, body) = t.await.unwrap();
            assert_eq!(status, 201, "round {round}: {body}");
            assert_eq!(body["ids"].as_array().map(Vec::len), Some(200));
        }
    }
    assert_eq!(s.count().await, 40 * 200);
}

/// A full SQLite database answers 507 `database full` (not a generic 500), and the first
/// request after space returns is stored. `PRAGMA max_page_count` makes the file "full".
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn full_sqlite_database_is_507_and_recovers() {
    let db = TestDb::sqlite();
    let sqlite = Arc::new(
        eventlog::store::sqlite::SqliteStore::connect(db.url())
            .await
            .unwrap(),
    );
    sqlite.migrate().await.unwrap();
    let store: Arc<dyn Backend> = sqlite.clone();
    let token = store
        .create_token("test", eventlog::store::TokenScope::All)
        .await
        .unwrap();
    let state = ApiState::new(store.clone(), EventTypes::default());
    let s = Server::serve(state, store, token, db).await;
    let batch = |tag: &str| {
        Value::Array(
            (0..1_000)
                .map(|i| json!({"type": "info", "message": format!("{tag} {i} {}", "m".repeat(200))}))
                .collect(),
        )
    };
    let (status, _) = s.post(batch("before")).await;
    assert_eq!(status, 201);

    let max_pages = |pages: i64| {
        let sqlite = sqlite.clone();
        async move {
            // The pragma holds per connection: set it on all of them, until a round finds
            // every one set (a connection the pool opened meanwhile gets it too).
            loop {
                let mut held = Vec::new();
                let mut all_set = true;
                for _ in 0..8 {
                    let mut conn = sqlite.pool().acquire().await.unwrap();
                    let now: i64 = sqlx::query_scalar("PRAGMA max_page_count")
                        .fetch_one(&mut *conn)
                        .await
                        .unwrap();
                    if now != pages {
                        all_set = false;
                        sqlx::query(sqlx::AssertSqlSafe(format!(
                            "PRAGMA max_page_count = {pages}"
                        )))
                        .execute(&mut *conn)
                        .await
                        .unwrap();
                    }
                    held.push(conn);
                }
                drop(held);
                if all_set {
                    break;
                }
                tokio::time::sleep(std::time::Duration::from_millis(20)).await;
            }
        }
    };
    let pages: i64 = sqlx::query_scalar("PRAGMA page_count")
        .fetch_one(sqlite.pool())
        .await
        .unwrap();
    max_pages(pages).await;
    for _ in 0..5 {
        let (status, body) = s.post(batch("full")).await;
        assert_eq!(status, 507, "{body}");
        assert_eq!(body, json!({"error": "database full"}));
    }
    max_pages(1_000_000).await;
    let (status, body) = s.post(batch("after")).await;
    assert_eq!(status, 201, "the first request after space returns: {body}");
    assert_eq!(s.count().await, 2_000);
}

async fn body_over_the_limit_is_413(db: TestDb) {
    let s = Server::start_with_limit(db, 10_000).await;
    let big = json!({"type": "info", "message": "x".repeat(20_000)});
    let (status, body) = s.post(big).await;
    assert_eq!(status, 413, "{body}");
    assert_eq!(
        body["error"],
        "the body is larger than the limit of 10000 bytes ([api] body_limit)"
    );
    let (status, _) = s
        .post(json!({"type": "info", "message": "x".repeat(5_000)}))
        .await;
    assert_eq!(status, 201, "under the limit is fine");
    assert_eq!(s.count().await, 1);
}

async fn tokens_are_required_and_revocation_is_immediate(db: TestDb) {
    let s = Server::start(db).await;
    let url = format!("{}/events", s.base);
    let event = json!({"type": "info", "message": "m"});
    let none = s.http.post(&url).json(&event).send().await.unwrap();
    assert_eq!(none.status(), 401);
    assert!(
        none.headers()["www-authenticate"]
            .to_str()
            .unwrap()
            .starts_with("Bearer")
    );
    let body: Value = none.json().await.unwrap();
    assert_eq!(
        body["error"],
        "missing Authorization: Bearer <token> header"
    );

    for (what, refused) in [
        ("a wrong token", s.http.get(&url).bearer_auth("evl_0123")),
        ("basic auth", s.http.get(&url).basic_auth("u", Some("p"))),
    ] {
        assert_eq!(api_client::send(refused).await.status(), 401, "{what}");
    }

    let other = s
        .store
        .create_token("soon-revoked", eventlog::store::TokenScope::All)
        .await
        .unwrap();
    let post_with_other = || s.http.post(&url).bearer_auth(&other).json(&event).send();
    let ok = post_with_other().await.unwrap();
    assert_eq!(ok.status(), 201);
    assert!(s.store.revoke_token("soon-revoked").await.unwrap());
    let revoked = post_with_other().await.unwrap();
    assert_eq!(revoked.status(), 401);
    let body: Value = revoked.json().await.unwrap();
    assert_eq!(body["error"], "invalid or revoked API token");
    assert_eq!(s.count().await, 1);
}

async fn non_json_bodies_are_415(db: TestDb) {
    let s = Server::start(db).await;
    for ct in [
        Some("text/plain"),
        Some("application/x-www-form-urlencoded"),
        None,
    ] {
        let mut req = s
            .api
            .request(Method::POST, "/events")
            .body(r#"{"type":"info","message":"m"}"#);
        if let Some(ct) = ct {
            req = req.header("content-type", ct);
        }
        let r = req.send().await.unwrap();
        assert_eq!(r.status(), 415, "{ct:?}");
        let body: Value = r.json().await.unwrap();
        assert!(body["error"].as_str().unwrap().contains("application/json"));
    }
    let ok = s
        .post_as(
            "application/json; charset=utf-8",
            r#"{"type":"info","message":"m"}"#,
        )
        .await;
    assert_eq!(ok.status(), 201);
    assert_eq!(s.count().await, 1);
}

async fn list_filters_and_cursor_pagination(db: TestDb) {
    let s = Server::start(db).await;
    let batch: Vec<Value> = (0..25)
        .map(|i| {
            json!({
                "type": if i % 5 == 0 { "error" } else { "info" },
                "message": format!("Mail {i}"),
                "group": if i < 10 { "run A" } else { "run B" },
                "initiator": format!("user:{}", i % 3),
                "data": {"customer": {"email": format!("c{}@example.com", i % 2)}},
                "timestamp": format!("2026-01-01T00:00:{i:02}Z"),
            })
        })
        .collect();
    assert_eq!(s.post(Value::Array(batch)).await.0, 201);

    let (status, page) = s.get("/events?type=error").await;
    assert_eq!(status, 200);
    let msgs = api_client::messages(&page);
    assert_eq!(
        msgs,
        ["Mail 20", "Mail 15", "Mail 10", "Mail 5", "Mail 0"],
        "newest first"
    );
    assert_eq!(page["next_cursor"], Value::Null);

    let (_, page) = s
        .get("/events?group=run%20A&type=error&type=info&order=asc&limit=3")
        .await;
    assert_eq!(page["events"][0]["message"], "Mail 0");
    assert_eq!(
        page["events"][0]["timestamp"],
        "2026-01-01T00:00:00.000000Z"
    );
    // Word prefixes: `mail` and `1` each start a word of the message or the initiator, so
    // the initiator's own `1` (of `user:1`) satisfies `1` for every event of it.
    let (_, page) = s.get("/events?q=MAIL%201&initiator=user:1").await;
    let msgs: BTreeSet<_> = api_client::messages(&page).into_iter().collect();
    assert_eq!(
        msgs,
        BTreeSet::from([
            "Mail 1", "Mail 10", "Mail 13", "Mail 16", "Mail 19", "Mail 22", "Mail 4", "Mail 7"
        ])
    );
    let (_, page) = s.get("/events?data.customer.email=c1%40example.com&since=2026-01-01T00:00:20Z&until=2026-01-01T00:00:24Z").await;
    let msgs = api_client::messages(&page);
    assert_eq!(msgs, ["Mail 23", "Mail 21"]);

    // Walk every page of 7: each event once, in order.
    let mut seen = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let path = match &cursor {
            Some(c) => format!("/events?limit=7&cursor={c}"),
            None => "/events?limit=7".into(),
        };
        let (status, page) = s.get(&path).await;
        assert_eq!(status, 200, "{page}");
        seen.extend(api_client::messages(&page).into_iter().map(str::to_owned));
        match page["next_cursor"].as_str() {
            Some(c) => cursor = Some(c.to_owned()),
            None => break,
        }
    }
    let expected: Vec<String> = (0..25).rev().map(|i| format!("Mail {i}")).collect();
    assert_eq!(seen, expected);

    for (query, message) in [
        ("limit=5000", "limit=\"5000\": not a number from 1 to 1000"),
        ("tpye=info", "tpye=\"info\": unknown parameter"),
        (
            "cursor=zz",
            "cursor=\"zz\": not a cursor from a previous page",
        ),
    ] {
        let (status, body) = s.get(&format!("/events?{query}")).await;
        assert_eq!(status, 400);
        assert!(body["error"].as_str().unwrap().contains(message), "{body}");
    }
}

async fn get_event_and_group(db: TestDb) {
    let s = Server::start(db).await;
    let (_, body) = s
        .post(json!([
            {"type": "info", "message": "start", "group": "Order 7", "timestamp": "2026-03-01T10:00:00Z"},
            {"type": "critical", "message": "boom", "group": "Order 7", "timestamp": "2026-03-01T10:00:05Z"},
            {"type": "warning", "message": "meh", "group": "Order 7", "timestamp": "2026-03-01T10:00:03Z"},
        ]))
        .await;
    let id = body["ids"][1].as_i64().unwrap();
    let (status, event) = s.get(&format!("/events/{id}")).await;
    assert_eq!(status, 200);
    assert_eq!(event["message"], "boom");
    assert_eq!(event["type"], "critical");
    let (status, missing) = s.get("/events/999999").await;
    assert_eq!(status, 404);
    assert_eq!(missing["error"], "no event 999999");
    assert_eq!(s.get("/events/banana").await.0, 400);

    let (status, group) = s.get("/groups/Order%207").await;
    assert_eq!(status, 200, "{group}");
    assert_eq!(group["event_count"], 3);
    assert_eq!(group["status"], "critical", "the most severe type");
    let msgs = api_client::messages(&group);
    assert_eq!(msgs, ["start", "meh", "boom"], "time order");
    assert_eq!(group["first_at"], "2026-03-01T10:00:00.000000Z");
    let (status, body) = s.get("/groups/nobody").await;
    assert_eq!(status, 404);
    assert_eq!(body["error"], "no group \"nobody\"");
}

/// Every operation in the document is a route (it does not reach the fallback), and every route
/// is in the document (`router` is built from the same table as the document; probing other
/// method/path pairs reaches the fallback or 405).
async fn openapi_paths_are_the_routes(db: TestDb) {
    let s = Server::start(db).await;
    let r = s
        .http
        .get(format!("{}/openapi.json", s.base))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200, "the document needs no token");
    let doc: Value = r.json().await.unwrap();
    assert!(doc["openapi"].as_str().unwrap().starts_with("3."));
    assert_eq!(doc["servers"][0]["url"], "/api/v1");
    let paths = doc["paths"].as_object().unwrap();
    let mut operations = BTreeSet::new();
    for (path, item) in paths {
        for method in item.as_object().unwrap().keys() {
            operations.insert((method.to_uppercase(), path.clone()));
        }
    }
    let expected: BTreeSet<(String, String)> = [
        ("GET", "/events"),
        ("POST", "/events"),
        ("GET", "/events/{id}"),
        ("GET", "/groups/{group}"),
        ("GET", "/openapi.json"),
    ]
    .into_iter()
    .map(|(m, p)| (m.to_owned(), p.to_owned()))
    .collect();
    assert_eq!(operations, expected);
    for (method, path) in &operations {
        let concrete = path.replace("{id}", "1").replace("{group}", "g");
        let request = s.api.request(method.parse().unwrap(), &concrete);
        let r = api_client::send(
            request
                .header("content-type", "application/json")
                .body("[]"),
        )
        .await;
        let status = r.status().as_u16();
        let body = r.text().await.unwrap();
        assert!(
            status != 405 && !body.contains("no such API route"),
            "{method} {path}: {status} {body}"
        );
    }
    // Routes that do not exist are not served.
    let (status, body) = s.get("/nothing").await;
    assert_eq!(status, 404);
    assert_eq!(body["error"], "no such API route");
    let r = api_client::send(s.api.request(Method::DELETE, "/events/1")).await;
    assert_eq!(
        r.status(),
        405,
        "DELETE is not in the document, so not a route"
    );
    // The list's parameters are the filter language's keys, documented once.
    let params: Vec<&str> = doc["paths"]["/events"]["get"]["parameters"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["name"].as_str().unwrap())
        .collect();
    let keys: Vec<&str> = eventlog::filter::KEYS.iter().map(|k| k.key).collect();
    assert_eq!(params[..keys.len()], keys[..], "{params:?}");
    assert_eq!(params[keys.len()..], ["data.PATH"]);
    // Every documented response schema exists.
    let schemas = doc["components"]["schemas"].as_object().unwrap();
    for name in [
        "EventInput",
        "ApiEvent",
        "IngestResponse",
        "ListResponse",
        "GroupResponse",
        "ApiError",
    ] {
        assert!(schemas.contains_key(name), "{name} missing");
    }
}

/// Concurrent requests (combined into one transaction on SQLite) each get the ids of their own
/// events, in their own order.
async fn concurrent_requests_get_their_own_ids(db: TestDb) {
    let s = Arc::new(Server::start(db).await);
    let tasks: Vec<_> = (0..24)
        .map(|r| {
            let s = s.clone();
            tokio::spawn(async move {
                let batch: Vec<Value> = (0..5)
                    .map(|i| json!({"type": "info", "message": format!("request {r} item {i}")}))
                    .collect();
                (r, s.post(Value::Array(batch)).await)
            })
        })
        .collect();
    let mut groups = BTreeSet::new();
    for t in tasks {
        let (r, (status, body)) = t.await.unwrap();
        assert_eq!(status, 201, "{body}");
        for (i, id) in body["ids"].as_array().unwrap().iter().enumerate() {
            let e = s.store.get(id.as_i64().unwrap()).await.unwrap().unwrap();
            assert_eq!(e.message, format!("request {r} item {i}"));
            assert_eq!(e.group, body["groups"][i].as_str().unwrap());
        }
        groups.insert(body["groups"][0].as_str().unwrap().to_owned());
    }
    assert_eq!(groups.len(), 24, "one new group per request");
    assert_eq!(s.count().await, 120);
}

/// Events given as arrays, keys given twice, blank or control-character groups and messages,
/// and huge bad values: each a 400 that names the rule (quoting at most ~100 characters), and
/// nothing is stored.
async fn malformed_events_are_refused_and_not_echoed(db: TestDb) {
    let s = Server::start(db).await;
    let raw = |body: String, ctype: &'static str| {
        let s = &s;
        async move {
            let r = s.post_as(ctype, body).await;
            (r.status().as_u16(), r.json::<Value>().await.unwrap())
        }
    };
    let json = "application/json";
    for (body, says, index) in [
        (
            r#"[["info","m"]]"#.to_owned(),
            "expected an event object",
            Some(0),
        ),
        (
            r#"[{"type":"info","message":"ok"},["info","m"]]"#.to_owned(),
            "expected an event object",
            Some(1),
        ),
        (
            r#"{"type":"info","type":"error","message":"m"}"#.to_owned(),
            "\"type\" is given twice",
            None,
        ),
        (
            r#"{"type":"info","message":" \t\u0007 "}"#.to_owned(),
            "only spaces or control characters",
            Some(0),
        ),
        (
            r#"{"type":"info","message":"m","group":"   "}"#.to_owned(),
            "only spaces",
            Some(0),
        ),
        (
            r#"{"type":"info","message":"m","group":"a\u0000b"}"#.to_owned(),
            "control character",
            Some(0),
        ),
        (
            r#"{"type":"info","message":"m","group":"a\u001b[2Jb"}"#.to_owned(),
            "control character",
            Some(0),
        ),
        (
            r#"5"#.to_owned(),
            "expected an event object or an array",
            None,
        ),
    ] {
        let (status, answer) = raw(body.clone(), json).await;
        assert_eq!(status, 400, "{body}: {answer}");
        let error = answer["error"].as_str().unwrap();
        assert!(error.contains(says), "{body}: {error}");
        assert_eq!(
            answer["index"].as_u64(),
            index.map(|i| i as u64),
            "{body}: {answer}"
        );
    }
    let (status, answer) = raw("[\"info\",\"m\"]\n".to_owned(), "application/x-ndjson").await;
    assert_eq!(status, 400, "{answer}");
    assert!(
        answer["error"].as_str().unwrap().contains("item 0"),
        "{answer}"
    );
    // A 7 MiB bad value is quoted, not echoed.
    let huge = "x".repeat(7 << 20);
    for body in [
        json!({"type": "info", "message": "m", "group": huge}),
        json!({"type": huge, "message": "m"}),
        json!({"type": "info", "message": "m", "timestamp": huge}),
        json!({"type": "info", "message": "m", "send_mail": huge}),
    ] {
        let (status, answer) = raw(body.to_string(), json).await;
        assert_eq!(status, 400);
        let error = answer["error"].as_str().unwrap();
        assert!(
            error.len() < 1200,
            "{} bytes: {}",
            error.len(),
            &error[..200]
        );
        assert!(error.contains("xxxxxxxx…"), "{}", &error[..200]);
    }
    assert_eq!(s.count().await, 0, "nothing was stored");
}

/// PostgreSQL drops a purged month's partition without deleting its events' idempotency
/// keys (upkeep sweeps them later): until then, sending the id of a purged event again is a
/// repeat of an event no longer stored — `201` with id `0` and nothing stored, never a 5xx.
/// After the sweep the id is new again.
#[tokio::test]
async fn postgres_resent_id_of_a_purged_event_is_201_with_id_0_until_upkeep() {
    use chrono::{Datelike, TimeZone, Utc};
    let db = TestDb::postgres().await;
    let pg = eventlog::store::postgres::PostgresStore::connect(db.url())
        .await
        .unwrap();
    let s = Server::start(db).await;
    let now = Utc::now();
    let month = Utc
        .with_ymd_and_hms(now.year(), now.month(), 1, 0, 0, 0)
        .single()
        .unwrap();
    let old = month - chrono::Duration::days(80);
    pg.create_partitions(old, now).await.unwrap();
    let event = json!({"type": "info", "message": "purged later", "group": "order-1",
        "id": "0193a0b0-0000-7000-8000-00000000abcd",
        "timestamp": old.to_rfc3339()});
    let (status, first) = s.post(event.clone()).await;
    assert_eq!(status, 201, "{first}");
    assert!(first["ids"][0].as_i64().unwrap() > 0);
    // Whole partitions before the current month's: the event's one is dropped.
    assert_eq!(s.store.purge(month, None).await.unwrap(), 1);
    assert_eq!(s.count().await, 0);

    let (status, again) = s.post(event.clone()).await;
    assert_eq!(status, 201, "{again}");
    assert_eq!(again["ids"], json!([0]), "a repeat of a purged event");
    assert_eq!(again["groups"], json!(["order-1"]));
    assert_eq!(s.count().await, 0, "nothing stored");

    while s.store.maintain(10_000).await.unwrap() > 0 {}
    let (status, after) = s.post(event).await;
    assert_eq!(status, 201, "{after}");
    let id = after["ids"][0].as_i64().unwrap();
    assert!(id > first["ids"][0].as_i64().unwrap(), "{after}");
    assert_eq!(s.count().await, 1);
}
