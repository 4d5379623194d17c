//! `eventlog.toml`: event types, writer tuning, server settings.
//!
//! Every key is optional; a missing file section means its defaults. Unknown keys are an error
//! (a typo must not silently fall back to a default).

use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::error::{ConfigError, Error};
use crate::event_type::{EventType, EventTypes};

mod duration;
mod env;
mod limits;
mod proxy_auth;
mod server;

use env::EnvOverride;
pub use env::{ENV_PREFIX, ENV_SEPARATOR};
pub use limits::LimitsConfig;
pub use proxy_auth::ProxyAuthConfig;
pub use server::{ApiConfig, DatabaseConfig, ServerConfig};

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
    use std::time::Duration;

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
