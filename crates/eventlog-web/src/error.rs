//! One error type for every handler; database text never reaches a client.

use askama::Template;
use axum::http::{StatusCode, header};
use axum::response::{Html, IntoResponse, Redirect, Response};
use eventlog::StoreError;

/// What can go wrong while answering a request.
#[derive(Debug, thiserror::Error)]
pub enum AppError {
    /// No such event (or page).
    #[error("not found")]
    NotFound,
    /// A query or form value that does not parse; the message names the parameter.
    #[error("{0}")]
    BadRequest(String),
    /// Logged in, but the role does not allow it (viewer deleting).
    #[error("only admins may do this")]
    Forbidden,
    /// A header of the authenticating proxy (`[server.proxy_auth]`, named here) from an
    /// address that is not a trusted proxy: refused, whatever else the request carries.
    #[error(
        "the {0} header is only accepted from the authenticating proxy; this address is not one"
    )]
    UntrustedProxyHeader(String),
    /// A POST without the session's CSRF token.
    #[error(
        "the form is stale or was not sent by this site (CSRF token mismatch); reload the page and try again"
    )]
    Csrf,
    /// No valid session: redirect to the login page at this URL.
    #[error("login required")]
    LoginRequired(String),
    /// Too many login attempts; the client may retry after the duration (`Retry-After`).
    #[error("too many attempts; wait a few seconds and try again")]
    TooManyRequests(std::time::Duration),
    /// A limit on open live-tail streams refuses another (`429`); the message says which.
    #[error("{0}")]
    TooManyStreams(String),
    /// The request cannot be served now; the client should retry after a few seconds
    /// (`503` with `Retry-After`).
    #[error("{0}")]
    Unavailable(Unavailable),
    /// A storage failure, answered as [`StoreFailure::of`] says: `503` when transient,
    /// `507` when the disk is full, else a generic `500`; logged.
    #[error("storage error")]
    Store(#[from] StoreError),
    /// Any other server-side failure: logged, shown as a generic 500.
    #[error("internal error")]
    Internal(String),
}

/// Why a request is refused with `503`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Unavailable {
    /// The database cannot be reached (or is busy) right now.
    #[error("{}", Unavailable::DATABASE)]
    Database,
    /// Too many request bytes are being received at once (`[api] max_inflight_bytes`).
    #[error("the server is receiving too much data at once; try again in a moment")]
    Busy,
    /// The response did not start within `[server] request_timeout`.
    #[error("the request took too long; try again in a few seconds")]
    Timeout,
    /// As many password checks as there are CPUs are running (login flood).
    #[error("too many logins are being checked at once; try again in a moment")]
    LoginChecks,
}

impl Unavailable {
    /// What [`Unavailable::Database`] says.
    const DATABASE: &'static str = "the database is unavailable; try again in a few seconds";

    /// Seconds for `Retry-After`.
    fn retry_after(self) -> u32 {
        match self {
            Unavailable::Database | Unavailable::Timeout => 5,
            Unavailable::Busy | Unavailable::LoginChecks => 1,
        }
    }
}

/// `503` with `Retry-After` and `{"error": "…"}`: how the API (and any client asking
/// for JSON) is told to come back later.
pub fn unavailable_json(reason: Unavailable) -> Response {
    let mut resp = (
        StatusCode::SERVICE_UNAVAILABLE,
        axum::Json(serde_json::json!({ "error": reason.to_string() })),
    )
        .into_response();
    resp.headers_mut().insert(
        header::RETRY_AFTER,
        header::HeaderValue::from(reason.retry_after()),
    );
    resp
}

/// How a request that failed on the store is answered, by the pages and the API alike.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoreFailure {
    /// The status.
    pub status: StatusCode,
    /// Seconds for `Retry-After`, when trying again may help.
    pub retry_after: Option<u32>,
    /// What the client is told: never the database's own text.
    pub message: &'static str,
}

/// Shown while the database is damaged: what the operator must run.
const DAMAGED: &str = "database damaged — run `eventlog check` on the server";

/// Shown for a store failure the client cannot act on; the details are logged.
const SERVER_FAULT: &str = "Something went wrong on the server; the details are in its log.";

impl StoreFailure {
    /// The answer to `e`, logged here (once, whoever answers):
    /// - a bad pagination cursor: `400`;
    /// - a full disk: `507` with `Retry-After` (checked before transient: a full disk is
    ///   both, and deleting or purging events makes room);
    /// - damaged data (a corrupt page or index): `503` naming `eventlog check`, no
    ///   `Retry-After` (waiting does not repair it);
    /// - unreachable, restarting, busy, pool timed out: `503` with `Retry-After`;
    /// - anything else: a generic `500`.
    pub fn of(e: &StoreError) -> Self {
        if let StoreError::InvalidCursor(_) = e {
            return StoreFailure {
                status: StatusCode::BAD_REQUEST,
                retry_after: None,
                message: "invalid pagination cursor",
            };
        }
        if e.is_full() {
            tracing::error!(error = %e, "the database is full while answering a request");
            return StoreFailure {
                status: StatusCode::INSUFFICIENT_STORAGE,
                retry_after: Some(Unavailable::Database.retry_after()),
                message: "database full",
            };
        }
        if e.is_damaged() {
            tracing::error!(error = %e, "the database is damaged: run `eventlog check`");
            return StoreFailure {
                status: StatusCode::SERVICE_UNAVAILABLE,
                retry_after: None,
                message: DAMAGED,
            };
        }
        if e.is_transient() {
            tracing::warn!(error = %e, "database unavailable while answering a request");
            return StoreFailure {
                status: StatusCode::SERVICE_UNAVAILABLE,
                retry_after: Some(Unavailable::Database.retry_after()),
                message: Unavailable::DATABASE,
            };
        }
        tracing::error!(error = %e, "storage error while answering a request");
        StoreFailure {
            status: StatusCode::INTERNAL_SERVER_ERROR,
            retry_after: None,
            message: SERVER_FAULT,
        }
    }

    /// Sets `Retry-After` on `resp` when trying again may help.
    pub fn set_retry_after(&self, resp: &mut Response) {
        if let Some(secs) = self.retry_after {
            resp.headers_mut()
                .insert(header::RETRY_AFTER, header::HeaderValue::from(secs));
        }
    }
}

impl AppError {
    /// Why the request got `503`, if it did.
    pub fn unavailable(&self) -> Option<Unavailable> {
        match self {
            AppError::Unavailable(reason) => Some(*reason),
            AppError::Store(e) if e.is_transient() && !e.is_full() => Some(Unavailable::Database),
            _ => None,
        }
    }
}

#[derive(Template)]
#[template(path = "error.html")]
struct ErrorPage<'a> {
    status: u16,
    title: &'a str,
    message: String,
}

impl IntoResponse for AppError {
    fn into_response(self) -> Response {
        if let AppError::Store(e) = &self {
            let failure = StoreFailure::of(e);
            let mut resp = error_page(failure.status, failure.message.to_owned());
            failure.set_retry_after(&mut resp);
            return resp;
        }
        let status = match &self {
            AppError::NotFound => StatusCode::NOT_FOUND,
            AppError::BadRequest(_) => StatusCode::BAD_REQUEST,
            AppError::Forbidden | AppError::Csrf | AppError::UntrustedProxyHeader(_) => {
                StatusCode::FORBIDDEN
            }
            AppError::TooManyRequests(_) | AppError::TooManyStreams(_) => {
                StatusCode::TOO_MANY_REQUESTS
            }
            AppError::LoginRequired(url) => return Redirect::to(url).into_response(),
            AppError::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
            AppError::Store(_) | AppError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        };
        let message = match &self {
            AppError::Internal(e) => {
                tracing::error!(error = %e, "internal error while answering a request");
                SERVER_FAULT.to_owned()
            }
            other => other.to_string(),
        };
        let mut resp = error_page(status, message);
        if let AppError::TooManyRequests(wait) = &self {
            // Whole seconds, rounded up, at least 1.
            let secs = wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
            resp.headers_mut()
                .insert(header::RETRY_AFTER, header::HeaderValue::from(secs.max(1)));
        }
        if let AppError::Unavailable(reason) = &self {
            resp.headers_mut().insert(
                header::RETRY_AFTER,
                header::HeaderValue::from(reason.retry_after()),
            );
        }
        resp
    }
}

/// The HTML error page.
fn error_page(status: StatusCode, message: String) -> Response {
    let page = ErrorPage {
        status: status.as_u16(),
        title: status.canonical_reason().unwrap_or("Error"),
        message,
    };
    let body = page.render().unwrap_or_else(|_| "error".to_owned());
    (status, Html(body)).into_response()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::ApiError;

    /// A real `SQLITE_FULL`: a database capped at two pages asked to store 100 kB.
    async fn full_disk() -> StoreError {
        let pool = sqlx::sqlite::SqlitePoolOptions::new()
            .max_connections(1)
            .connect("sqlite::memory:")
            .await
            .unwrap();
        sqlx::query("CREATE TABLE t (b BLOB)")
            .execute(&pool)
            .await
            .unwrap();
        sqlx::query("PRAGMA max_page_count = 2")
            .execute(&pool)
            .await
            .unwrap();
        let err = sqlx::query("INSERT INTO t VALUES (zeroblob(100000))")
            .execute(&pool)
            .await
            .expect_err("the database is full");
        StoreError::from(err)
    }

    /// Status and `Retry-After` of the page's and the API's answer to the same error.
    fn answers(mut make: impl FnMut() -> StoreError) -> [(StatusCode, Option<u32>); 2] {
        let retry = |r: &Response| {
            r.headers()
                .get(header::RETRY_AFTER)
                .map(|v| v.to_str().unwrap().parse().unwrap())
        };
        let page = AppError::Store(make()).into_response();
        let api = ApiError::from(make()).into_response();
        [(page.status(), retry(&page)), (api.status(), retry(&api))]
    }

    #[tokio::test]
    async fn a_full_disk_is_507_with_retry_after_on_pages_and_api() {
        let e = full_disk().await;
        assert!(e.is_full() && e.is_transient(), "{e}");
        let failure = StoreFailure::of(&e);
        assert_eq!(failure.status, StatusCode::INSUFFICIENT_STORAGE);
        assert_eq!(failure.message, "database full");
        let mut errors = vec![full_disk().await, full_disk().await];
        let answered = answers(|| {
            errors
                .pop()
                .unwrap_or(StoreError::InvalidCursor(String::new()))
        });
        for (status, retry) in answered {
            assert_eq!(status, StatusCode::INSUFFICIENT_STORAGE);
            assert_eq!(retry, Some(5));
        }
    }

    #[test]
    fn pages_and_api_answer_every_store_error_alike() {
        let unavailable = || StoreError::from(sqlx::Error::PoolTimedOut);
        assert_eq!(
            answers(unavailable),
            [(StatusCode::SERVICE_UNAVAILABLE, Some(5)); 2]
        );
        let cursor = || StoreError::InvalidCursor("zz".to_owned());
        assert_eq!(answers(cursor), [(StatusCode::BAD_REQUEST, None); 2]);
        let broken = || StoreError::from(sqlx::Error::RowNotFound);
        assert_eq!(
            answers(broken),
            [(StatusCode::INTERNAL_SERVER_ERROR, None); 2]
        );
        assert_eq!(StoreFailure::of(&broken()).message, SERVER_FAULT);
    }
}
