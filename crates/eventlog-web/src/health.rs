//! `/healthz` (the server and its database answer) and `/livez` (the process answers).

use std::sync::Arc;
use std::time::Duration;

use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use eventlog::store::ReadStore;

use crate::AppState;

/// Longest `/healthz` waits for the database, so that a frozen database server makes the
/// check fail instead of hang.
const DATABASE_CHECK: Duration = Duration::from_secs(3);

/// `GET /healthz`: `200 ok` when the database (and the read replica, when one is configured)
/// answers a query, otherwise `503` with `Retry-After` and `database unavailable`. For load
/// balancers and container health checks.
pub async fn healthz(State(state): State<AppState>) -> Response {
    let mut checks: Vec<(&str, Arc<dyn ReadStore>)> = vec![("database", state.store().clone())];
    if let Some(replica) = state.replica() {
        checks.push(("read replica", replica.clone()));
    }
    for (role, store) in checks {
        match tokio::time::timeout(DATABASE_CHECK, store.get(0)).await {
            Ok(Ok(_)) => {}
            Ok(Err(e)) => {
                tracing::warn!(error = %e, "health check: {role} unavailable");
                return unavailable();
            }
            Err(_) => {
                tracing::warn!("health check: {role} did not answer within {DATABASE_CHECK:?}");
                return unavailable();
            }
        }
    }
    "ok".into_response()
}

fn unavailable() -> Response {
    (
        StatusCode::SERVICE_UNAVAILABLE,
        [(header::RETRY_AFTER, "5")],
        "database unavailable",
    )
        .into_response()
}

/// `GET /livez`: `200 ok` while the process serves requests, whatever the database does.
pub async fn livez() -> &'static str {
    "ok"
}
