//! The HTTP API over a real socket, on SQLite and on PostgreSQL, around one `Server` fixture:
//! one file per concern.
//!
//! Each test is an `async fn(TestDb)`; `eventlog_testing::on_both_backends!` makes
//! `sqlite::NAME` and `postgres::NAME`.
//! PostgreSQL comes from `scripts/test` (EVENTLOG_TEST_POSTGRES_URL); without it those fail.

use std::collections::BTreeSet;
use std::sync::Arc;

use axum::Router;
use eventlog::EventTypes;
use eventlog::store::{self, Backend, EventFilter, WriteStore};
use eventlog_testing::TestDb;
use eventlog_testing::api::{self as api_client, ApiClient};
use eventlog_web::api::{self, ApiState};
use reqwest::Method;
use serde_json::{Value, json};

mod ingest;
mod reads;
mod refusals;

struct Server {
    /// The API's root URL, `http://ADDR/api/v1`.
    base: String,
    http: reqwest::Client,
    /// `http` with the token of scope `all`.
    api: ApiClient,
    store: Arc<dyn Backend>,
    _db: TestDb,
}

impl Server {
    async fn start(db: TestDb) -> Server {
        Server::start_with_limit(db, 8 * 1024 * 1024).await
    }

    async fn start_with_limit(db: TestDb, body_limit: usize) -> Server {
        let store = store::open(db.url()).await.unwrap();
        let token = store
            .create_token("test", eventlog::store::TokenScope::All)
            .await
            .unwrap();
        let state = ApiState::new(store.clone(), EventTypes::default()).with_config(
            &eventlog_web::config::ApiConfig {
                body_limit,
                ..Default::default()
            },
        );
        Server::serve(state, store, token, db).await
    }

    /// Serves `state`'s API on a loopback socket, mounted as the server mounts it; `token`
    /// (of scope `all`) is sent with every request.
    async fn serve(state: ApiState, store: Arc<dyn Backend>, token: String, db: TestDb) -> Server {
        let app = Router::new().nest(api::BASE_PATH, api::router(state));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        let base = format!("http://{addr}/api/v1");
        let http = reqwest::Client::new();
        Server {
            api: ApiClient::new(http.clone(), &base, token),
            base,
            http,
            store,
            _db: db,
        }
    }

    async fn post(&self, body: Value) -> (u16, Value) {
        api_client::status_and_json(self.api.post_json("/events", &body).await).await
    }

    /// `POST /events` of `body` as `content_type`.
    async fn post_as(
        &self,
        content_type: &str,
        body: impl Into<reqwest::Body>,
    ) -> reqwest::Response {
        let request = self.api.request(Method::POST, "/events");
        api_client::send(request.header("content-type", content_type).body(body)).await
    }

    async fn get(&self, path: &str) -> (u16, Value) {
        self.api.get_json(path).await
    }

    async fn count(&self) -> u64 {
        self.store.count(&EventFilter::default()).await.unwrap()
    }
}
