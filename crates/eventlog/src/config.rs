//! `eventlog.toml`: event types, writer tuning, server settings.
//!
//! Every key is optional; a missing file section means its defaults. Unknown keys are an error
//! (a typo must not silently fall back to a default).

use std::net::SocketAddr;
use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::error::Error;
use crate::event_type::{EventType, EventTypes};

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
    /// The HTTP API under `/api/v1`.
    pub api: ApiConfig,
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

/// `[writer]`: the batching writer behind every log call.
#[derive(Debug, Clone, Copy, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct WriterConfig {
    /// Events the in-memory queue holds before callers wait (back-pressure).
    pub capacity: usize,
    /// Most events stored in one transaction. The writer does not wait to fill a batch: it
    /// stores what is queued, so batches grow only when events arrive faster than commits.
    pub batch_size: usize,
    /// Longest back-off between retries while the database is unreachable, in milliseconds.
    pub max_backoff_ms: u64,
    /// How long `close()` keeps retrying an unreachable database before it reports the
    /// remaining events as failed, in milliseconds.
    pub shutdown_timeout_ms: u64,
}

impl Default for WriterConfig {
    fn default() -> Self {
        WriterConfig {
            capacity: 100_000,
            batch_size: 5_000,
            max_backoff_ms: 5_000,
            shutdown_timeout_ms: 30_000,
        }
    }
}

/// `[server]`: `eventlog serve`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ServerConfig {
    /// Address to listen on.
    pub bind: SocketAddr,
    /// Cookies are `Secure` and named with the `__Host-` prefix: set this when browsers reach
    /// the admin over HTTPS (a TLS reverse proxy). Default false.
    pub secure_cookies: bool,
    /// A session ends after this many minutes without a request. Default 60.
    pub session_idle_minutes: u32,
    /// A session ends this many hours after login, however active. Default 12.
    pub session_hours: u32,
}

impl Default for ServerConfig {
    fn default() -> Self {
        ServerConfig {
            bind: SocketAddr::from(([127, 0, 0, 1], 8000)),
            secure_cookies: false,
            session_idle_minutes: 60,
            session_hours: 12,
        }
    }
}

/// `[api]`: the HTTP API under `/api/v1`.
#[derive(Debug, Clone, Copy, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ApiConfig {
    /// Largest request body in bytes; larger ones get 413. Default 8 MiB.
    pub body_limit: usize,
}

impl Default for ApiConfig {
    fn default() -> Self {
        ApiConfig {
            body_limit: 8 * 1024 * 1024,
        }
    }
}

impl Config {
    /// Parses and checks a configuration text.
    pub fn from_toml(text: &str) -> Result<Self, Error> {
        let config: Config = toml::from_str(text).map_err(|e| Error::Config(e.to_string()))?;
        config.event_types()?;
        config.retention.check()?;
        #[cfg(feature = "mail")]
        if let Some(mail) = &config.mail {
            mail.validate()?;
        }
        if config.server.session_idle_minutes == 0 || config.server.session_hours == 0 {
            return Err(Error::Config(
                "server.session_idle_minutes and server.session_hours must be at least 1".into(),
            ));
        }
        if config.writer.capacity == 0 || config.writer.batch_size == 0 {
            return Err(Error::Config(
                "writer.capacity and writer.batch_size must be at least 1".into(),
            ));
        }
        Ok(config)
    }

    /// Reads and checks a configuration file.
    pub fn load(path: &Path) -> Result<Self, Error> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| Error::Config(format!("cannot read {}: {e}", path.display())))?;
        Config::from_toml(&text).map_err(|e| match e {
            Error::Config(msg) => Error::Config(format!("{}: {msg}", path.display())),
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
        assert!(!c.server.secure_cookies);
        assert_eq!(c.server.session_idle_minutes, 60);
        assert_eq!(c.server.session_hours, 12);
        let err = Config::from_toml("[server]\nsession_idle_minutes = 0\n").unwrap_err();
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
        let err = Config::from_toml("[writer]\ncapacity = 0\n").unwrap_err();
        assert!(err.to_string().contains("at least 1"), "{err}");
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
