//! The settings eventlog-web owns: `[server]` (`eventlog serve`, sessions, the live tail,
//! `[server.proxy_auth]`) and `[api]` sections of `eventlog.toml`. They are read with the rest
//! of the file: [`WebConfig`] is the file's type with these sections.

use std::net::SocketAddr;
use std::time::Duration;

use eventlog::config::{Section, duration};
use eventlog::error::{ConfigError, Error};
use serde::{Deserialize, Serialize};

mod proxy_auth;

pub use proxy_auth::ProxyAuthConfig;

/// `eventlog.toml` with the sections of eventlog-web: what `eventlog serve` reads.
pub type WebConfig = eventlog::config::ConfigFile<ServerConfig, ApiConfig>;

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
    /// Live-tail streams one user may hold open at once over all their sessions; more get
    /// `429`. Default 16.
    pub live_tail_per_user: usize,
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
            live_tail_per_user: 16,
            live_tail_max: 100,
            metrics_bind: None,
            proxy_auth: None,
        }
    }
}

impl Section for ServerConfig {
    fn validate(&self) -> Result<(), Error> {
        if let Some(proxy) = &self.proxy_auth {
            proxy.validate()?;
        }
        if self.max_connections == 0 {
            return Err(ConfigError::value(
                "server.max_connections",
                "server.max_connections must be at least 1",
            )
            .into());
        }
        if self.session_idle_timeout.is_zero() || self.session_lifetime.is_zero() {
            return Err(ConfigError::value(
                "server.session_idle_timeout",
                "server.session_idle_timeout and server.session_lifetime must be more than 0s",
            )
            .into());
        }
        Ok(())
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

impl Section for ApiConfig {
    fn validate(&self) -> Result<(), Error> {
        if self.max_inflight_bytes < self.body_limit {
            return Err(ConfigError::value(
                "api.max_inflight_bytes",
                format!(
                    "api.max_inflight_bytes ({}) must be at least api.body_limit ({})",
                    self.max_inflight_bytes, self.body_limit
                ),
            )
            .into());
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use eventlog::EventTypes;

    use super::WebConfig as Config;

    #[test]
    fn empty_config_means_defaults() {
        let c = Config::from_toml("").unwrap();
        assert_eq!(c.event_types().unwrap(), EventTypes::default());
        assert_eq!(c.server.bind.to_string(), "127.0.0.1:8000");
        assert_eq!(c.writer.capacity, 100_000);
        assert_eq!(c.server.header_read_timeout, Duration::from_secs(10));
        assert_eq!(c.database.acquire_timeout, Duration::from_secs(2));
    }

    #[test]
    fn server_and_database_timeouts_are_durations() {
        let c = Config::from_toml(
            "[server]\nheader_read_timeout = \"3s\"\nshutdown_grace = \"500ms\"\n\
             [database]\nacquire_timeout = \"1s\"\nstatement_timeout = \"0s\"\n",
        )
        .unwrap();
        assert_eq!(c.server.header_read_timeout, Duration::from_secs(3));
        assert_eq!(c.server.shutdown_grace, Duration::from_millis(500));
        let connect = c.database.connect_options();
        assert_eq!(connect.acquire_timeout, Duration::from_secs(1));
        assert_eq!(connect.statement_timeout, None);
        // Written back as it reads.
        let again = Config::from_toml(&toml::to_string(&c).unwrap()).unwrap();
        assert_eq!(again.server.shutdown_grace, Duration::from_millis(500));
        assert_eq!(c.limits.message_bytes, 65_536);
        assert_eq!(c.limits.data_bytes, 262_144);
        assert!(!c.server.secure_cookies);
        assert_eq!(c.server.session_idle_timeout, Duration::from_secs(3600));
        assert_eq!(c.server.session_lifetime, Duration::from_secs(12 * 3600));
        let err = Config::from_toml("[server]\nsession_idle_timeout = \"0s\"\n").unwrap_err();
        assert!(err.to_string().contains("more than 0s"), "{err}");
    }

    #[test]
    fn bad_configs_say_what_is_wrong() {
        let err =
            Config::from_toml("[[types.type]]\nname = \"bad-name\"\nlabel = \"x\"\n").unwrap_err();
        assert!(err.to_string().contains("\"bad-name\" is invalid"), "{err}");
        let err = Config::from_toml("[server]\nbnid = \"1.2.3.4:5\"\n").unwrap_err();
        assert!(err.to_string().contains("unknown field `bnid`"), "{err}");
        let err = Config::from_toml("[types]\ninclude_defaults = false\n").unwrap_err();
        assert!(
            err.to_string().contains("no event type is configured"),
            "{err}"
        );
        let err = Config::from_toml("[server]\nheader_read_timeout = \"soon\"\n").unwrap_err();
        assert!(
            err.to_string().contains("\"soon\" is not a duration"),
            "{err}"
        );
        let err = Config::from_toml("[api]\nmax_inflight_bytes = 10\n").unwrap_err();
        assert!(err.to_string().contains("at least api.body_limit"), "{err}");
        let err = Config::from_toml("[writer]\ncapacity = 0\n").unwrap_err();
        assert!(err.to_string().contains("at least 1"), "{err}");
    }

    fn env(vars: &[(&str, &str)]) -> Vec<(String, String)> {
        vars.iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    #[test]
    fn environment_overrides_the_file() {
        let file = "database_url = \"sqlite://file.db\"\n[server]\nbind = \"127.0.0.1:1\"\n\
                    max_connections = 5\n";
        let c = Config::from_toml_and_env(
            file,
            env(&[
                ("EVENTLOG_SERVER__BIND", "0.0.0.0:9000"),
                ("EVENTLOG_DATABASE_URL", "postgres://db/x"),
                ("EVENTLOG_WRITER__BATCH_SIZE", "77"),
                ("EVENTLOG_SERVER__SHUTDOWN_GRACE", "3s"),
                // Not keys: command-line options and other programs' variables.
                ("EVENTLOG_CONFIG", "x.toml"),
                ("EVENTLOG_LOG", "debug"),
                ("EVENTLOG_TEST_POSTGRES_URL", "postgres://x"),
                ("OTHER__THING", "1"),
            ]),
        )
        .unwrap();
        assert_eq!(c.server.bind.to_string(), "0.0.0.0:9000");
        assert_eq!(c.database_url.as_deref(), Some("postgres://db/x"));
        assert_eq!(c.writer.batch_size, 77);
        assert_eq!(c.server.shutdown_grace, Duration::from_secs(3));
        // Keys the environment does not name keep the file's value.
        assert_eq!(c.server.max_connections, 5);
        // Without variables: the file.
        let c = Config::from_toml_and_env(file, env(&[])).unwrap();
        assert_eq!(c.server.bind.to_string(), "127.0.0.1:1");
        assert_eq!(c.database_url.as_deref(), Some("sqlite://file.db"));
    }

    #[test]
    fn environment_errors_name_the_variable() {
        let err =
            Config::from_toml_and_env("", env(&[("EVENTLOG_SERVER__BIND", "not-an-address")]))
                .unwrap_err()
                .to_string();
        assert!(
            err.contains("EVENTLOG_SERVER__BIND=\"not-an-address\"") && err.contains("server.bind"),
            "{err}"
        );
        let err = Config::from_toml_and_env("", env(&[("EVENTLOG_SERVER__BNID", "1")]))
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("EVENTLOG_SERVER__BNID") && err.contains("unknown field `bnid`"),
            "{err}"
        );
        let err =
            Config::from_toml_and_env("", env(&[("EVENTLOG_SERVER__MAX_CONNECTIONS", "many")]))
                .unwrap_err()
                .to_string();
        assert!(err.contains("EVENTLOG_SERVER__MAX_CONNECTIONS"), "{err}");
        // Checks across keys still apply to the result.
        let err = Config::from_toml_and_env("", env(&[("EVENTLOG_WRITER__CAPACITY", "0")]))
            .unwrap_err()
            .to_string();
        assert!(err.contains("at least 1"), "{err}");
    }
}
