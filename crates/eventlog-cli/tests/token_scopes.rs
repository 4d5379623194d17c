//! API token scopes against the real `eventlog serve`, over HTTP, on both backends: tokens made
//! with `eventlog token add --scope …` may do what their scope allows and get `403` (a JSON
//! error naming the scope) for the rest; tokens stored before scopes existed keep full access.

use crate::support;

use std::time::Duration;

use eventlog_testing::api::{self, ApiClient};
use serde_json::Value;
use support::{Serve, ServeSpec, eventlog, http};

/// `eventlog token add NAME [ARGS…]`; the token.
fn token(url: &str, name: &str, args: &[&str]) -> String {
    let mut all = vec!["token", "add", name];
    all.extend_from_slice(args);
    let out = eventlog(url, &all, None);
    assert!(
        out.status.success(),
        "token add failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap().trim().to_owned()
}

/// The API of `eventlog serve` at `server`, to be given a token per request.
struct Api(ApiClient);

impl Api {
    fn of(server: &Serve) -> Api {
        Api(ApiClient::new(
            http(Duration::from_secs(30)),
            server.url("/api/v1"),
            "",
        ))
    }

    /// `POST /events` with `body` (JSON text) and `token`.
    async fn post(&self, token: &str, body: &str) -> (u16, Value) {
        let request = self
            .0
            .with_token(token)
            .request(reqwest::Method::POST, "/events")
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .body(body.to_owned());
        api::status_and_json(api::send(request).await).await
    }

    /// `GET path` with `token`.
    async fn get(&self, token: &str, path: &str) -> (u16, Value) {
        self.0.with_token(token).get_json(path).await
    }
}

fn error(body: &Value) -> &str {
    body["error"].as_str().unwrap_or_default()
}

async fn scopes_limit_what_a_token_may_do(url: &str) {
    let ingest = token(url, "app", &[]); // ingest is the default
    let read = token(url, "dashboard", &["--scope", "read"]);
    let all = token(url, "ops", &["--scope", "all"]);
    let server = Serve::start(ServeSpec::new(url));
    let api = Api::of(&server);
    let event = r#"{"type":"info","message":"hello","group":"g1"}"#;

    // ingest: may record, may not read anything.
    let (status, body) = api.post(&ingest, event).await;
    assert_eq!(status, 201, "{body}");
    let id = body["ids"][0].as_i64().unwrap();
    for path in [
        "/events".to_owned(),
        format!("/events/{id}"),
        "/groups/g1".to_owned(),
    ] {
        let (status, body) = api.get(&ingest, &path).await;
        assert_eq!(status, 403, "GET {path} with an ingest token: {body}");
        let msg = error(&body);
        assert!(
            msg.contains("\"app\" has scope ingest") && msg.contains("read or all"),
            "{msg}"
        );
        assert!(body.get("events").is_none() && body.get("message").is_none());
    }

    // read: may read everything, may not record.
    let (status, body) = api
        .post(
            &read,
            r#"{"type":"info","message":"sneaked in","group":"g2"}"#,
        )
        .await;
    assert_eq!(status, 403, "{body}");
    let msg = error(&body);
    assert!(
        msg.contains("\"dashboard\" has scope read") && msg.contains("ingest or all"),
        "{msg}"
    );
    let (status, body) = api.get(&read, "/events").await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        api::messages(&body),
        ["hello"],
        "the refused POST stored nothing"
    );
    assert_eq!(api.get(&read, &format!("/events/{id}")).await.0, 200);
    assert_eq!(api.get(&read, "/groups/g1").await.0, 200);

    // all: both.
    assert_eq!(api.post(&all, event).await.0, 201);
    assert_eq!(api.get(&all, "/events").await.0, 200);

    // The openapi document needs no token; unknown tokens still get 401, not 403.
    assert_eq!(api.get("evl_nope", "/events").await.0, 401);
}

/// A token stored the way eventlog stored them before scopes (no scope column given) has
/// scope `all`: existing clients keep working after the upgrade, and `token list` says so.
async fn tokens_from_before_scopes_keep_full_access(url: &str) {
    // Migrates the database (and makes one token of the new kind).
    token(url, "new", &[]);
    let secret = format!("evl_{}", "ab".repeat(32));
    let hash = eventlog::store::tokens::hash_token(&secret);
    let insert = "INSERT INTO api_tokens (name, token_hash, created_at) VALUES ($1, $2, $3)";
    if url.starts_with("sqlite:") {
        let pool = sqlx::SqlitePool::connect(url).await.unwrap();
        sqlx::query(insert)
            .bind("legacy")
            .bind(&hash)
            .bind(0_i64)
            .execute(&pool)
            .await
            .unwrap();
        pool.close().await;
    } else {
        let pool = sqlx::PgPool::connect(url).await.unwrap();
        sqlx::query(insert)
            .bind("legacy")
            .bind(&hash)
            .bind(chrono::Utc::now())
            .execute(&pool)
            .await
            .unwrap();
        pool.close().await;
    }
    let list = eventlog(url, &["token", "list"], None);
    let list = String::from_utf8(list.stdout).unwrap();
    let legacy = list.lines().find(|l| l.starts_with("legacy")).unwrap();
    assert!(legacy.contains(" all "), "{list}");

    let server = Serve::start(ServeSpec::new(url));
    let api = Api::of(&server);
    let (status, body) = api
        .post(&secret, r#"{"type":"info","message":"old client"}"#)
        .await;
    assert_eq!(status, 201, "{body}");
    let (status, body) = api.get(&secret, "/events").await;
    assert_eq!(status, 200, "{body}");
}

eventlog_testing::on_both_backends!(
    scopes_limit_what_a_token_may_do,
    tokens_from_before_scopes_keep_full_access
);
