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
    /// A storage failure: logged, shown as a generic 500 (or as `503` "database
    /// unavailable" when it is transient: unreachable, restarting, pool timed out, busy).
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
    #[error("the database is unavailable; try again in a few seconds")]
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

impl AppError {
    /// Why the request got `503`, if it did.
    pub fn unavailable(&self) -> Option<Unavailable> {
        match self {
            AppError::Unavailable(reason) => Some(*reason),
            AppError::Store(e) if e.is_transient() => Some(Unavailable::Database),
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
        let status = match &self {
            AppError::NotFound => StatusCode::NOT_FOUND,
            AppError::BadRequest(_) => StatusCode::BAD_REQUEST,
            AppError::Store(StoreError::InvalidCursor(_)) => StatusCode::BAD_REQUEST,
            AppError::Forbidden | AppError::Csrf | AppError::UntrustedProxyHeader(_) => {
                StatusCode::FORBIDDEN
            }
            AppError::TooManyRequests(_) | AppError::TooManyStreams(_) => {
                StatusCode::TOO_MANY_REQUESTS
            }
            AppError::LoginRequired(url) => return Redirect::to(url).into_response(),
            AppError::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
            AppError::Store(e) if e.is_transient() => StatusCode::SERVICE_UNAVAILABLE,
            AppError::Store(_) | AppError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        };
        let message = match &self {
            AppError::Store(StoreError::InvalidCursor(_)) => "invalid pagination cursor".to_owned(),
            AppError::Store(e) if e.is_transient() => {
                tracing::warn!(error = %e, "database unavailable while answering a request");
                Unavailable::Database.to_string()
            }
            AppError::Store(e) => {
                tracing::error!(error = %e, "storage error while answering a request");
                "Something went wrong on the server; the details are in its log.".to_owned()
            }
            AppError::Internal(e) => {
                tracing::error!(error = %e, "internal error while answering a request");
                "Something went wrong on the server; the details are in its log.".to_owned()
            }
            other => other.to_string(),
        };
        let page = ErrorPage {
            status: status.as_u16(),
            title: status.canonical_reason().unwrap_or("Error"),
            message,
        };
        let body = page.render().unwrap_or_else(|_| "error".to_owned());
        let mut resp = (status, Html(body)).into_response();
        if let AppError::TooManyRequests(wait) = &self {
            // Whole seconds, rounded up, at least 1.
            let secs = wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
            resp.headers_mut()
                .insert(header::RETRY_AFTER, header::HeaderValue::from(secs.max(1)));
        }
        if let Some(reason) = self.unavailable() {
            resp.headers_mut().insert(
                header::RETRY_AFTER,
                header::HeaderValue::from(reason.retry_after()),
            );
        }
        resp
    }
}
