//! `eventlog.toml`: event types, writer tuning, server settings.
//!
//! Every key is optional; a missing file section means its defaults. Unknown keys are an error
//! (a typo must not silently fall back to a default).

use std::net::SocketAddr;
use std::path::Path;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::error::{ConfigError, Error};
use crate::event_type::{EventType, EventTypes};

mod proxy_auth;
pub use proxy_auth::ProxyAuthConfig;

/// The whole configuration file.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    /// Database URL; `--database-url` and `EVENTLOG_DATABASE_URL` take precedence.
    pub database_url: Option<String>,
    /// The event types.
    pub types: TypesConfig,
    /// The background writer.
    pub writer: WriterConfig,
    /// `eventlog serve`.
    pub server: ServerConfig,
    /// `[database]`: connection pool and timeouts.
    pub database: DatabaseConfig,
    /// The HTTP API under `/api/v1`.
    pub api: ApiConfig,
    /// `[limits]`: the largest message and data an event may have.
    pub limits: LimitsConfig,
    /// Automatic deletion of old events.
    pub retention: crate::retention::RetentionConfig,
    /// `[mail]`: e-mail notification; absent means no mail is sent.
    #[cfg(feature = "mail")]
    pub mail: Option<crate::mail::MailConfig>,
}

/// `[types]`: the configured event types.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct TypesConfig {
    /// Start from `info`, `warning`, `error`, `critical` (true, the default) or from nothing.
    pub include_defaults: bool,
    /// Types to add, least severe first. One named like a default replaces it in place.
    #[serde(rename = "type")]
    pub types: Vec<EventType>,
}

impl Default for TypesConfig {
    fn default() -> Self {
        TypesConfig {
            include_defaults: true,
            types: Vec::new(),
        }
    }
}

/// `[writer]`: the batching writer behind every log call (the writer's own options type).
pub use crate::writer::WriterOptions as WriterConfig;

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

/// Durations in the configuration, written like `10s`, `500ms` or `2m`.
mod duration {
    use std::time::Duration;

    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(&humantime::format_duration(*d))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
        let text = String::deserialize(d)?;
        humantime::parse_duration(text.trim()).map_err(|e| {
            serde::de::Error::custom(format!(
                "{text:?} is not a duration ({e}); write it like 10s, 500ms or 2m"
            ))
        })
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

/// Prefix of the environment variables that override configuration keys.
pub const ENV_PREFIX: &str = "EVENTLOG_";

/// Separates a section from its key in an environment variable's name
/// (`EVENTLOG_SERVER__BIND` is `[server] bind`).
pub const ENV_SEPARATOR: &str = "__";

/// One configuration key set by an environment variable.
#[derive(Debug, Clone)]
struct EnvOverride {
    /// The variable, to name it in errors.
    var: String,
    /// The key's path: `["server", "bind"]`.
    path: Vec<String>,
    /// The value as written.
    raw: String,
}

impl EnvOverride {
    /// The variables that name configuration keys: `EVENTLOG_DATABASE_URL` (the one
    /// top-level key) and every `EVENTLOG_SECTION__KEY[__KEY…]`. Other `EVENTLOG_` variables
    /// (`EVENTLOG_CONFIG`, `EVENTLOG_LOG`, …) are options of the command line, not keys.
    fn from_vars(vars: impl IntoIterator<Item = (String, String)>) -> Vec<EnvOverride> {
        let mut found: Vec<EnvOverride> = vars
            .into_iter()
            .filter_map(|(var, raw)| {
                let name = var.strip_prefix(ENV_PREFIX)?;
                let path: Vec<String> = if name == "DATABASE_URL" {
                    vec!["database_url".to_owned()]
                } else if name.contains(ENV_SEPARATOR) {
                    name.split(ENV_SEPARATOR)
                        .map(|part| part.to_ascii_lowercase())
                        .collect()
                } else {
                    return None;
                };
                Some(EnvOverride { var, path, raw })
            })
            .collect();
        // Deterministic: the same environment always gives the same result and first error.
        found.sort_by(|a, b| a.var.cmp(&b.var));
        found
    }

    /// The value as TOML would read it (`8` a number, `true` a boolean, `[1, 2]` an array),
    /// and as a plain string.
    fn values(&self) -> (Option<toml::Value>, toml::Value) {
        let typed = toml::from_str::<toml::Table>(&format!("v = {}", self.raw))
            .ok()
            .and_then(|mut t| t.remove("v"))
            .filter(|v| !v.is_str());
        (typed, toml::Value::String(self.raw.clone()))
    }

    /// Sets the key in `table`, typed when the key takes the typed value, else as a string.
    /// Tried on its own first, so that an error names this variable.
    fn apply(&self, table: &mut toml::Table) -> Result<(), Error> {
        if self.path.iter().any(String::is_empty) {
            return Err(ConfigError::Env {
                var: self.var.clone(),
                message: format!(
                    "{}: empty section or key name (write {ENV_PREFIX}SECTION{ENV_SEPARATOR}KEY)",
                    self.var
                ),
            }
            .into());
        }
        let (typed, text) = self.values();
        let mut first_error = None;
        for value in typed.into_iter().chain([text]) {
            let mut alone = toml::Table::new();
            insert(&mut alone, &self.path, value.clone());
            match toml::Value::Table(alone).try_into::<Config>() {
                Ok(_) => {
                    insert(table, &self.path, value);
                    return Ok(());
                }
                Err(e) => {
                    first_error.get_or_insert(e);
                }
            }
        }
        let e = first_error.map(|e| e.to_string()).unwrap_or_default();
        Err(Error::Config(ConfigError::Env {
            var: self.var.clone(),
            message: format!(
                "environment variable {}={:?} (key {}): {}",
                self.var,
                self.raw,
                self.path.join("."),
                e.trim()
            ),
        }))
    }
}

/// Sets `path` in `table`, creating the sections on the way (a section given as something
/// else in the file is replaced: the environment wins).
fn insert(table: &mut toml::Table, path: &[String], value: toml::Value) {
    let Some((last, sections)) = path.split_last() else {
        return;
    };
    let mut at = table;
    for section in sections {
        let entry = at
            .entry(section.clone())
            .or_insert_with(|| toml::Value::Table(toml::Table::new()));
        if !entry.is_table() {
            *entry = toml::Value::Table(toml::Table::new());
        }
        let toml::Value::Table(next) = entry else {
            return;
        };
        at = next;
    }
    at.insert(last.clone(), value);
}

/// `[limits]`: the largest message and structured data an event may have. Events past them
/// are refused (the API answers `400` naming the cap), so one client cannot fill the database
/// or the admin's pages with a few huge events.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LimitsConfig {
    /// Longest message, in bytes of UTF-8. Default 64 KiB (65,536).
    pub message_bytes: usize,
    /// Longest `data`, in bytes as compact JSON. Default 256 KiB (262,144).
    pub data_bytes: usize,
}

impl Default for LimitsConfig {
    fn default() -> Self {
        LimitsConfig {
            message_bytes: 64 * 1024,
            data_bytes: 256 * 1024,
        }
    }
}

impl LimitsConfig {
    /// Checks an event's message and data against the caps.
    pub fn check(&self, event: &crate::event::NewEvent) -> Result<(), crate::ValidationError> {
        let bytes = event.message.len();
        if bytes > self.message_bytes {
            return Err(crate::ValidationError::MessageBytes {
                bytes,
                limit: self.message_bytes,
            });
        }
        if let Some(data) = &event.data {
            let bytes = json_len(data);
            if bytes > self.data_bytes {
                return Err(crate::ValidationError::DataBytes {
                    bytes,
                    limit: self.data_bytes,
                });
            }
        }
        Ok(())
    }
}

/// The length of a value written as compact JSON, counted without building the text.
fn json_len(value: &serde_json::Value) -> usize {
    struct Count(usize);
    impl std::io::Write for Count {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0 += buf.len();
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    let mut count = Count(0);
    // Writing a `Value` to a sink that never fails cannot fail.
    let _ = serde_json::to_writer(&mut count, value);
    count.0
}

impl Config {
    /// Parses and checks a configuration text.
    pub fn from_toml(text: &str) -> Result<Self, Error> {
        Self::from_toml_and_env(text, std::iter::empty())
    }

    /// Parses a configuration text, then lets environment variables override its keys, and
    /// checks the result. `EVENTLOG_SERVER__BIND=0.0.0.0:8000` sets `[server] bind`:
    /// [`ENV_PREFIX`], the section, [`ENV_SEPARATOR`], the key, in any case (nested
    /// sections: `EVENTLOG_RETENTION__TYPES__DEBUG=7d`); `EVENTLOG_DATABASE_URL` sets
    /// `database_url`. Values are read as TOML values where the key takes one (`8`, `true`)
    /// and as strings otherwise. An error names the variable.
    pub fn from_toml_and_env(
        text: &str,
        vars: impl IntoIterator<Item = (String, String)>,
    ) -> Result<Self, Error> {
        let overrides = EnvOverride::from_vars(vars);
        let config: Config = if overrides.is_empty() {
            toml::from_str(text).map_err(|e| ConfigError::Syntax {
                message: e.to_string(),
            })?
        } else {
            let mut table: toml::Table = toml::from_str(text).map_err(|e| ConfigError::Syntax {
                message: e.to_string(),
            })?;
            for o in &overrides {
                o.apply(&mut table)?;
            }
            toml::Value::Table(table).try_into().map_err(|e| {
                let vars: Vec<&str> = overrides.iter().map(|o| o.var.as_str()).collect();
                ConfigError::Syntax {
                    message: format!(
                        "{} (with the environment variables {})",
                        e.to_string().trim(),
                        vars.join(", ")
                    ),
                }
            })?
        };
        let types = config.event_types()?;
        config.retention.check_types(&types)?;
        #[cfg(feature = "mail")]
        if let Some(mail) = &config.mail {
            mail.validate()?;
        }
        if config.api.max_inflight_bytes < config.api.body_limit {
            return Err(ConfigError::value(
                "api.max_inflight_bytes",
                format!(
                    "api.max_inflight_bytes ({}) must be at least api.body_limit ({})",
                    config.api.max_inflight_bytes, config.api.body_limit
                ),
            )
            .into());
        }
        if let Some(proxy) = &config.server.proxy_auth {
            proxy.validate()?;
        }
        if config.server.max_connections == 0 {
            return Err(ConfigError::value(
                "server.max_connections",
                "server.max_connections must be at least 1",
            )
            .into());
        }
        if config.server.session_idle_timeout.is_zero() || config.server.session_lifetime.is_zero()
        {
            return Err(ConfigError::value(
                "server.session_idle_timeout",
                "server.session_idle_timeout and server.session_lifetime must be more than 0s",
            )
            .into());
        }
        if config.limits.message_bytes == 0 || config.limits.data_bytes == 0 {
            return Err(ConfigError::value(
                "limits.message_bytes",
                "limits.message_bytes and limits.data_bytes must be at least 1",
            )
            .into());
        }
        if config.writer.capacity == 0 || config.writer.batch_size == 0 {
            return Err(ConfigError::value(
                "writer.capacity",
                "writer.capacity and writer.batch_size must be at least 1",
            )
            .into());
        }
        Ok(config)
    }

    /// Reads and checks a configuration file.
    pub fn load(path: &Path) -> Result<Self, Error> {
        Self::load_with_env(Some(path), std::iter::empty())
    }

    /// The configuration `eventlog` runs with: the file (or the defaults without one), its
    /// keys overridden by the `EVENTLOG_SECTION__KEY` variables of `vars` (pass
    /// `std::env::vars()`), as [`Config::from_toml_and_env`] describes.
    pub fn load_with_env(
        path: Option<&Path>,
        vars: impl IntoIterator<Item = (String, String)>,
    ) -> Result<Self, Error> {
        let Some(path) = path else {
            return Config::from_toml_and_env("", vars);
        };
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.to_owned(),
            source,
        })?;
        Config::from_toml_and_env(&text, vars).map_err(|e| match e {
            Error::Config(ConfigError::Env { var, message }) => {
                ConfigError::Env { var, message }.into()
            }
            Error::Config(source) => ConfigError::InFile {
                path: path.to_owned(),
                source: Box::new(source),
            }
            .into(),
            other => other,
        })
    }

    /// The configured event types, in severity order.
    pub fn event_types(&self) -> Result<EventTypes, Error> {
        let extra = self.types.types.clone();
        let types = if self.types.include_defaults {
            EventTypes::defaults_with(extra)?
        } else {
            EventTypes::new(extra)?
        };
        Ok(types)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
    fn limits_count_bytes_of_the_message_and_of_the_data_as_json() {
        let limits = Config::from_toml("[limits]\nmessage_bytes = 4\ndata_bytes = 11\n")
            .unwrap()
            .limits;
        let group = crate::GroupId::named("g").unwrap();
        let mut e = crate::NewEvent::new("info", group, "äb");
        assert!(limits.check(&e).is_ok(), "4 bytes of UTF-8");
        e.message = "äbcd".into();
        let err = limits.check(&e).unwrap_err().to_string();
        assert_eq!(
            err,
            "message is 5 bytes long; [limits] message_bytes allows at most 4 bytes (UTF-8)"
        );
        e.message = "m".into();
        e.data = Some(serde_json::json!({"k": "abc"}));
        assert!(limits.check(&e).is_ok(), "the data is 11 bytes as JSON");
        e.data = Some(serde_json::json!({"k": "abcd"}));
        let err = limits.check(&e).unwrap_err().to_string();
        assert!(
            err.contains("data is 12 bytes") && err.contains("data_bytes allows at most 11"),
            "{err}"
        );
        let err = Config::from_toml("[limits]\ndata_bytes = 0\n").unwrap_err();
        assert!(err.to_string().contains("at least 1"), "{err}");
    }

    #[test]
    fn types_extend_or_replace_the_defaults() {
        let c = Config::from_toml(
            r#"
            [[types.type]]
            name = "mail_sent"
            label = "Mail sent"
            bgcolor = "green"
            "#,
        )
        .unwrap();
        let t = c.event_types().unwrap();
        assert_eq!(t.names().last(), Some("mail_sent"));
        assert_eq!(t.names().count(), 5);

        let only = Config::from_toml(
            "[types]\ninclude_defaults = false\n[[types.type]]\nname = \"step\"\nlabel = \"Step\"\n",
        )
        .unwrap();
        assert_eq!(
            only.event_types().unwrap().names().collect::<Vec<_>>(),
            ["step"]
        );
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

    #[cfg(feature = "mail")]
    #[test]
    fn environment_sets_nested_mail_keys() {
        let file = "[mail]\nurl = \"smtp://file:25\"\nfrom = \"a@example.com\"\n";
        let c = Config::from_toml_and_env(
            file,
            env(&[
                ("EVENTLOG_MAIL__URL", "smtp://env:2525"),
                // A string key whose value reads as a number stays a string.
                ("EVENTLOG_MAIL__SUBJECT", "12345"),
            ]),
        )
        .unwrap();
        let mail = c.mail.expect("mail section");
        assert_eq!(mail.url.as_deref(), Some("smtp://env:2525"));
        assert_eq!(mail.subject, "12345");
        assert_eq!(mail.from, "a@example.com");
        // The whole section from the environment alone.
        let c = Config::from_toml_and_env("", env(&[("EVENTLOG_MAIL__URL", "smtp://env:2525")]))
            .unwrap();
        assert_eq!(
            c.mail.expect("mail from env").url.as_deref(),
            Some("smtp://env:2525")
        );
    }

    #[cfg(feature = "mail")]
    #[test]
    #[allow(clippy::unwrap_used)]
    fn mail_section_is_checked_on_load() {
        let c = Config::from_toml("[mail]\nurl = \"smtp://127.0.0.1:2525\"\n").unwrap();
        let mail = c.mail.expect("mail section");
        assert_eq!(mail.subject, crate::mail::DEFAULT_SUBJECT);
        assert!(!mail.fail_silently);
        assert!(Config::from_toml("").unwrap().mail.is_none());
        let err = Config::from_toml("[mail]\nsubject = \"{type} {foo}\"\n").unwrap_err();
        assert!(
            err.to_string()
                .contains("unknown placeholder {foo} in mail.subject; known: {type}"),
            "{err}"
        );
        let err = Config::from_toml("[mail]\nsmtp = \"x\"\n").unwrap_err();
        assert!(err.to_string().contains("unknown field `smtp`"), "{err}");
        let err = Config::from_toml("[mail]\ntls = \"ssl\"\n").unwrap_err();
        assert!(err.to_string().contains("unknown variant `ssl`"), "{err}");
    }
}
