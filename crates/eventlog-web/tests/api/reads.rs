//! Reads: the list with filters and cursors, one event and its group, the OpenAPI document.

use super::*;

eventlog_testing::on_both_backends!(
    db: list_filters_and_cursor_pagination, get_event_and_group, openapi_paths_are_the_routes,
);

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
