//! The admin's shared state: the store, the configured types, the login protections and the
//! settings, made once by its builder ([`builder`]).

use std::sync::Arc;

use eventlog::EventTypes;
use eventlog::store::{Backend, ListingQuery};

use crate::admin::live::{LiveTail, StreamLimits};
use crate::{admin, api, auth};

mod builder;

pub use builder::AppStateBuilder;

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
    scan_budget: eventlog::store::ScanBudget,
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
            api_body_limit: crate::config::ApiConfig::default().body_limit,
            limits: eventlog::config::LimitsConfig::default(),
            scan_budget: eventlog::store::ScanBudget::default(),
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
        api.scan_budget = self.inner.scan_budget;
        match &self.inner.api_observer {
            Some(observer) => api.with_observer(observer.clone()),
            None => api,
        }
    }

    /// How far one page of a filter no index narrows looks.
    pub(crate) fn scan_budget(&self) -> &eventlog::store::ScanBudget {
        &self.inner.scan_budget
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
