//! `[notify]` and its `[[notify.channel]]` entries.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::error::{ConfigError, Error};
use crate::event_type::EventTypes;
use crate::store::outbox::NotifyRoute;

/// What a channel posts to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ChannelKind {
    /// A generic webhook: the event as JSON, signed with HMAC-SHA256 when `secret` is set.
    Webhook,
    /// A Slack incoming webhook (an attachment in the type's colour, with blocks).
    Slack,
    /// A Microsoft Teams incoming webhook or workflow (an Adaptive Card message).
    Teams,
}

impl ChannelKind {
    /// The name as configured.
    pub fn as_str(self) -> &'static str {
        match self {
            ChannelKind::Webhook => "webhook",
            ChannelKind::Slack => "slack",
            ChannelKind::Teams => "teams",
        }
    }
}

/// One `[[notify.channel]]`.
#[derive(Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ChannelConfig {
    /// The channel's name, as the admin, the logs and `/metrics` show it: 1–40 characters of
    /// letters, digits, `-` and `_`. Never the URL, which often holds a token.
    pub name: String,
    /// `webhook`, `slack` or `teams`.
    pub kind: ChannelKind,
    /// Where to POST: `https://…` (or `http://…`). A secret: never logged or shown.
    pub url: String,
    /// Webhook only: the HMAC-SHA256 signing key. A secret: never logged or shown.
    #[serde(default)]
    pub secret: Option<String>,
    /// The event types this channel receives; empty (the default): every type.
    #[serde(default)]
    pub types: Vec<String>,
    /// The digest window in seconds: a group's events that arrive within it become one
    /// message (0, the default: one message per event, sent at once).
    #[serde(default)]
    pub digest_secs: u64,
    /// At most this many messages per minute from this process (0, the default: no limit).
    /// Messages over the limit wait, and gather into digests meanwhile.
    #[serde(default)]
    pub rate_limit_per_minute: u32,
}

impl fmt::Debug for ChannelConfig {
    // By hand: the URL (Slack and Teams put the token in it) and the secret never reach a log.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ChannelConfig")
            .field("name", &self.name)
            .field("kind", &self.kind)
            .field("url", &redacted_url(&self.url))
            .field("secret", &self.secret.as_ref().map(|_| "***"))
            .field("types", &self.types)
            .field("digest_secs", &self.digest_secs)
            .field("rate_limit_per_minute", &self.rate_limit_per_minute)
            .finish()
    }
}

/// `scheme://host[:port]/***`: where a URL goes, without its path, query or credentials.
pub fn redacted_url(url: &str) -> String {
    match url::Url::parse(url) {
        Ok(u) => match (u.host_str(), u.port()) {
            (Some(host), Some(port)) => format!("{}://{host}:{port}/***", u.scheme()),
            (Some(host), None) => format!("{}://{host}/***", u.scheme()),
            _ => "***".into(),
        },
        Err(_) => "***".into(),
    }
}

/// `[notify]`: the channels, links and delivery policy.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct NotifyConfig {
    /// The admin's address as people open it (`https://eventlog.example.com`): messages link
    /// to the event's page and the group's timeline under it. Empty: no links.
    pub admin_url: String,
    /// Longest time for one POST (connect, TLS, request, response head), in seconds.
    pub timeout_secs: u64,
    /// Longest wait between two attempts at one message, in seconds (default 300). Retries
    /// start after 1 s and double each time up to this; a `Retry-After` is honoured up to it.
    pub retry_max_interval_secs: u64,
    /// How long after its event a message that keeps failing is retried before it is given
    /// up, in seconds (default 86,400: 24 hours).
    pub give_up_after_secs: u64,
    /// When true, failures are only counted; when false (default) also logged.
    pub fail_silently: bool,
    /// The channels.
    #[serde(rename = "channel")]
    pub channels: Vec<ChannelConfig>,
}

impl Default for NotifyConfig {
    fn default() -> Self {
        NotifyConfig {
            admin_url: String::new(),
            timeout_secs: 10,
            retry_max_interval_secs: 300,
            give_up_after_secs: 86_400,
            fail_silently: false,
            channels: Vec::new(),
        }
    }
}

fn invalid(key: &'static str, message: impl Into<String>) -> Error {
    ConfigError::value(key, message).into()
}

impl NotifyConfig {
    /// Checks names, URLs, secrets and limits; messages name the key at fault and never show
    /// a URL or secret.
    pub fn validate(&self) -> Result<(), Error> {
        if self.timeout_secs == 0 {
            return Err(invalid(
                "notify.timeout_secs",
                "notify.timeout_secs must be at least 1",
            ));
        }
        if self.retry_max_interval_secs == 0 {
            return Err(invalid(
                "notify.retry_max_interval_secs",
                "notify.retry_max_interval_secs must be at least 1",
            ));
        }
        if !self.admin_url.is_empty()
            && !matches!(url::Url::parse(&self.admin_url), Ok(u) if matches!(u.scheme(), "http" | "https"))
        {
            return Err(invalid(
                "notify.admin_url",
                format!(
                    "notify.admin_url {:?} is not an http(s) URL",
                    self.admin_url
                ),
            ));
        }
        let mut names = std::collections::HashSet::new();
        for c in &self.channels {
            let name_ok = (1..=40).contains(&c.name.chars().count())
                && c.name
                    .chars()
                    .all(|ch| ch.is_ascii_alphanumeric() || ch == '-' || ch == '_');
            if !name_ok {
                return Err(invalid(
                    "notify.channel.name",
                    format!(
                        "notify.channel name {:?} must be 1-40 letters, digits, '-' or '_'",
                        c.name
                    ),
                ));
            }
            if !names.insert(c.name.as_str()) {
                return Err(invalid(
                    "notify.channel.name",
                    format!("notify.channel name {:?} is used twice", c.name),
                ));
            }
            let url_ok = matches!(url::Url::parse(&c.url),
                Ok(u) if matches!(u.scheme(), "http" | "https") && u.host_str().is_some());
            if !url_ok {
                return Err(invalid(
                    "notify.channel.url",
                    format!(
                        "notify.channel {:?}: url must be an http:// or https:// URL (not shown: it may hold a token)",
                        c.name
                    ),
                ));
            }
            match (c.kind, &c.secret) {
                (ChannelKind::Webhook, Some(s)) if s.len() < 16 => {
                    return Err(invalid(
                        "notify.channel.secret",
                        format!(
                            "notify.channel {:?}: secret must be at least 16 bytes",
                            c.name
                        ),
                    ));
                }
                (ChannelKind::Slack | ChannelKind::Teams, Some(_)) => {
                    return Err(invalid(
                        "notify.channel.secret",
                        format!(
                            "notify.channel {:?}: secret is for kind = \"webhook\"; Slack and Teams URLs carry their own token",
                            c.name
                        ),
                    ));
                }
                _ => {}
            }
        }
        Ok(())
    }

    /// Checks that every type a channel names is configured.
    pub fn check_types(&self, types: &EventTypes) -> Result<(), Error> {
        for c in &self.channels {
            for t in &c.types {
                if types.get(t).is_none() {
                    return Err(invalid(
                        "notify.channel.types",
                        format!("notify.channel {:?}: unknown event type {t:?}", c.name),
                    ));
                }
            }
        }
        Ok(())
    }

    /// The routes the store applies to each committed event.
    pub fn routes(&self) -> Vec<NotifyRoute> {
        let mut routes = Vec::new();
        for c in &self.channels {
            let delay = std::time::Duration::from_secs(c.digest_secs);
            let types: Vec<&str> = if c.types.is_empty() {
                vec!["*"]
            } else {
                c.types.iter().map(String::as_str).collect()
            };
            routes.extend(types.into_iter().map(|t| NotifyRoute {
                channel: c.name.clone(),
                event_type: t.to_owned(),
                delay,
            }));
        }
        routes
    }

    /// The channel named `name`.
    pub fn channel(&self, name: &str) -> Option<&ChannelConfig> {
        self.channels.iter().find(|c| c.name == name)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn channel(kind: ChannelKind) -> ChannelConfig {
        ChannelConfig {
            name: "oncall".into(),
            kind,
            url: "https://hooks.slack.com/services/T0/B0/tokentokentoken".into(),
            secret: None,
            types: vec![],
            digest_secs: 0,
            rate_limit_per_minute: 0,
        }
    }

    #[test]
    fn secrets_stay_out_of_debug_and_errors() {
        let mut c = channel(ChannelKind::Webhook);
        c.secret = Some("hunter2hunter2hunter2".into());
        let dbg = format!("{c:?}");
        assert!(
            !dbg.contains("tokentoken") && !dbg.contains("hunter2"),
            "{dbg}"
        );
        assert!(dbg.contains("https://hooks.slack.com/***"), "{dbg}");
        let mut bad = channel(ChannelKind::Slack);
        bad.url = "ftp://hooks.slack.com/services/tokentoken".into();
        let cfg = NotifyConfig {
            channels: vec![bad],
            ..NotifyConfig::default()
        };
        let err = cfg.validate().unwrap_err().to_string();
        assert!(
            err.contains("url must be") && !err.contains("tokentoken"),
            "{err}"
        );
    }

    #[test]
    fn config_parses_and_routes_by_type() {
        let text = "admin_url = \"https://log.example.com\"\n\
            [[channel]]\nname = \"oncall\"\nkind = \"slack\"\n\
            url = \"https://hooks.slack.com/services/T/B/X\"\ntypes = [\"error\", \"critical\"]\n\
            digest_secs = 30\n\
            [[channel]]\nname = \"audit\"\nkind = \"webhook\"\nurl = \"http://127.0.0.1:9/h\"\n\
            secret = \"0123456789abcdef\"\n";
        let cfg: NotifyConfig = toml::from_str(text).unwrap();
        cfg.validate().unwrap();
        cfg.check_types(&EventTypes::default()).unwrap();
        let routes = cfg.routes();
        let pairs: Vec<(&str, &str, u64)> = routes
            .iter()
            .map(|r| (r.channel.as_str(), r.event_type.as_str(), r.delay.as_secs()))
            .collect();
        assert_eq!(
            pairs,
            [
                ("oncall", "error", 30),
                ("oncall", "critical", 30),
                ("audit", "*", 0)
            ]
        );
        let mut unknown = cfg.clone();
        unknown.channels[0].types = vec!["nope".into()];
        let err = unknown.check_types(&EventTypes::default()).unwrap_err();
        assert!(
            err.to_string().contains("unknown event type \"nope\""),
            "{err}"
        );
        let mut twice = cfg;
        twice.channels[1].name = "oncall".into();
        assert!(
            twice
                .validate()
                .unwrap_err()
                .to_string()
                .contains("used twice")
        );
    }
}
