//! `/healthz` (the database that takes writes answers), `/healthz/reads` (the database that
//! answers reads: the replica when one is configured) and `/livez` (the process answers).

use std::sync::Arc;
use std::time::Duration;

use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};

use eventlog::store::ListingQuery;

use crate::AppState;

/// Longest `/healthz` waits for the database, so that a frozen database server makes the
/// check fail instead of hang.
const DATABASE_CHECK: Duration = Duration::from_secs(3);

/// `GET /healthz`: `200 ok` when the database that takes writes answers a query, otherwise
/// `503` with `Retry-After` and `database unavailable`. For load balancers that send ingest and
/// for container health checks: a read replica that is down does not stop ingest, so it does
/// not fail this check (see [`healthz_reads`]).
pub async fn healthz(State(state): State<AppState>) -> Response {
    let primary: Arc<dyn ListingQuery> = state.store().clone();
    check("database", &primary).await
}

/// `GET /healthz/reads`: `200 ok` when the database that answers reads (the read replica, when
/// one is configured; the database otherwise) answers a query, otherwise `503`. For load
/// balancers that route the admin and the read API.
pub async fn healthz_reads(State(state): State<AppState>) -> Response {
    let role = if state.replica().is_some() {
        "read replica"
    } else {
        "database"
    };
    check(role, state.reads()).await
}

async fn check(role: &str, store: &Arc<dyn ListingQuery>) -> Response {
    match tokio::time::timeout(DATABASE_CHECK, store.get(0)).await {
        Ok(Ok(_)) => "ok".into_response(),
        Ok(Err(e)) => {
            tracing::warn!(error = %e, "health check: {role} unavailable");
            unavailable()
        }
        Err(_) => {
            tracing::warn!("health check: {role} did not answer within {DATABASE_CHECK:?}");
            unavailable()
        }
    }
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
