//! `eventlog.toml`: event types, writer tuning, server settings.
//!
//! Every key is optional; a missing file section means its defaults. Unknown keys are an error
//! (a typo must not silently fall back to a default).

use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::error::{ConfigError, Error};
use crate::event_type::{EventType, EventTypes};

mod database;
pub mod duration;
mod env;
mod limits;

pub use database::DatabaseConfig;
use env::EnvOverride;
pub use env::{ENV_PREFIX, ENV_SEPARATOR};
pub use limits::LimitsConfig;

/// A section of `eventlog.toml` that a crate above this one owns (eventlog-web's `[server]`
/// and `[api]`): read with the rest of the file, so that a typo or a bad value is reported
/// when the file is loaded, naming the key (or the environment variable). Where nobody owns
/// it, the section is kept as it was written ([`toml::Table`]).
pub trait Section:
    Serialize + serde::de::DeserializeOwned + Default + Clone + std::fmt::Debug + Send + Sync
{
    /// Checks what the types cannot say (a bound between two keys, a key that must not be
    /// zero); the error names the key.
    fn validate(&self) -> Result<(), Error> {
        Ok(())
    }
}

impl Section for toml::Table {}

/// The configuration file with the `[server]` and `[api]` sections kept as written: what the
/// library reads (eventlog-web reads them as its own types, `eventlog_web::config::WebConfig`).
pub type Config = ConfigFile;

/// The whole configuration file; `S` and `A` are the `[server]` and `[api]` sections, which
/// eventlog-web owns.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields, bound = "S: Section, A: Section")]
pub struct ConfigFile<S = toml::Table, A = toml::Table> {
    /// Database URL; `--database-url` and `EVENTLOG_DATABASE_URL` take precedence.
    pub database_url: Option<String>,
    /// The event types.
    pub types: TypesConfig,
    /// The background writer.
    pub writer: WriterConfig,
    /// `[server]`: `eventlog serve`.
    pub server: S,
    /// `[database]`: connection pool and timeouts.
    pub database: DatabaseConfig,
    /// `[api]`: the HTTP API under `/api/v1`.
    pub api: A,
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

impl<S: Section, A: Section> ConfigFile<S, A> {
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
        let config: Self = if overrides.is_empty() {
            toml::from_str(text).map_err(|e| ConfigError::Syntax {
                message: e.to_string(),
            })?
        } else {
            let mut table: toml::Table = toml::from_str(text).map_err(|e| ConfigError::Syntax {
                message: e.to_string(),
            })?;
            for o in &overrides {
                o.apply::<Self>(&mut table)?;
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
        config.server.validate()?;
        config.api.validate()?;
        config.database.data_keys()?;
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
            return Self::from_toml_and_env("", vars);
        };
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.to_owned(),
            source,
        })?;
        Self::from_toml_and_env(&text, vars).map_err(|e| match e {
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

    fn env(vars: &[(&str, &str)]) -> Vec<(String, String)> {
        vars.iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
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
