//! `[limits] message_bytes` and `data_bytes` against the real `eventlog serve`, over HTTP, on
//! both backends: an event past a cap gets `400` naming the cap and its value, and nothing of
//! its batch is stored; events at the cap are stored.

use crate::support;

use std::time::Duration;

use eventlog_testing::api::{ApiClient, status_and_json};
use serde_json::{Value, json};
use support::{Serve, ServeSpec, eventlog, http};

fn all_token(url: &str) -> String {
    let out = eventlog(url, &["token", "add", "limits", "--scope", "all"], None);
    eventlog_testing::process::assert_success(&out);
    String::from_utf8(out.stdout).unwrap().trim().to_owned()
}

/// The API of `server` with an `all` token.
fn api(url: &str, server: &Serve) -> ApiClient {
    ApiClient::new(
        http(Duration::from_secs(30)),
        server.url("/api/v1"),
        all_token(url),
    )
}

async fn post(api: &ApiClient, body: &Value) -> (u16, Value) {
    status_and_json(api.post_json("/events", body).await).await
}

/// Posts `body`, expects `400` with an error message containing every one of `says`; the
/// response body.
async fn refused(api: &ApiClient, body: &Value, says: &[&str]) -> Value {
    let (status, body) = post(api, body).await;
    assert_eq!(status, 400, "{body}");
    let msg = body["error"].as_str().unwrap();
    for part in says {
        assert!(msg.contains(part), "{part:?} missing from {msg}");
    }
    body
}

async fn stored(api: &ApiClient) -> usize {
    let (status, body) = api.get_json("/events?limit=1000").await;
    assert_eq!(status, 200, "{body}");
    eventlog_testing::api::messages(&body).len()
}

async fn configured_caps_are_enforced_by_the_api(url: &str) {
    let server = Serve::start(ServeSpec {
        config: "[limits]\nmessage_bytes = 100\ndata_bytes = 50\n",
        ..ServeSpec::new(url)
    });
    let api = api(url, &server);

    // At the caps: stored. 50 "é" are 100 bytes of UTF-8; the data is 50 bytes as JSON.
    let at_cap = json!({"type": "info", "message": "é".repeat(50),
                        "data": {"k": "x".repeat(42)}});
    assert_eq!(
        serde_json::to_string(&at_cap["data"]).unwrap().len(),
        50,
        "the data is exactly at the cap"
    );
    let (status, body) = post(&api, &at_cap).await;
    assert_eq!(status, 201, "{body}");

    // One byte more: 400 naming the cap and its value; the whole batch is refused.
    let batch = json!([
        {"type": "info", "message": "fine"},
        {"type": "info", "message": format!("{}a", "é".repeat(50))},
    ]);
    let body = refused(
        &api,
        &batch,
        &[
            "message is 101 bytes",
            "[limits] message_bytes allows at most 100 bytes",
        ],
    )
    .await;
    assert_eq!(body["index"], 1, "{body}");

    let big_data = json!({"type": "info", "message": "m", "data": {"k": "x".repeat(43)}});
    refused(
        &api,
        &big_data,
        &["data is 51 bytes", "[limits] data_bytes allows at most 50"],
    )
    .await;
    assert_eq!(
        stored(&api).await,
        1,
        "only the event at the caps is stored"
    );
}

/// Without a `[limits]` section the caps are 64 KiB of message and 256 KiB of data: a 1 MiB
/// message, well inside the 8 MiB body limit, is refused with the default named.
async fn default_caps_refuse_huge_events(url: &str) {
    let server = Serve::start(ServeSpec::new(url));
    let api = api(url, &server);
    let huge = json!({"type": "info", "message": "a".repeat(1 << 20)});
    let body = refused(&api, &huge, &["message_bytes allows at most 65536 bytes"]).await;
    let msg = body["error"].as_str().unwrap();
    assert!(
        msg.len() < 300,
        "the message is not echoed: {} bytes",
        msg.len()
    );
    let huge = json!({"type": "info", "message": "m", "data": {"k": "a".repeat(300_000)}});
    refused(&api, &huge, &["data_bytes allows at most 262144 bytes"]).await;
    let fine = json!({"type": "info", "message": "a".repeat(65_536)});
    assert_eq!(post(&api, &fine).await.0, 201);
    assert_eq!(stored(&api).await, 1);
}

eventlog_testing::on_both_backends!(
    configured_caps_are_enforced_by_the_api,
    default_caps_refuse_huge_events
);
