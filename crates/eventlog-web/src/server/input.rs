//! Requests whose path or query cannot be read as text are refused before any handler: a
//! NUL (`%00`) cannot be compared by either database (PostgreSQL refuses it in text outright)
//! and bytes that are not UTF-8 name nothing stored. `400`, never a `500` from the store.

use axum::extract::Request;
use axum::http::StatusCode;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use crate::error::AppError;

/// Middleware: `400` for a request whose decoded path or query holds a NUL or bytes that are
/// not UTF-8.
pub async fn refuse_unreadable(req: Request, next: Next) -> Response {
    let uri = req.uri();
    let problem = unreadable(uri.path(), "path").or_else(|| unreadable(uri.query()?, "query"));
    let Some(message) = problem else {
        return next.run(req).await;
    };
    if super::wants_json(&req) {
        (
            StatusCode::BAD_REQUEST,
            axum::Json(serde_json::json!({ "error": message })),
        )
            .into_response()
    } else {
        AppError::BadRequest(message).into_response()
    }
}

/// What is wrong with percent-encoded `text` (`+` is left alone: it decodes to a space).
fn unreadable(text: &str, what: &str) -> Option<String> {
    let decoded = percent_decode(text.as_bytes());
    if decoded.contains(&0) {
        return Some(format!(
            "the request {what} contains a NUL character (%00), which no value may hold"
        ));
    }
    if std::str::from_utf8(&decoded).is_err() {
        return Some(format!(
            "the request {what} contains percent-encoded bytes that are not UTF-8"
        ));
    }
    None
}

/// `%XX` decoded; a `%` not followed by two hex digits stays as it is.
fn percent_decode(bytes: &[u8]) -> Vec<u8> {
    let hex = |b: u8| (b as char).to_digit(16);
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%'
            && let (Some(h), Some(l)) = (
                bytes.get(i + 1).and_then(|&b| hex(b)),
                bytes.get(i + 2).and_then(|&b| hex(b)),
            )
        {
            out.push((h * 16 + l) as u8);
            i += 3;
            continue;
        }
        out.push(bytes[i]);
        i += 1;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nul_and_invalid_utf8_are_named() {
        assert!(unreadable("/api/v1/groups/a%00b", "path").is_some_and(|m| m.contains("NUL")));
        assert!(unreadable("/groups/%FF", "path").is_some_and(|m| m.contains("UTF-8")));
        assert!(unreadable("q=%C3%28", "query").is_some_and(|m| m.contains("UTF-8")));
        assert_eq!(unreadable("q=caf%C3%A9&group=a+b%", "query"), None);
        assert_eq!(unreadable("/groups/Order%201", "path"), None);
    }
}
