// Over 500 lines on purpose: `AppState`, its builder and `app()` are one unit of assembly.
//! The eventlog admin UI and the `/api/v1` HTTP API as one axum [`Router`] that an
//! application can mount under any path, with eventlog's own users or the host's
//! authentication ([`auth::host::HostAuth`]).
//!
//! # Usage
//!
//! An application that records events with an [`EventLog`](eventlog::EventLog) builds the
//! admin's state from it, so both share one connection pool:
//!
//! ```no_run
//! # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
//! use eventlog_web::{AppState, app};
//!
//! let log = eventlog::EventLog::open("sqlite://events.db").await?;
//! let state = AppState::from_log(&log);
//! // Standalone: `app(state)`; inside an application, under a prefix (`nest_service`
//! // answers both `/admin/eventlog` and `/admin/eventlog/`; `nest` only the first):
//! let router = axum::Router::new().nest_service("/admin/eventlog", app(state));
//! let listener = tokio::net::TcpListener::bind("127.0.0.1:8000").await?;
//! eventlog_web::serve(listener, router, std::future::pending()).await?;
//! // After the server has stopped: store what is still queued.
//! log.close().await?;
//! # Ok(()) }
//! ```
//!
//! Without an `EventLog` (only reading the log), open the store yourself:
//! `AppState::new(eventlog::store::open(url).await?, types)`.
//!
//! Links, redirects, cookie paths and assets follow the prefix axum's nesting strips, so no
//! configuration is needed for it.

use std::sync::Arc;

use axum::Router;
use axum::extract::OriginalUri;
use axum::http::request::Parts;
use axum::http::{HeaderValue, header};
use axum::response::Redirect;
use axum::routing::{get, post};
use eventlog::EventTypes;
use eventlog::store::{Backend, ListingQuery};
use tower_http::set_header::SetResponseHeaderLayer;

// The pages are reached through `app()`, not called: their modules are not part of the API.
mod admin;
pub mod api;
pub mod auth;
pub mod error;
mod format;
mod health;
mod http_metrics;
pub mod server;

pub use admin::live::{LiveTail, StreamLimits};
pub use error::AppError;
pub use server::{ServeOptions, serve, serve_with};

/// Expired and idle sessions are deleted at most this often (or once per idle timeout, if
/// that is shorter).
pub const SESSION_PURGE_EVERY: std::time::Duration = std::time::Duration::from_secs(600);

/// Shared state of the admin: the store, the configured types, the login protections and the
/// settings. Made once by [`AppState::builder`] (or [`AppState::new`] for the defaults) and
/// cheap to clone; it has no setters, so a setting can never be applied to one clone only.
#[derive(Clone)]
pub struct AppState {
    inner: Arc<Inner>,
}

struct Inner {
    store: Arc<dyn Backend>,
    /// Where the event pages and API reads go: `store`, or the read replica.
    reads: Arc<dyn ListingQuery>,
    /// The read replica, when one is configured.
    replica: Option<Arc<dyn ListingQuery>>,
    types: EventTypes,
    login: auth::LoginGuard,
    secure_cookies: bool,
    session_idle: std::time::Duration,
    session_lifetime: std::time::Duration,
    /// When expired sessions were last purged (at most every [`SESSION_PURGE_EVERY`]).
    last_purge: std::sync::Mutex<Option<std::time::Instant>>,
    api_body_limit: usize,
    limits: eventlog::config::LimitsConfig,
    api_observer: Option<Arc<dyn eventlog::CommitObserver>>,
    host_auth: Option<Arc<dyn auth::host::HostAuth>>,
    proxy_auth: Option<auth::proxy::ProxyAuth>,
    /// The live tail's streams and their shared poller.
    live_tail: Arc<LiveTail>,
    /// Secret behind the CSRF tokens of host-authenticated users.
    csrf_secret: String,
    /// The event log whose store this state shares ([`AppState::from_log`]): kept open, since
    /// its writer thread runs the pool's connections.
    _log: Option<eventlog::EventLog>,
    /// `/static/types.css`, built from `types` once.
    types_css: String,
    /// A distinct chart colour per configured type, built from `types` once.
    chart_colors: std::collections::HashMap<String, String>,
}

/// Collects the settings of an [`AppState`]; [`AppStateBuilder::build`] makes it.
///
/// ```no_run
/// # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
/// let store = eventlog::store::open("sqlite://events.db").await?;
/// let state = eventlog_web::AppState::builder(store, eventlog::EventTypes::default())
///     .secure_cookies(true)
///     .api_body_limit(1024 * 1024)
///     .build();
/// let router = eventlog_web::app(state);
/// # Ok(()) }
/// ```
#[must_use = "call .build() to make the AppState"]
pub struct AppStateBuilder {
    store: Arc<dyn Backend>,
    reads: Option<Arc<dyn ListingQuery>>,
    types: EventTypes,
    login_limits: auth::LoginLimits,
    secure_cookies: bool,
    session_idle: std::time::Duration,
    session_lifetime: std::time::Duration,
    poll_interval: std::time::Duration,
    live_tail_limits: StreamLimits,
    api_body_limit: usize,
    limits: eventlog::config::LimitsConfig,
    api_observer: Option<Arc<dyn eventlog::CommitObserver>>,
    host_auth: Option<Arc<dyn auth::host::HostAuth>>,
    proxy_auth: Option<eventlog::config::ProxyAuthConfig>,
    log: Option<eventlog::EventLog>,
}

impl AppStateBuilder {
    /// Marks cookies `Secure` and names the session cookie with the `__Host-` prefix: set it
    /// when browsers reach the admin over HTTPS (e.g. behind a TLS reverse proxy).
    pub fn secure_cookies(mut self, secure: bool) -> Self {
        self.secure_cookies = secure;
        self
    }

    /// Serves the event list, event and group pages, the chart, exports and the API's reads
    /// from `replica` (e.g. [`eventlog::store::open_replica`] on a PostgreSQL hot standby).
    /// Writes, users, sessions, tokens, health and the live tail stay on the primary store.
    /// The replica is a reader: nothing is ever written through it.
    pub fn read_store(mut self, replica: Arc<dyn ListingQuery>) -> Self {
        self.reads = Some(replica);
        self
    }

    /// A session ends after this long without a request (default 1 h).
    pub fn session_idle(mut self, idle: std::time::Duration) -> Self {
        self.session_idle = idle;
        self
    }

    /// A session ends this long after login, however active (default 12 h).
    pub fn session_lifetime(mut self, lifetime: std::time::Duration) -> Self {
        self.session_lifetime = lifetime;
        self
    }

    /// `[server]` settings of `eventlog.toml`: secure cookies, session timeouts, the
    /// limits on live-tail streams and `[server.proxy_auth]`.
    pub fn server_config(self, server: &eventlog::config::ServerConfig) -> Self {
        let proxy_auth = server.proxy_auth.clone();
        self.proxy_auth(proxy_auth)
            .secure_cookies(server.secure_cookies)
            .session_idle(server.session_idle_timeout)
            .session_lifetime(server.session_lifetime)
            .live_tail_limits(StreamLimits {
                per_session: server.live_tail_per_session,
                total: server.live_tail_max,
            })
    }

    /// Replaces the login throttles and the cap on concurrent password checks.
    pub fn login_limits(mut self, limits: auth::LoginLimits) -> Self {
        self.login_limits = limits;
        self
    }

    /// How often the live tail polls the store (default 1 s).
    pub fn poll_interval(mut self, interval: std::time::Duration) -> Self {
        self.poll_interval = interval;
        self
    }

    /// Limits on open live-tail streams, per session and in all (`[server]
    /// live_tail_per_session`, `live_tail_max`); past them a stream gets `429`.
    pub fn live_tail_limits(mut self, limits: StreamLimits) -> Self {
        self.live_tail_limits = limits;
        self
    }

    /// The largest body `POST /api/v1/events` accepts (`[api] body_limit`).
    pub fn api_body_limit(mut self, bytes: usize) -> Self {
        self.api_body_limit = bytes;
        self
    }

    /// The largest message and data an event posted to the API may have (`[limits]`).
    pub fn limits(mut self, limits: eventlog::config::LimitsConfig) -> Self {
        self.limits = limits;
        self
    }

    /// Tells `observer` (e.g. the waker of an [`eventlog::mail::MailSender`]) about every event the API
    /// stores, after its commit.
    pub fn api_observer(mut self, observer: Arc<dyn eventlog::CommitObserver>) -> Self {
        self.api_observer = Some(observer);
        self
    }

    /// Lets the host application authenticate admin requests instead of eventlog's own
    /// users and sessions (the login page is then not used).
    pub fn host_auth(mut self, auth: Arc<dyn auth::host::HostAuth>) -> Self {
        self.host_auth = Some(auth);
        self
    }

    /// Believes the user named in a header by an authenticating reverse proxy, from the
    /// proxy's addresses only (`[server.proxy_auth]`); the same header from any other peer
    /// gets `403`. Requests without the header log in as usual. The peer address is the
    /// connection's ([`axum::extract::ConnectInfo`], which [`serve`] provides; under
    /// `axum::serve`, use `into_make_service_with_connect_info::<SocketAddr>()`): without
    /// it, no peer is trusted.
    pub fn proxy_auth(mut self, config: Option<eventlog::config::ProxyAuthConfig>) -> Self {
        self.proxy_auth = config;
        self
    }

    /// The state, with every setting given.
    pub fn build(self) -> AppState {
        // Said once, where the configuration takes effect: a label some people cannot read.
        for warning in admin::colors::contrast_warnings(&self.types) {
            tracing::warn!("{warning}");
        }
        let chart_colors = admin::colors::chart_colors(&self.types);
        AppState {
            inner: Arc::new(Inner {
                reads: match &self.reads {
                    Some(replica) => replica.clone(),
                    None => self.store.clone(),
                },
                replica: self.reads,
                store: self.store.clone(),
                types: self.types.clone(),
                login: auth::LoginGuard::new(&self.login_limits),
                secure_cookies: self.secure_cookies,
                session_idle: self.session_idle,
                session_lifetime: self.session_lifetime,
                last_purge: std::sync::Mutex::new(None),
                live_tail: LiveTail::new(
                    self.store.clone(),
                    self.poll_interval,
                    self.live_tail_limits,
                ),
                api_body_limit: self.api_body_limit,
                limits: self.limits,
                api_observer: self.api_observer,
                host_auth: self.host_auth,
                proxy_auth: self.proxy_auth.and_then(|config| {
                    let proxy = auth::proxy::ProxyAuth::new(config);
                    if proxy.is_none() {
                        tracing::error!(
                            "proxy_auth: a header name does not parse; proxy authentication is off"
                        );
                    }
                    proxy
                }),
                csrf_secret: auth::random_token(),
                _log: self.log,
                types_css: admin::assets::build_types_css(&self.types, &chart_colors),
                chart_colors,
            }),
        }
    }
}

impl AppState {
    /// State over a store, showing types as configured, with default settings.
    pub fn new(store: Arc<dyn Backend>, types: EventTypes) -> Self {
        AppState::builder(store, types).build()
    }

    /// State over the store of an [`EventLog`](eventlog::EventLog), showing its types, with
    /// default settings: recording and the admin share one connection pool.
    pub fn from_log(log: &eventlog::EventLog) -> Self {
        AppState::builder_from_log(log).build()
    }

    /// Starts a state over the store of `log` (one connection pool for recording and the
    /// admin), showing `log`'s event types, with settings of its own. The state keeps the
    /// log's writer running while it exists; call [`EventLog::close`](eventlog::EventLog::close)
    /// only after the server has stopped, since closing the log closes the shared pool.
    pub fn builder_from_log(log: &eventlog::EventLog) -> AppStateBuilder {
        let mut builder = AppState::builder(log.store(), log.event_types().clone());
        builder.log = Some(log.clone());
        builder
    }

    /// Starts a state with settings of its own.
    pub fn builder(store: Arc<dyn Backend>, types: EventTypes) -> AppStateBuilder {
        AppStateBuilder {
            store,
            reads: None,
            types,
            login_limits: auth::LoginLimits::default(),
            secure_cookies: false,
            session_idle: std::time::Duration::from_secs(3600),
            session_lifetime: std::time::Duration::from_secs(12 * 3600),
            poll_interval: std::time::Duration::from_secs(1),
            live_tail_limits: StreamLimits::default(),
            api_body_limit: eventlog::config::ApiConfig::default().body_limit,
            limits: eventlog::config::LimitsConfig::default(),
            api_observer: None,
            host_auth: None,
            proxy_auth: None,
            log: None,
        }
    }

    pub(crate) fn host_auth(&self) -> Option<&Arc<dyn auth::host::HostAuth>> {
        self.inner.host_auth.as_ref()
    }

    pub(crate) fn proxy_auth(&self) -> Option<&auth::proxy::ProxyAuth> {
        self.inner.proxy_auth.as_ref()
    }

    pub(crate) fn csrf_secret(&self) -> &str {
        &self.inner.csrf_secret
    }

    /// The state of the `/api/v1` router.
    pub fn api_state(&self) -> api::ApiState {
        let mut api = api::ApiState::new(self.inner.store.clone(), self.inner.types.clone())
            .with_reads(self.inner.reads.clone());
        api.body_limit = self.inner.api_body_limit;
        api.limits = self.inner.limits;
        match &self.inner.api_observer {
            Some(observer) => api.with_observer(observer.clone()),
            None => api,
        }
    }

    /// The store.
    pub fn store(&self) -> &Arc<dyn Backend> {
        &self.inner.store
    }

    /// The store that serves reads of events and groups: the primary, or the read replica
    /// given to [`AppStateBuilder::read_store`].
    pub fn reads(&self) -> &Arc<dyn ListingQuery> {
        &self.inner.reads
    }

    /// The read replica given to [`AppStateBuilder::read_store`], if any.
    pub(crate) fn replica(&self) -> Option<&Arc<dyn ListingQuery>> {
        self.inner.replica.as_ref()
    }

    /// The configured event types.
    pub fn types(&self) -> &EventTypes {
        &self.inner.types
    }

    pub(crate) fn login_guard(&self) -> &auth::LoginGuard {
        &self.inner.login
    }

    pub(crate) fn secure_cookies(&self) -> bool {
        self.inner.secure_cookies
    }

    /// The live tail: its open streams and the poller they share (`polls()` counts its
    /// reads).
    pub fn live_tail(&self) -> &Arc<LiveTail> {
        &self.inner.live_tail
    }

    /// How long a session may go without a request.
    pub(crate) fn session_idle(&self) -> chrono::Duration {
        chrono::Duration::from_std(self.inner.session_idle).unwrap_or(chrono::Duration::MAX)
    }

    /// How long a session lasts at most.
    pub(crate) fn session_lifetime(&self) -> chrono::Duration {
        chrono::Duration::from_std(self.inner.session_lifetime).unwrap_or(chrono::Duration::MAX)
    }

    /// Deletes expired and idle sessions in the background, at most every
    /// [`SESSION_PURGE_EVERY`] or idle timeout. Called on every request that carries a
    /// session cookie and on every login: sessions only come into being through requests,
    /// so this needs no timer of its own and works the same when the admin is embedded.
    pub(crate) fn purge_sessions_now_and_then(&self) {
        let now = std::time::Instant::now();
        let every = SESSION_PURGE_EVERY.min(self.inner.session_idle);
        {
            let mut last = self
                .inner
                .last_purge
                .lock()
                .unwrap_or_else(|p| p.into_inner());
            if last.is_some_and(|t| now.duration_since(t) < every) {
                return;
            }
            *last = Some(now);
        }
        let state = self.clone();
        tokio::spawn(async move {
            let idle = state.session_idle();
            match state
                .store()
                .purge_sessions(eventlog::event::now(), idle)
                .await
            {
                Ok(0) => {}
                Ok(n) => tracing::debug!(sessions = n, "purged expired sessions"),
                Err(e) => tracing::warn!(error = %e, "cannot purge expired sessions"),
            }
        });
    }

    pub(crate) fn types_css(&self) -> &str {
        &self.inner.types_css
    }

    /// The chart colour of a type (configured or not).
    pub(crate) fn chart_color(&self, name: &str) -> &str {
        self.inner
            .chart_colors
            .get(name)
            .map_or(admin::colors::FALLBACK_FILL, String::as_str)
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
    let proxy_auth = state.proxy_auth().is_some();
    let mut router = Router::new()
        .route(
            "/",
            get(|base: Base| async move { Redirect::to(&format!("{}/events", base.path())) }),
        )
        .route("/healthz", get(health::healthz))
        .route("/livez", get(health::livez))
        .route(
            "/login",
            get(admin::login::page)
                .post(admin::login::submit)
                // A login form is a few hundred bytes; a huge one is refused before parsing.
                .layer(axum::extract::DefaultBodyLimit::max(
                    admin::login::MAX_FORM_BYTES,
                ))
                .layer(axum::middleware::from_fn(|req, next| {
                    server::admission::route_limit(admin::login::MAX_FORM_BYTES, req, next)
                })),
        )
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
        .route("/static/types.css", get(admin::assets::types_css))
        .route("/static/{file}", get(admin::assets::asset))
        .with_state(state.clone())
        // Counted by route pattern: inside each router, where the matched route is known
        // (a layer around the nesting router would only see the nesting prefix).
        .layer(axum::middleware::from_fn(http_metrics::track))
        // The API has its own state and authentication (tokens, not sessions).
        .nest(
            api::BASE_PATH,
            api::router(state.api_state()).layer(axum::middleware::from_fn(http_metrics::track)),
        );
    if proxy_auth {
        // Around pages and API alike: a proxy header from an untrusted peer is refused
        // whatever route it is sent to.
        router = router.layer(axum::middleware::from_fn_with_state(
            state,
            auth::proxy::check,
        ));
    }
    with_security_headers(router)
}

/// The Content-Security-Policy of every response: scripts, styles and images only from the
/// admin itself (no inline script, no `style` attributes), never framed (clickjacking), no
/// `<base>` and forms posting only back to the admin.
pub const CONTENT_SECURITY_POLICY: &str =
    "default-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'";

/// The headers every admin and API response carries. Pages, exports and API reads hold
/// logged-in data, so nothing is cached unless the handler says otherwise (the static assets
/// do).
fn with_security_headers(router: Router) -> Router {
    /// Set on every response, replacing what a handler set.
    const ALWAYS: [(header::HeaderName, &str); 4] = [
        (header::CONTENT_SECURITY_POLICY, CONTENT_SECURITY_POLICY),
        (header::X_FRAME_OPTIONS, "DENY"),
        (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
        (header::REFERRER_POLICY, "same-origin"),
    ];
    let router = ALWAYS.into_iter().fold(router, |router, (name, value)| {
        router.layer(SetResponseHeaderLayer::overriding(
            name,
            HeaderValue::from_static(value),
        ))
    });
    router.layer(SetResponseHeaderLayer::if_not_present(
        header::CACHE_CONTROL,
        HeaderValue::from_static("no-store"),
    ))
}
