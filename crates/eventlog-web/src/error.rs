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
    /// A POST without the session's CSRF token.
    #[error(
        "the form is stale or was not sent by this site (CSRF token mismatch); reload the page and try again"
    )]
    Csrf,
    /// No valid session: redirect to the login page at this URL.
    #[error("login required")]
    LoginRequired(String),
    /// Too many login attempts (or streams); the client may retry after the duration.
    #[error("too many attempts; wait a few seconds and try again")]
    TooManyRequests(std::time::Duration),
    /// The server is at a capacity limit (e.g. password checks running at once); the client
    /// may retry after the duration.
    #[error("the server is busy; try again in a moment")]
    Busy(std::time::Duration),
    /// A storage failure: logged, shown as a generic 500.
    #[error("storage error")]
    Store(#[from] StoreError),
    /// Any other server-side failure: logged, shown as a generic 500.
    #[error("internal error")]
    Internal(String),
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
            AppError::Forbidden | AppError::Csrf => StatusCode::FORBIDDEN,
            AppError::TooManyRequests(_) => StatusCode::TOO_MANY_REQUESTS,
            AppError::Busy(_) => StatusCode::SERVICE_UNAVAILABLE,
            AppError::LoginRequired(url) => return Redirect::to(url).into_response(),
            AppError::Store(_) | AppError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        };
        let message = match &self {
            AppError::Store(StoreError::InvalidCursor(_)) => "invalid pagination cursor".to_owned(),
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
        let retry_after = match &self {
            AppError::TooManyRequests(wait) | AppError::Busy(wait) => Some(*wait),
            _ => None,
        };
        let body = page.render().unwrap_or_else(|_| "error".to_owned());
        let mut resp = (status, Html(body)).into_response();
        if let Some(wait) = retry_after {
            // Whole seconds, rounded up, at least 1.
            let secs = wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
            resp.headers_mut()
                .insert(header::RETRY_AFTER, header::HeaderValue::from(secs.max(1)));
        }
        resp
    }
}
