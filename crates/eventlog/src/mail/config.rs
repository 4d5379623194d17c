//! `[mail]`: the SMTP server, the sender, the templates, retries and the error policy.

use std::fmt;
use std::time::Duration;

use lettre::message::Mailbox;
use lettre::transport::smtp::authentication::Credentials;
use lettre::transport::smtp::client::{Tls, TlsParameters};
use lettre::{AsyncSmtpTransport, Tokio1Executor};
use serde::{Deserialize, Serialize};

use super::template::{DEFAULT_BODY, DEFAULT_SUBJECT, Template};
use crate::error::{ConfigError, Error};

/// How the connection to the SMTP server is secured (when configured by `host`, not `url`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum MailTls {
    /// Plain SMTP, unencrypted (default port 25). Fit for a relay on localhost.
    #[default]
    None,
    /// STARTTLS required (default port 587).
    Starttls,
    /// SMTP over TLS from the first byte (default port 465).
    Tls,
}

/// `[mail]`: the SMTP server, sender, templates and error policy.
#[derive(Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct MailConfig {
    /// The SMTP server as one URL: `smtp://[user:pass@]host[:port][?tls=required]` or
    /// `smtps://…`. Excludes `host`, `port`, `username`, `password` and `tls`.
    pub url: Option<String>,
    /// SMTP host (default `localhost`).
    pub host: Option<String>,
    /// SMTP port (default by `tls`: 25, 587 or 465).
    pub port: Option<u16>,
    /// SMTP user name; with `password`.
    pub username: Option<String>,
    /// SMTP password; with `username`.
    pub password: Option<String>,
    /// Connection security with `host`.
    pub tls: MailTls,
    /// The sender, `addr@domain` or `Name <addr@domain>`.
    pub from: String,
    /// Subject template.
    pub subject: String,
    /// Body template (the plain-text part; the HTML part is the same text, escaped).
    pub body: String,
    /// When true, failures are only counted; when false (default) also logged as errors.
    pub fail_silently: bool,
    /// Longest time for one SMTP connection or command, in seconds.
    pub timeout_secs: u64,
    /// Longest wait between two attempts at one mail, in seconds (default 300). Retries
    /// start after 1 s and double each time up to this.
    pub retry_max_interval_secs: u64,
    /// How long after its event a mail that keeps failing is retried before it is given up,
    /// in seconds (default 86,400: 24 hours).
    pub give_up_after_secs: u64,
    /// How long closing the sender may spend on one last attempt at the due mails, in
    /// seconds. What is left stays queued in the outbox for the next sender.
    pub close_timeout_secs: u64,
}

impl Default for MailConfig {
    fn default() -> Self {
        MailConfig {
            url: None,
            host: None,
            port: None,
            username: None,
            password: None,
            tls: MailTls::None,
            from: "eventlog@localhost".into(),
            subject: DEFAULT_SUBJECT.into(),
            body: DEFAULT_BODY.into(),
            fail_silently: false,
            timeout_secs: 10,
            retry_max_interval_secs: 300,
            give_up_after_secs: 86_400,
            close_timeout_secs: 30,
        }
    }
}

impl fmt::Debug for MailConfig {
    // By hand so that passwords (field or URL) never reach a log.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MailConfig")
            .field("url", &self.url.as_deref().map(redact_url))
            .field("host", &self.host)
            .field("port", &self.port)
            .field("username", &self.username)
            .field("password", &self.password.as_ref().map(|_| "***"))
            .field("tls", &self.tls)
            .field("from", &self.from)
            .field("subject", &self.subject)
            .field("body", &self.body)
            .field("fail_silently", &self.fail_silently)
            .field("timeout_secs", &self.timeout_secs)
            .field("retry_max_interval_secs", &self.retry_max_interval_secs)
            .field("give_up_after_secs", &self.give_up_after_secs)
            .field("close_timeout_secs", &self.close_timeout_secs)
            .finish()
    }
}

/// `scheme://user:pass@host` → `scheme://user:***@host`.
fn redact_url(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_owned();
    };
    let authority_end = rest.find(['/', '?']).unwrap_or(rest.len());
    match rest[..authority_end].rfind('@') {
        Some(at) => {
            let user = rest[..at].split(':').next().unwrap_or("");
            format!("{scheme}://{user}:***{}", &rest[at..])
        }
        None => url.to_owned(),
    }
}

impl MailConfig {
    /// Checks everything that can be checked before connecting: templates, sender, server
    /// settings. Messages name the `mail.` key at fault.
    pub fn validate(&self) -> Result<(), Error> {
        Template::parse(&self.subject, "mail.subject")?;
        Template::parse(&self.body, "mail.body")?;
        self.sender()?;
        self.transport_builder()?;
        if self.retry_max_interval_secs == 0 {
            return Err(ConfigError::value(
                "mail.retry_max_interval_secs",
                "mail.retry_max_interval_secs must be at least 1",
            )
            .into());
        }
        if self.timeout_secs == 0 {
            return Err(ConfigError::value(
                "mail.timeout_secs",
                "mail.timeout_secs must be at least 1",
            )
            .into());
        }
        Ok(())
    }

    pub(crate) fn sender(&self) -> Result<Mailbox, Error> {
        self.from.parse().map_err(|e| {
            ConfigError::value(
                "mail.from",
                format!("mail.from {:?} is not an e-mail address: {e}", self.from),
            )
            .into()
        })
    }

    pub(crate) fn transport_builder(
        &self,
    ) -> Result<lettre::transport::smtp::AsyncSmtpTransportBuilder, Error> {
        type Transport = AsyncSmtpTransport<Tokio1Executor>;
        let builder = if let Some(url) = &self.url {
            if self.host.is_some()
                || self.port.is_some()
                || self.username.is_some()
                || self.password.is_some()
                || self.tls != MailTls::None
            {
                return Err(ConfigError::value(
                    "mail.url",
                    "set either mail.url or mail.host/port/username/password/tls, not both",
                )
                .into());
            }
            Transport::from_url(url).map_err(|e| {
                Error::from(ConfigError::value(
                    "mail.url",
                    format!(
                        "mail.url {:?} is not a usable SMTP URL (smtp://host:port or smtps://…): {e}",
                        redact_url(url)
                    ),
                ))
            })?
        } else {
            let host = self.host.clone().unwrap_or_else(|| "localhost".into());
            let tls_params = || {
                TlsParameters::new(host.clone()).map_err(|e| {
                    Error::from(ConfigError::value(
                        "mail.tls",
                        format!("mail: cannot set up TLS for {host:?}: {e}"),
                    ))
                })
            };
            let (tls, port) = match self.tls {
                MailTls::None => (Tls::None, 25),
                MailTls::Starttls => (Tls::Required(tls_params()?), 587),
                MailTls::Tls => (Tls::Wrapper(tls_params()?), 465),
            };
            let mut builder = Transport::builder_dangerous(host.clone())
                .tls(tls)
                .port(self.port.unwrap_or(port));
            match (&self.username, &self.password) {
                (Some(user), Some(pass)) => {
                    builder = builder.credentials(Credentials::new(user.clone(), pass.clone()));
                }
                (None, None) => {}
                _ => {
                    return Err(ConfigError::value(
                        "mail.username",
                        "mail.username and mail.password go together; set both or neither",
                    )
                    .into());
                }
            }
            builder
        };
        Ok(builder.timeout(Some(Duration::from_secs(self.timeout_secs))))
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn config_errors_name_the_key() {
        // Each case: a change to the default configuration, and what its error says.
        type Change = fn(&mut MailConfig);
        let cases: [(Change, &str); 5] = [
            (
                |c| c.from = "not an address".into(),
                "mail.from \"not an address\" is not an e-mail address",
            ),
            (
                |c| c.url = Some("ftp://x".into()),
                "mail.url \"ftp://x\" is not a usable SMTP URL",
            ),
            (
                |c| (c.url, c.host) = (Some("smtp://x".into()), Some("y".into())),
                "set either mail.url or mail.host",
            ),
            (
                |c| c.username = Some("u".into()),
                "mail.username and mail.password go together",
            ),
            (
                |c| c.retry_max_interval_secs = 0,
                "mail.retry_max_interval_secs must be at least 1",
            ),
        ];
        for (change, want) in cases {
            let mut cfg = MailConfig::default();
            change(&mut cfg);
            let err = cfg.validate().unwrap_err().to_string();
            assert!(err.contains(want), "{err} should contain {want}");
        }
        assert!(MailConfig::default().validate().is_ok());
        assert!(
            MailConfig {
                url: Some("smtps://u:p@smtp.example.com".into()),
                ..MailConfig::default()
            }
            .validate()
            .is_ok()
        );
    }

    #[test]
    fn debug_hides_passwords() {
        let cfg = MailConfig {
            url: Some("smtps://user:hunter2@smtp.example.com:465".into()),
            password: Some("hunter3".into()),
            ..MailConfig::default()
        };
        let dbg = format!("{cfg:?}");
        assert!(
            !dbg.contains("hunter2") && !dbg.contains("hunter3"),
            "{dbg}"
        );
        assert!(
            dbg.contains("smtps://user:***@smtp.example.com:465"),
            "{dbg}"
        );
    }
}
