//! What the API refuses, and how: a full disk, oversized and non-JSON bodies, missing or revoked tokens, malformed events.

use super::*;

eventlog_testing::on_both_backends!(
    db: body_over_the_limit_is_413, tokens_are_required_and_revocation_is_immediate,
    non_json_bodies_are_415, malformed_events_are_refused_and_not_echoed,
);

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
