//! `[limits] message_bytes` and `data_bytes` against the real `eventlog serve`, over HTTP, on
//! both backends: an event past a cap gets `400` naming the cap and its value, and nothing of
//! its batch is stored; events at the cap are stored.

use crate::support;

use std::time::Duration;

use serde_json::{Value, json};
use support::{Serve, ServeSpec, eventlog, http};

fn all_token(url: &str) -> String {
    let out = eventlog(url, &["token", "add", "limits", "--scope", "all"], None);
    eventlog_testing::process::assert_success(&out);
    String::from_utf8(out.stdout).unwrap().trim().to_owned()
}

async fn post(client: &reqwest::Client, server: &Serve, token: &str, body: &Value) -> (u16, Value) {
    let resp = client
        .post(server.url("/api/v1/events"))
        .bearer_auth(token)
        .json(body)
        .send()
        .await
        .unwrap();
    (resp.status().as_u16(), resp.json().await.unwrap())
}

async fn stored(client: &reqwest::Client, server: &Serve, token: &str) -> usize {
    let resp = client
        .get(server.url("/api/v1/events?limit=1000"))
        .bearer_auth(token)
        .send()
        .await
        .unwrap();
    let body: Value = resp.json().await.unwrap();
    body["events"].as_array().unwrap().len()
}

async fn configured_caps_are_enforced_by_the_api(url: &str) {
    let token = all_token(url);
    let server = Serve::start(ServeSpec {
        config: "[limits]\nmessage_bytes = 100\ndata_bytes = 50\n",
        ..ServeSpec::new(url)
    });
    let client = http(Duration::from_secs(30));

    // At the caps: stored. 50 "é" are 100 bytes of UTF-8; the data is 50 bytes as JSON.
    let at_cap = json!({"type": "info", "message": "é".repeat(50),
                        "data": {"k": "x".repeat(42)}});
    assert_eq!(
        serde_json::to_string(&at_cap["data"]).unwrap().len(),
        50,
        "the data is exactly at the cap"
    );
    let (status, body) = post(&client, &server, &token, &at_cap).await;
    assert_eq!(status, 201, "{body}");

    // One byte more: 400 naming the cap and its value; the whole batch is refused.
    let batch = json!([
        {"type": "info", "message": "fine"},
        {"type": "info", "message": format!("{}a", "é".repeat(50))},
    ]);
    let (status, body) = post(&client, &server, &token, &batch).await;
    assert_eq!(status, 400, "{body}");
    assert_eq!(body["index"], 1, "{body}");
    let msg = body["error"].as_str().unwrap();
    assert!(
        msg.contains("message is 101 bytes")
            && msg.contains("[limits] message_bytes allows at most 100 bytes"),
        "{msg}"
    );

    let big_data = json!({"type": "info", "message": "m", "data": {"k": "x".repeat(43)}});
    let (status, body) = post(&client, &server, &token, &big_data).await;
    assert_eq!(status, 400, "{body}");
    let msg = body["error"].as_str().unwrap();
    assert!(
        msg.contains("data is 51 bytes") && msg.contains("[limits] data_bytes allows at most 50"),
        "{msg}"
    );
    assert_eq!(
        stored(&client, &server, &token).await,
        1,
        "only the event at the caps is stored"
    );
}

/// Without a `[limits]` section the caps are 64 KiB of message and 256 KiB of data: a 1 MiB
/// message, well inside the 8 MiB body limit, is refused with the default named.
async fn default_caps_refuse_huge_events(url: &str) {
    let token = all_token(url);
    let server = Serve::start(ServeSpec::new(url));
    let client = http(Duration::from_secs(30));
    let huge = json!({"type": "info", "message": "a".repeat(1 << 20)});
    let (status, body) = post(&client, &server, &token, &huge).await;
    assert_eq!(status, 400);
    let msg = body["error"].as_str().unwrap();
    assert!(
        msg.contains("message_bytes allows at most 65536 bytes"),
        "{msg}"
    );
    assert!(
        msg.len() < 300,
        "the message is not echoed: {} bytes",
        msg.len()
    );
    let huge = json!({"type": "info", "message": "m", "data": {"k": "a".repeat(300_000)}});
    let (status, body) = post(&client, &server, &token, &huge).await;
    assert_eq!(status, 400);
    let msg = body["error"].as_str().unwrap();
    assert!(
        msg.contains("data_bytes allows at most 262144 bytes"),
        "{msg}"
    );
    let fine = json!({"type": "info", "message": "a".repeat(65_536)});
    assert_eq!(post(&client, &server, &token, &fine).await.0, 201);
    assert_eq!(stored(&client, &server, &token).await, 1);
}

macro_rules! both {
    ($($name:ident),*) => {
        mod sqlite { $( #[tokio::test] async fn $name() { let db = eventlog_testing::TestDb::sqlite(); super::$name(db.url()).await } )* }
        mod postgres { $( #[tokio::test] async fn $name() { let db = eventlog_testing::TestDb::postgres().await; super::$name(db.url()).await } )* }
    };
}
both!(
    configured_caps_are_enforced_by_the_api,
    default_caps_refuse_huge_events
);
