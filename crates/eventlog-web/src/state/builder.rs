//! [`AppStateBuilder`]: the settings of an [`AppState`], collected, then built once.

use std::sync::Arc;

use eventlog::EventTypes;
use eventlog::store::{Backend, ListingQuery};

use super::{AppState, Inner};
use crate::admin::live::{LiveTail, StreamLimits};
use crate::{admin, auth};

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
    pub(super) store: Arc<dyn Backend>,
    pub(super) reads: Option<Arc<dyn ListingQuery>>,
    pub(super) types: EventTypes,
    pub(super) login_limits: auth::LoginLimits,
    pub(super) secure_cookies: bool,
    pub(super) session_idle: std::time::Duration,
    pub(super) session_lifetime: std::time::Duration,
    pub(super) poll_interval: std::time::Duration,
    pub(super) live_tail_limits: StreamLimits,
    pub(super) api_body_limit: usize,
    pub(super) limits: eventlog::config::LimitsConfig,
    pub(super) scan_budget: eventlog::store::ScanBudget,
    pub(super) api_observer: Option<Arc<dyn eventlog::CommitObserver>>,
    pub(super) host_auth: Option<Arc<dyn auth::host::HostAuth>>,
    pub(super) proxy_auth: Option<crate::config::ProxyAuthConfig>,
    pub(super) log: Option<eventlog::EventLog>,
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
    pub fn server_config(self, server: &crate::config::ServerConfig) -> Self {
        let proxy_auth = server.proxy_auth.clone();
        self.proxy_auth(proxy_auth)
            .secure_cookies(server.secure_cookies)
            .session_idle(server.session_idle_timeout)
            .session_lifetime(server.session_lifetime)
            .live_tail_limits(StreamLimits {
                per_session: server.live_tail_per_session,
                per_user: server.live_tail_per_user,
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
    /// live_tail_per_session`, `live_tail_per_user`, `live_tail_max`); past them a stream gets
    /// `429`.
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

    /// How far one page of a filter no index narrows (a `data.KEY` condition on a key that
    /// is not indexed) looks before it answers with what it found and a way to keep scanning
    /// (`[database] scan_budget`, `scan_budget_events`).
    pub fn scan_budget(mut self, budget: eventlog::store::ScanBudget) -> Self {
        self.scan_budget = budget;
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
    /// connection's ([`axum::extract::ConnectInfo`], which [`serve`](crate::serve) provides; under
    /// `axum::serve`, use `into_make_service_with_connect_info::<SocketAddr>()`): without
    /// it, no peer is trusted.
    pub fn proxy_auth(mut self, config: Option<crate::config::ProxyAuthConfig>) -> Self {
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
                scan_budget: self.scan_budget,
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
