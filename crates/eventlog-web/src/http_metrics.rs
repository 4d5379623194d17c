//! Requests counted by route and status, with their latency, through the `metrics` facade
//! (no-ops unless the application or `eventlog serve` installed a recorder).

use std::time::Instant;

use axum::extract::{MatchedPath, Request};
use axum::middleware::Next;
use axum::response::Response;
use eventlog::metrics::{HTTP_REQUEST_SECONDS, HTTP_REQUESTS};

/// The route label of requests no route matched (404s): one label for all, so that clients
/// probing random paths cannot grow the number of series.
const UNMATCHED: &str = "unmatched";

/// Middleware: counts the request under its route's pattern (`/events/{id}`, never the raw
/// path), method and status, and records how long until its response started.
pub(crate) async fn track(req: Request, next: Next) -> Response {
    let started = Instant::now();
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map_or_else(|| UNMATCHED.to_owned(), |m| m.as_str().to_owned());
    let method = method_label(req.method());
    let response = next.run(req).await;
    let status = response.status().as_u16().to_string();
    let labels = [
        ("method", method.to_owned()),
        ("route", route),
        ("status", status),
    ];
    metrics::counter!(HTTP_REQUESTS, &labels).increment(1);
    metrics::histogram!(HTTP_REQUEST_SECONDS, &labels).record(started.elapsed().as_secs_f64());
    response
}

/// Standard methods by name; anything else as `other` (bounded label values).
fn method_label(method: &axum::http::Method) -> &'static str {
    use axum::http::Method;
    match *method {
        Method::GET => "GET",
        Method::HEAD => "HEAD",
        Method::POST => "POST",
        Method::PUT => "PUT",
        Method::DELETE => "DELETE",
        Method::PATCH => "PATCH",
        Method::OPTIONS => "OPTIONS",
        _ => "other",
    }
}
