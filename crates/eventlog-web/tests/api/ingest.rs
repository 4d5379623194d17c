//! Ingest: commits before 201, batches, idempotency keys under races, purged ids.

use super::*;

eventlog_testing::on_both_backends!(
    db: single_event_is_committed_before_201, batch_without_groups_shares_one_new_group,
    one_bad_item_stores_nothing_and_names_the_index, json_lines_batches,
    same_id_twice_stores_one_event, racing_duplicate_ids_store_one_event,
    racing_ids_in_opposite_orders_all_get_201, concurrent_requests_get_their_own_ids,
);

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
