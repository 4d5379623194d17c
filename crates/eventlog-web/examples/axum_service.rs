//! An axum service that records events and mounts the eventlog admin under
//! `/admin/eventlog`, authenticated by the service itself (here: a fixed header, standing in
//! for the service's own login).
//!
//! Run with: `cargo run -p eventlog-web --example axum_service` and open
//! <http://127.0.0.1:3000/>; `POST /orders` records an order's events.
//! With `--self-test` it binds a free port, places an order through HTTP, reads it back in the
//! admin, and exits (CI runs it that way).

use std::sync::Arc;

use async_trait::async_trait;
use axum::extract::State;
use axum::http::request::Parts;
use axum::routing::{get, post};
use axum::{Json, Router};
use eventlog::EventLog;
use eventlog::store::Role;
use eventlog_web::auth::host::{HostAuth, HostUser};
use serde_json::json;

/// The service's own notion of a logged-in user: anyone with `x-staff` is staff.
struct StaffOnly;

#[async_trait]
impl HostAuth for StaffOnly {
    async fn user(&self, parts: &Parts) -> Option<HostUser> {
        let name = parts.headers.get("x-staff")?.to_str().ok()?;
        Some(HostUser {
            name: name.to_owned(),
            role: Role::Admin,
        })
    }
}

#[derive(Clone)]
struct Shop {
    log: EventLog,
}

/// The service's error type: any eventlog error converts into it with `?`.
struct ShopError(eventlog::Error);

impl<E: Into<eventlog::Error>> From<E> for ShopError {
    fn from(e: E) -> Self {
        ShopError(e.into())
    }
}

impl axum::response::IntoResponse for ShopError {
    fn into_response(self) -> axum::response::Response {
        let status = match self.0 {
            eventlog::Error::Invalid(_) => axum::http::StatusCode::BAD_REQUEST,
            _ => axum::http::StatusCode::INTERNAL_SERVER_ERROR,
        };
        (status, self.0.to_string()).into_response()
    }
}

async fn place_order(
    State(shop): State<Shop>,
    Json(order): Json<serde_json::Value>,
) -> Result<Json<serde_json::Value>, ShopError> {
    let id = order["id"].as_u64().unwrap_or(0);
    let e = shop
        .log
        .group_named(format!("Order {id}"))?
        .initiator("shop-web");
    e.info("Order placed").data(&order).await?;
    e.info("Payment captured").await?;
    Ok(Json(json!({"order": id, "group": e.id().as_str()})))
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let self_test = std::env::args().any(|a| a == "--self-test");
    let url =
        std::env::var("EVENTLOG_DATABASE_URL").unwrap_or_else(|_| "sqlite://eventlog.db".into());

    // Recording: the batching writer. Reading: the admin, on the log's own store (one
    // connection pool for both).
    let log = EventLog::open(&url).await?;
    let admin = eventlog_web::AppState::builder_from_log(&log)
        .host_auth(Arc::new(StaffOnly))
        .build();

    let app = Router::new()
        .route(
            "/",
            get(|| async { "Shop. POST /orders; the event log is at /admin/eventlog/" }),
        )
        .route("/orders", post(place_order))
        .with_state(Shop { log: log.clone() })
        // `nest_service` answers `/admin/eventlog` and `/admin/eventlog/` alike (`nest`
        // would match only the first).
        .nest_service("/admin/eventlog", eventlog_web::app(admin));

    let bind = if self_test {
        "127.0.0.1:0"
    } else {
        "127.0.0.1:3000"
    };
    let listener = tokio::net::TcpListener::bind(bind).await?;
    let addr = listener.local_addr()?;
    println!("shop on http://{addr}/, event log on http://{addr}/admin/eventlog/");
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(eventlog_web::serve(listener, app, async move {
        let _ = stop_rx.await;
    }));

    if self_test {
        let http = reqwest::Client::new();
        let placed: serde_json::Value = http
            .post(format!("http://{addr}/orders"))
            .json(&json!({"id": 4711, "items": [1, 2]}))
            .send()
            .await?
            .json()
            .await?;
        assert_eq!(placed["group"], "Order 4711");
        log.flush().await?;
        let page = http
            .get(format!(
                "http://{addr}/admin/eventlog/events?group=Order%204711"
            ))
            .header("x-staff", "ci")
            .send()
            .await?
            .text()
            .await?;
        assert!(
            page.contains("Payment captured"),
            "the admin lists the order's events"
        );
        // The URL printed above, with its trailing slash, opens the list.
        let home = http
            .get(format!("http://{addr}/admin/eventlog/"))
            .header("x-staff", "ci")
            .send()
            .await?;
        assert_eq!(
            home.status().as_u16(),
            200,
            "the printed URL opens the admin"
        );
        assert!(home.url().path().ends_with("/admin/eventlog/events"));
        let anonymous = http
            .get(format!("http://{addr}/admin/eventlog/events"))
            .send()
            .await?;
        assert_eq!(anonymous.status().as_u16(), 403, "not staff: no admin");
        println!("self-test passed");
    } else {
        tokio::signal::ctrl_c().await?;
    }
    let _ = stop_tx.send(());
    server.await??;
    log.close().await?;
    Ok(())
}
