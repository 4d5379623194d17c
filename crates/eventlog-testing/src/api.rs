//! The HTTP API (`/api/v1`) as an application speaks to it: a bearer token on every request.
//!
//! For tests and benchmarks against a served API (`eventlog serve`, or the API router on a
//! loopback listener). A request that cannot be sent panics with what went wrong; statuses
//! and bodies are returned for the test to check.

use reqwest::{Method, RequestBuilder, Response};
use serde_json::Value;

/// A client of one API with one token.
#[derive(Clone, Debug)]
pub struct ApiClient {
    /// The HTTP client requests go through.
    pub http: reqwest::Client,
    /// The API's root, e.g. `http://127.0.0.1:8080/api/v1`: request paths are appended to it.
    pub base: String,
    /// The bearer token sent with every request.
    pub token: String,
}

impl ApiClient {
    /// A client of the API at `base` (its root, `…/api/v1`) with `token`.
    pub fn new(http: reqwest::Client, base: impl Into<String>, token: impl Into<String>) -> Self {
        ApiClient {
            http,
            base: base.into(),
            token: token.into(),
        }
    }

    /// The same API with another token.
    pub fn with_token(&self, token: &str) -> ApiClient {
        ApiClient::new(self.http.clone(), self.base.clone(), token)
    }

    /// A request to `base + path` carrying the token, for the caller to add to and [`send`].
    pub fn request(&self, method: Method, path: &str) -> RequestBuilder {
        self.http
            .request(method, format!("{}{path}", self.base))
            .bearer_auth(&self.token)
    }

    /// `POST path` with `body` as JSON; the response.
    pub async fn post_json(&self, path: &str, body: &Value) -> Response {
        send(self.request(Method::POST, path).json(body)).await
    }

    /// `GET path`; its status and body text.
    pub async fn get_text(&self, path: &str) -> (u16, String) {
        let resp = send(self.request(Method::GET, path)).await;
        let status = resp.status().as_u16();
        (status, resp.text().await.expect("read the response body"))
    }

    /// `GET path`; its status and JSON body (see [`status_and_json`]).
    pub async fn get_json(&self, path: &str) -> (u16, Value) {
        status_and_json(send(self.request(Method::GET, path)).await).await
    }
}

/// Sends a request; panics, naming the error, when it cannot be sent or answered.
pub async fn send(request: RequestBuilder) -> Response {
    request.send().await.expect("send the request")
}

/// A response's status and its body as JSON (`Null` when the body is not JSON).
pub async fn status_and_json(resp: Response) -> (u16, Value) {
    (
        resp.status().as_u16(),
        resp.json().await.unwrap_or(Value::Null),
    )
}

/// The `message` of each event of a listing (`{"events": […]}`), in order; panics when the
/// body is not a listing.
pub fn messages(page: &Value) -> Vec<&str> {
    page["events"]
        .as_array()
        .unwrap_or_else(|| panic!("not a listing of events: {page}"))
        .iter()
        .map(|e| e["message"].as_str().expect("an event has a message"))
        .collect()
}
