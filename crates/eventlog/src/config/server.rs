//! The sections of `eventlog serve`: `[server]`, `[database]`, `[api]`.

use std::net::SocketAddr;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::ProxyAuthConfig;
use super::duration;

/// `[server]`: `eventlog serve`.
///
/// Durations are written like `10s`, `500ms` or `2m`. The defaults keep the server answering
/// while slow or idle clients hold connections: a client that has not sent its request
/// headers in `header_read_timeout` is disconnected, and beyond `max_connections` new
/// connections wait in the kernel's queue instead of exhausting file descriptors.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ServerConfig {
    /// Address to listen on.
    pub bind: SocketAddr,
    /// How long a client may take to send its request headers (also the longest a
    /// keep-alive connection may sit idle between requests). Default 10 s.
    #[serde(with = "duration")]
    pub header_read_timeout: Duration,
    /// How long a request may take until its response starts (reading the body included);
    /// past it the client gets `503` with `Retry-After`. Live-tail streams are not cut by
    /// it once they have started. Default 30 s.
    #[serde(with = "duration")]
    pub request_timeout: Duration,
    /// Most connections served at once; further ones wait until one closes. The server
    /// also stays below its file descriptor limit whatever this says. Default 10,000.
    pub max_connections: usize,
    /// Most connections one peer address may hold at once (at most half of the connection
    /// cap in effect); further ones from it are closed at once, so that one address
    /// reconnecting slow clients cannot take every connection. Behind a reverse proxy every
    /// client has the proxy's address: raise this to the proxy's own connection limit, or set
    /// 0 (no cap per peer) and let the proxy limit its clients. Default 256.
    pub max_connections_per_peer: usize,
    /// After SIGTERM or SIGINT: how long in-flight requests may take to finish before the
    /// server exits anyway. Live-tail streams are ended at once. Default 10 s.
    #[serde(with = "duration")]
    pub shutdown_grace: Duration,
    /// Cookies are `Secure` and named with the `__Host-` prefix (`Path=/`, no `Domain`): set
    /// this when browsers reach the admin over HTTPS (a TLS reverse proxy in front). Browsers
    /// then never send the session cookie over plain HTTP. Default false.
    pub secure_cookies: bool,
    /// A session ends after this long without a request. Default 1 h.
    #[serde(with = "duration")]
    pub session_idle_timeout: Duration,
    /// A session ends this long after login, however active. Default 12 h.
    #[serde(with = "duration")]
    pub session_lifetime: Duration,
    /// Live-tail streams one session (a logged-in browser) may hold open at once; more get
    /// `429`. Default 4.
    pub live_tail_per_session: usize,
    /// Live-tail streams open at once over all sessions; more get `429`. They share one
    /// read of new events per second, so each costs memory and rendering, not queries.
    /// Default 100.
    pub live_tail_max: usize,
    /// Where to serve `GET /metrics` (Prometheus text format), e.g. `127.0.0.1:9090`: an
    /// address of its own, so that metrics are never public with the admin. Absent (the
    /// default): no metrics are served.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub metrics_bind: Option<SocketAddr>,
    /// `[server.proxy_auth]`: users named by an authenticating reverse proxy in a header,
    /// believed only from the proxy's addresses. Absent (the default): only eventlog's own
    /// logins.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub proxy_auth: Option<ProxyAuthConfig>,
}

impl Default for ServerConfig {
    fn default() -> Self {
        ServerConfig {
            bind: SocketAddr::from(([127, 0, 0, 1], 8000)),
            header_read_timeout: Duration::from_secs(10),
            request_timeout: Duration::from_secs(30),
            max_connections: 10_000,
            max_connections_per_peer: 256,
            shutdown_grace: Duration::from_secs(10),
            secure_cookies: false,
            session_idle_timeout: Duration::from_secs(3600),
            session_lifetime: Duration::from_secs(12 * 3600),
            live_tail_per_session: 4,
            live_tail_max: 100,
            metrics_bind: None,
            proxy_auth: None,
        }
    }
}

/// `[database]`: how `eventlog serve` (and the other commands) use the database.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct DatabaseConfig {
    /// How long a request waits for a pooled connection before it fails (`503` from the
    /// server). Short, so that an unreachable database answers fast instead of holding
    /// requests. Default 2 s.
    #[serde(with = "duration")]
    pub acquire_timeout: Duration,
    /// PostgreSQL only: the server cancels any statement of `eventlog serve` running longer
    /// than this (`statement_timeout`). `0s` turns it off. Default 20 s, below
    /// `[server] request_timeout`.
    #[serde(with = "duration")]
    pub statement_timeout: Duration,
    /// PostgreSQL only: a streaming replica (hot standby) that serves the admin's and the
    /// API's reads, while writes, logins and the live tail stay on `database_url`. Reads may
    /// lag the primary by the replica's replay delay. Default: none (everything on the
    /// primary).
    pub read_database_url: Option<String>,
}

impl Default for DatabaseConfig {
    fn default() -> Self {
        let connect = crate::store::ConnectOptions::default();
        DatabaseConfig {
            acquire_timeout: connect.acquire_timeout,
            statement_timeout: Duration::from_secs(20),
            read_database_url: None,
        }
    }
}

impl DatabaseConfig {
    /// The pool options these settings describe (with the statement timeout, as the server
    /// uses them).
    pub fn connect_options(&self) -> crate::store::ConnectOptions {
        crate::store::ConnectOptions {
            acquire_timeout: self.acquire_timeout,
            statement_timeout: (!self.statement_timeout.is_zero())
                .then_some(self.statement_timeout),
        }
    }
}

/// `[api]`: the HTTP API under `/api/v1`.
#[derive(Debug, Clone, Copy, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ApiConfig {
    /// Largest request body in bytes; larger ones get 413. Default 8 MiB.
    pub body_limit: usize,
    /// Most request body bytes the server holds at once, over all requests; a request
    /// whose body would pass it gets `503` with `Retry-After` before its body is read, so
    /// memory stays bounded under many large uploads. At least `body_limit`. Default 64 MiB.
    pub max_inflight_bytes: usize,
}

impl Default for ApiConfig {
    fn default() -> Self {
        ApiConfig {
            body_limit: 8 * 1024 * 1024,
            max_inflight_bytes: 64 * 1024 * 1024,
        }
    }
}
