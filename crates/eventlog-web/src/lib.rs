//! The eventlog admin UI and the `/api/v1` HTTP API as one axum [`Router`] that an
//! application can mount under any path, with eventlog's own users or the host's
//! authentication ([`auth::host::HostAuth`]).
//!
//! # Usage
//!
//! ```no_run
//! # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
//! use eventlog_web::{AppState, app};
//!
//! let store = eventlog::store::open("sqlite://events.db").await?;
//! let state = AppState::new(store, eventlog::EventTypes::default());
//! // Standalone: `app(state)`; inside an application, under a prefix:
//! let router = axum::Router::new().nest("/admin/eventlog", app(state));
//! let listener = tokio::net::TcpListener::bind("127.0.0.1:8000").await?;
//! eventlog_web::serve(listener, router, std::future::pending()).await?;
//! # Ok(()) }
//! ```
//!
//! Links, redirects, cookie paths and assets follow the prefix axum's nesting strips, so no
//! configuration is needed for it.

use std::sync::Arc;

use axum::Router;
use axum::extract::OriginalUri;
use axum::http::request::Parts;
use axum::response::Redirect;
use axum::routing::{get, post};
use eventlog::EventTypes;
use eventlog::store::Backend;

pub mod admin;
pub mod api;
pub mod auth;
pub mod error;
pub mod format;
pub mod health;
pub mod server;

pub use error::AppError;
pub use server::{ServeOptions, serve, serve_with};

/// Shared state of the admin: the store, the configured types and the login rate limit.
#[derive(Clone)]
pub struct AppState {
    inner: Arc<Inner>,
}

struct Inner {
    store: Arc<dyn Backend>,
    types: EventTypes,
    rate_limit: auth::LoginRateLimit,
    secure_cookies: bool,
    poll_interval: std::time::Duration,
    api_body_limit: usize,
    api_observer: Option<Arc<dyn eventlog::CommitObserver>>,
    host_auth: Option<Arc<dyn auth::host::HostAuth>>,
    /// Secret behind the CSRF tokens of host-authenticated users.
    csrf_secret: String,
}

impl AppState {
    /// State over a store, showing types as configured.
    pub fn new(store: Arc<dyn Backend>, types: EventTypes) -> Self {
        AppState {
            inner: Arc::new(Inner {
                store,
                types,
                rate_limit: auth::LoginRateLimit::default(),
                secure_cookies: false,
                poll_interval: std::time::Duration::from_secs(1),
                api_body_limit: eventlog::config::ApiConfig::default().body_limit,
                api_observer: None,
                host_auth: None,
                csrf_secret: format!(
                    "{}{}",
                    uuid::Uuid::new_v4().simple(),
                    uuid::Uuid::new_v4().simple()
                ),
            }),
        }
    }

    /// Marks cookies `Secure` (when served over HTTPS, e.g. behind a TLS proxy).
    pub fn with_secure_cookies(mut self, secure: bool) -> Self {
        if let Some(inner) = Arc::get_mut(&mut self.inner) {
            inner.secure_cookies = secure;
        }
        self
    }

    /// Replaces the login rate limit (tests use a small one).
    pub fn with_rate_limit(mut self, limit: auth::LoginRateLimit) -> Self {
        if let Some(inner) = Arc::get_mut(&mut self.inner) {
            inner.rate_limit = limit;
        }
        self
    }

    /// How often the live tail polls the store.
    pub fn with_poll_interval(mut self, interval: std::time::Duration) -> Self {
        if let Some(inner) = Arc::get_mut(&mut self.inner) {
            inner.poll_interval = interval;
        }
        self
    }

    /// The largest body `POST /api/v1/events` accepts (`[api] body_limit`).
    pub fn with_api_body_limit(mut self, bytes: usize) -> Self {
        if let Some(inner) = Arc::get_mut(&mut self.inner) {
            inner.api_body_limit = bytes;
        }
        self
    }

    /// Tells `observer` (e.g. the waker of an [`eventlog::mail::MailSender`]) about every event the API
    /// stores, after its commit.
    pub fn with_api_observer(mut self, observer: Arc<dyn eventlog::CommitObserver>) -> Self {
        if let Some(inner) = Arc::get_mut(&mut self.inner) {
            inner.api_observer = Some(observer);
        }
        self
    }

    /// Lets the host application authenticate admin requests instead of eventlog's own
    /// users and sessions (the login page is then not used).
    pub fn with_host_auth(mut self, auth: Arc<dyn auth::host::HostAuth>) -> Self {
        if let Some(inner) = Arc::get_mut(&mut self.inner) {
            inner.host_auth = Some(auth);
        }
        self
    }

    pub(crate) fn host_auth(&self) -> Option<&Arc<dyn auth::host::HostAuth>> {
        self.inner.host_auth.as_ref()
    }

    pub(crate) fn csrf_secret(&self) -> &str {
        &self.inner.csrf_secret
    }

    /// The state of the `/api/v1` router.
    pub fn api_state(&self) -> api::ApiState {
        let mut api = api::ApiState::new(self.inner.store.clone(), self.inner.types.clone());
        api.body_limit = self.inner.api_body_limit;
        match &self.inner.api_observer {
            Some(observer) => api.with_observer(observer.clone()),
            None => api,
        }
    }

    /// The store.
    pub fn store(&self) -> &Arc<dyn Backend> {
        &self.inner.store
    }

    /// The configured event types.
    pub fn types(&self) -> &EventTypes {
        &self.inner.types
    }

    pub(crate) fn rate_limit(&self) -> &auth::LoginRateLimit {
        &self.inner.rate_limit
    }

    pub(crate) fn secure_cookies(&self) -> bool {
        self.inner.secure_cookies
    }

    pub(crate) fn poll_interval(&self) -> std::time::Duration {
        self.inner.poll_interval
    }
}

/// Where the admin is mounted: the part of the request path that axum's nesting stripped
/// (empty when served at the root).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Base(String);

impl Base {
    /// The prefix of the current request.
    pub fn from_parts(parts: &Parts) -> Base {
        let inner = parts.uri.path();
        let prefix = match parts.extensions.get::<OriginalUri>() {
            Some(OriginalUri(original)) => {
                let full = original.path();
                full.strip_suffix(inner)
                    .or_else(|| (inner == "/").then(|| full.trim_end_matches('/')))
                    .unwrap_or("")
            }
            None => "",
        };
        Base(prefix.trim_end_matches('/').to_owned())
    }

    /// The prefix without a trailing slash (`""` or `/admin/eventlog`).
    pub fn path(&self) -> &str {
        &self.0
    }

    /// The `Path` of cookies: the prefix, or `/`.
    pub fn cookie_path(&self) -> &str {
        if self.0.is_empty() { "/" } else { &self.0 }
    }
}

impl<S: Send + Sync> axum::extract::FromRequestParts<S> for Base {
    type Rejection = std::convert::Infallible;
    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        Ok(Base::from_parts(parts))
    }
}

/// The admin routes (login, events, groups, delete, export, live tail, healthz, livez,
/// assets).
pub fn app(state: AppState) -> Router {
    Router::new()
        .route(
            "/",
            get(|base: Base| async move { Redirect::to(&format!("{}/events", base.path())) }),
        )
        .route("/healthz", get(health::healthz))
        .route("/livez", get(health::livez))
        .route("/login", get(admin::login::page).post(admin::login::submit))
        .route("/logout", post(admin::login::logout))
        .route("/events", get(admin::events::list))
        .route("/events/stream", get(admin::stream::stream))
        .route("/events/export", get(admin::export::export))
        .route(
            "/events/delete",
            get(admin::delete::confirm).post(admin::delete::submit),
        )
        .route("/events/{id}", get(admin::event::page))
        .route("/groups", get(admin::groups::list))
        .route("/static/{file}", get(admin::assets::asset))
        .with_state(state.clone())
        // The API has its own state and authentication (tokens, not sessions).
        .nest(api::BASE_PATH, api::router(state.api_state()))
}
