//! E-mail notification of events (SPEC §5).
//!
//! # Overview
//! An event whose `send_mail` holds an address is mailed to it, one mail per event, with a
//! plain-text and an HTML part rendered from the `[mail]` templates of `eventlog.toml`. Sending
//! happens on a tokio task of its own behind a bounded queue: [`Mailer::notify`] never blocks and
//! never fails, so a slow or dead SMTP server can neither delay nor lose an event (the event is
//! already stored when it is notified). Failures are counted ([`Mailer::stats`]) and, unless
//! `fail_silently = true`, logged with `tracing::error!`.
//!
//! # Usage
//! ```toml
//! [mail]
//! url = "smtps://user:secret@smtp.example.com"   # or host/port/username/password/tls
//! from = "Event Log <eventlog@example.com>"
//! subject = "Event Log: {type}"
//! body = "The Event was {type} on {date}\n\n{message}\n\n-- {initiator}"
//! fail_silently = false
//! ```
//! Placeholders: `{type}` (the type's label), `{date}`, `{message}`, `{data}` (pretty JSON),
//! `{initiator}`; `{{` and `}}` are literal braces.
//!
//! ```no_run
//! # async fn demo(events: Vec<eventlog::Event>) -> Result<(), eventlog::Error> {
//! use eventlog::{EventTypes, mail::{MailConfig, Mailer}};
//! let mailer = Mailer::start(MailConfig::default(), EventTypes::default())?;
//! mailer.notify(&events); // after the events were committed
//! mailer.close().await;
//! println!("{:?}", mailer.stats());
//! # Ok(()) }
//! ```

use std::fmt;
use std::sync::Arc;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use lettre::message::{Mailbox, MultiPart};
use lettre::transport::smtp::authentication::Credentials;
use lettre::transport::smtp::client::{Tls, TlsParameters};
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};
use serde::{Deserialize, Serialize};
use tokio::task::JoinHandle;

use crate::error::Error;
use crate::event::Event;
use crate::event_type::EventTypes;

/// Default subject template.
pub const DEFAULT_SUBJECT: &str = "Event Log: {type}";
/// Default body template.
pub const DEFAULT_BODY: &str = "The Event was {type} on {date}\n\n{message}\n\n-- {initiator}";
/// The placeholders a template may use.
pub const PLACEHOLDERS: [&str; 5] = ["type", "date", "message", "data", "initiator"];

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
    /// Mails waiting to be sent; notifications beyond this count as failed.
    pub queue_capacity: usize,
    /// How long [`Mailer::close`] waits for queued mails, in seconds.
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
            queue_capacity: 10_000,
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
            .field("queue_capacity", &self.queue_capacity)
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
        if self.queue_capacity == 0 {
            return Err(Error::Config(
                "mail.queue_capacity must be at least 1".into(),
            ));
        }
        if self.timeout_secs == 0 {
            return Err(Error::Config("mail.timeout_secs must be at least 1".into()));
        }
        Ok(())
    }

    fn sender(&self) -> Result<Mailbox, Error> {
        self.from.parse().map_err(|e| {
            Error::Config(format!(
                "mail.from {:?} is not an e-mail address: {e}",
                self.from
            ))
        })
    }

    fn transport_builder(
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
                return Err(Error::Config(
                    "set either mail.url or mail.host/port/username/password/tls, not both".into(),
                ));
            }
            Transport::from_url(url).map_err(|e| {
                Error::Config(format!(
                    "mail.url {:?} is not a usable SMTP URL (smtp://host:port or smtps://…): {e}",
                    redact_url(url)
                ))
            })?
        } else {
            let host = self.host.clone().unwrap_or_else(|| "localhost".into());
            let tls_params = || {
                TlsParameters::new(host.clone()).map_err(|e| {
                    Error::Config(format!("mail: cannot set up TLS for {host:?}: {e}"))
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
                    return Err(Error::Config(
                        "mail.username and mail.password go together; set both or neither".into(),
                    ));
                }
            }
            builder
        };
        Ok(builder.timeout(Some(Duration::from_secs(self.timeout_secs))))
    }
}

/// One value a template can show.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Field {
    Type,
    Date,
    Message,
    Data,
    Initiator,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Segment {
    Text(String),
    Field(Field),
}

/// A parsed subject or body template: text with `{placeholder}`s.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Template {
    segments: Vec<Segment>,
}

impl Template {
    /// Parses `source`; `key` names it in errors (`mail.subject`). Unknown placeholders and stray
    /// `{` are rejected.
    pub fn parse(source: &str, key: &str) -> Result<Self, Error> {
        let mut segments = Vec::new();
        let mut text = String::new();
        let mut rest = source;
        while let Some(pos) = rest.find(['{', '}']) {
            text.push_str(&rest[..pos]);
            let tail = &rest[pos..];
            if tail.starts_with("{{") || tail.starts_with("}}") {
                text.push_str(&tail[..1]);
                rest = &tail[2..];
            } else if let Some(after) = tail.strip_prefix('}') {
                text.push('}');
                rest = after;
            } else {
                let Some(end) = tail.find('}') else {
                    return Err(Error::Config(format!(
                        "unclosed '{{' in {key}; write {{{{ for a literal brace"
                    )));
                };
                let name = &tail[1..end];
                let field = match name {
                    "type" => Field::Type,
                    "date" => Field::Date,
                    "message" => Field::Message,
                    "data" => Field::Data,
                    "initiator" => Field::Initiator,
                    _ => {
                        let known = PLACEHOLDERS.map(|p| format!("{{{p}}}")).join(", ");
                        return Err(Error::Config(format!(
                            "unknown placeholder {{{name}}} in {key}; known: {known}"
                        )));
                    }
                };
                if !text.is_empty() {
                    segments.push(Segment::Text(std::mem::take(&mut text)));
                }
                segments.push(Segment::Field(field));
                rest = &tail[end + 1..];
            }
        }
        text.push_str(rest);
        if !text.is_empty() {
            segments.push(Segment::Text(text));
        }
        Ok(Template { segments })
    }

    /// The template filled in as plain text.
    pub fn render_text(&self, event: &Event, types: &EventTypes) -> String {
        let mut out = String::new();
        for seg in &self.segments {
            match seg {
                Segment::Text(t) => out.push_str(t),
                Segment::Field(f) => out.push_str(&field_value(*f, event, types)),
            }
        }
        out
    }

    /// The template filled in as an HTML fragment: everything escaped, line breaks as `<br>`,
    /// `{data}` as a `<pre>` block.
    pub fn render_html(&self, event: &Event, types: &EventTypes) -> String {
        let mut out = String::new();
        for seg in &self.segments {
            match seg {
                Segment::Text(t) => push_html_text(&mut out, t),
                Segment::Field(Field::Data) => {
                    let data = field_value(Field::Data, event, types);
                    if !data.is_empty() {
                        out.push_str("<pre>");
                        out.push_str(&escape_html(&data));
                        out.push_str("</pre>");
                    }
                }
                Segment::Field(f) => push_html_text(&mut out, &field_value(*f, event, types)),
            }
        }
        out
    }
}

fn field_value(field: Field, event: &Event, types: &EventTypes) -> String {
    match field {
        Field::Type => types.display(&event.event_type).label,
        Field::Date => event.timestamp.format("%Y-%m-%d %H:%M:%S UTC").to_string(),
        Field::Message => event.message.clone(),
        Field::Data => event
            .data
            .as_ref()
            .map(|d| serde_json::to_string_pretty(d).unwrap_or_else(|_| d.to_string()))
            .unwrap_or_default(),
        Field::Initiator => event.initiator.clone().unwrap_or_default(),
    }
}

fn push_html_text(out: &mut String, text: &str) {
    let mut lines = text.split('\n');
    if let Some(first) = lines.next() {
        out.push_str(&escape_html(first));
    }
    for line in lines {
        out.push_str("<br>\n");
        out.push_str(&escape_html(line));
    }
}

/// Escapes `& < > " '` for HTML text and attribute values.
pub fn escape_html(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// Builds the mail for one event from the configuration.
#[derive(Debug, Clone)]
pub struct MailRenderer {
    from: Mailbox,
    subject: Template,
    body: Template,
    types: EventTypes,
}

impl MailRenderer {
    /// Checks the templates and sender of `config`.
    pub fn new(config: &MailConfig, types: EventTypes) -> Result<Self, Error> {
        Ok(MailRenderer {
            from: config.sender()?,
            subject: Template::parse(&config.subject, "mail.subject")?,
            body: Template::parse(&config.body, "mail.body")?,
            types,
        })
    }

    /// The subject line (control characters such as line breaks become spaces).
    pub fn subject(&self, event: &Event) -> String {
        self.subject
            .render_text(event, &self.types)
            .chars()
            .map(|c| if c.is_control() { ' ' } else { c })
            .collect()
    }

    /// The plain-text part.
    pub fn text(&self, event: &Event) -> String {
        self.body.render_text(event, &self.types)
    }

    /// The HTML part: a whole document around the escaped body.
    pub fn html(&self, event: &Event) -> String {
        format!(
            "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>{}</title></head>\n\
             <body style=\"font-family: sans-serif\">\n{}\n</body></html>\n",
            escape_html(&self.subject(event)),
            self.body.render_html(event, &self.types)
        )
    }

    /// The mail for `event` to `to`.
    pub fn message(&self, event: &Event, to: &str) -> Result<Message, String> {
        let to: Mailbox = to
            .parse()
            .map_err(|e| format!("recipient {to:?} is not an e-mail address: {e}"))?;
        Message::builder()
            .from(self.from.clone())
            .to(to)
            .subject(self.subject(event))
            .multipart(MultiPart::alternative_plain_html(
                self.text(event),
                self.html(event),
            ))
            .map_err(|e| format!("cannot build the mail: {e}"))
    }
}

/// Counts of the mailer since it started.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct MailStats {
    /// Mails accepted into the queue.
    pub queued: u64,
    /// Mails the SMTP server accepted.
    pub sent: u64,
    /// Mails not sent: SMTP errors, bad recipients, full queue, closed mailer, close timeout.
    pub failed: u64,
    /// Mails queued but neither sent nor failed yet.
    pub pending: u64,
}

#[derive(Debug, Default)]
struct Counters {
    queued: AtomicU64,
    sent: AtomicU64,
    failed: AtomicU64,
    /// Queued mails the task has finished with (sent or failed).
    done: AtomicU64,
    fail_silently: bool,
}

impl Counters {
    fn fail(&self, event: &Event, to: &str, reason: &str) {
        self.failed.fetch_add(1, Ordering::Relaxed);
        if !self.fail_silently {
            tracing::error!(event = %event.uuid, to, "cannot send event mail: {reason}");
        }
    }
}

/// Sends event mails from a tokio task of its own. Cheap to share behind an `Arc`.
#[derive(Debug)]
pub struct Mailer {
    counters: Arc<Counters>,
    queue: Mutex<Option<flume::Sender<(Event, String)>>>,
    task: tokio::sync::Mutex<Option<JoinHandle<()>>>,
    close_timeout: Duration,
}

impl Mailer {
    /// Checks `config` and starts the sending task on the current tokio runtime.
    pub fn start(config: MailConfig, event_types: EventTypes) -> Result<Mailer, Error> {
        let handle = tokio::runtime::Handle::try_current()
            .map_err(|_| Error::Config("Mailer::start needs a running tokio runtime".into()))?;
        config.validate()?;
        let renderer = MailRenderer::new(&config, event_types)?;
        let builder = config.transport_builder()?;
        let (tx, rx) = flume::bounded::<(Event, String)>(config.queue_capacity);
        let counters = Arc::new(Counters {
            fail_silently: config.fail_silently,
            ..Counters::default()
        });
        let send_timeout = Duration::from_secs(config.timeout_secs.saturating_mul(3));
        let task_counters = counters.clone();
        let task = handle.spawn(async move {
            // Built inside the runtime: the connection pool spawns its own cleanup task.
            let transport: AsyncSmtpTransport<Tokio1Executor> = builder.build();
            while let Ok((event, to)) = rx.recv_async().await {
                let result = match renderer.message(&event, &to) {
                    Ok(mail) => {
                        match tokio::time::timeout(send_timeout, transport.send(mail)).await {
                            Ok(Ok(_)) => Ok(()),
                            Ok(Err(e)) => Err(format!("SMTP error: {e}")),
                            Err(_) => Err(format!("SMTP send timed out after {send_timeout:?}")),
                        }
                    }
                    Err(e) => Err(e),
                };
                match result {
                    Ok(()) => {
                        task_counters.sent.fetch_add(1, Ordering::Relaxed);
                    }
                    Err(reason) => task_counters.fail(&event, &to, &reason),
                }
                task_counters.done.fetch_add(1, Ordering::SeqCst);
            }
        });
        Ok(Mailer {
            counters,
            queue: Mutex::new(Some(tx)),
            task: tokio::sync::Mutex::new(Some(task)),
            close_timeout: Duration::from_secs(config.close_timeout_secs),
        })
    }

    /// Queues one mail per event that has a `send_mail` recipient; events without are skipped.
    /// Never blocks and never fails: a full queue or a closed mailer counts the mail as failed.
    pub fn notify(&self, events: &[Event]) {
        let queue = self.queue.lock().unwrap_or_else(|p| p.into_inner());
        for event in events {
            let Some(to) = &event.send_mail else { continue };
            let reason = match queue.as_ref() {
                Some(tx) => {
                    // Counted before sending so that `done` can never overtake `queued`.
                    self.counters.queued.fetch_add(1, Ordering::SeqCst);
                    let reason = match tx.try_send((event.clone(), to.clone())) {
                        Ok(()) => continue,
                        Err(flume::TrySendError::Full(_)) => "the mail queue is full",
                        Err(flume::TrySendError::Disconnected(_)) => "the mail task has stopped",
                    };
                    self.counters.queued.fetch_sub(1, Ordering::SeqCst);
                    reason
                }
                None => "the mailer is closed",
            };
            self.counters.fail(event, to, reason);
        }
    }

    /// Current counts.
    pub fn stats(&self) -> MailStats {
        // `done` before `queued`: a mail is counted as queued before the task can finish it,
        // so this order never shows a negative backlog.
        let done = self.counters.done.load(Ordering::SeqCst);
        let queued = self.counters.queued.load(Ordering::SeqCst);
        MailStats {
            queued,
            sent: self.counters.sent.load(Ordering::Relaxed),
            failed: self.counters.failed.load(Ordering::Relaxed),
            pending: queued.saturating_sub(done),
        }
    }

    /// Stops taking mails and waits until every queued one is sent or failed, at most
    /// `close_timeout_secs`; what is still pending then is counted as failed. Idempotent.
    pub async fn close(&self) {
        drop(self.queue.lock().unwrap_or_else(|p| p.into_inner()).take());
        let Some(mut task) = self.task.lock().await.take() else {
            return;
        };
        if tokio::time::timeout(self.close_timeout, &mut task)
            .await
            .is_err()
        {
            task.abort();
            let _ = task.await;
            let pending = self.stats().pending;
            self.counters.failed.fetch_add(pending, Ordering::Relaxed);
            self.counters.done.fetch_add(pending, Ordering::Relaxed);
            if !self.counters.fail_silently && pending > 0 {
                tracing::error!(
                    pending,
                    "mailer closed after {:?} with mails still unsent",
                    self.close_timeout
                );
            }
        }
    }
}

/// Lets the background writer mail events right after they are committed.
impl crate::writer::CommitObserver for Mailer {
    fn committed(&self, events: &[Event]) {
        self.notify(events);
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn event() -> Event {
        Event {
            id: 1,
            uuid: uuid::Uuid::nil(),
            event_type: "error".into(),
            group: "g".into(),
            timestamp: chrono::Utc
                .with_ymd_and_hms(2026, 11, 27, 1, 2, 3)
                .single()
                .expect("valid date"),
            message: "Disk <full> & \"hot\"".into(),
            data: Some(serde_json::json!({"k": "<b>"})),
            initiator: Some("ops's <script>".into()),
            send_mail: Some("a@example.com".into()),
        }
    }

    #[test]
    fn default_templates_render_every_placeholder() {
        let r = MailRenderer::new(&MailConfig::default(), EventTypes::default()).unwrap();
        assert_eq!(r.subject(&event()), "Event Log: Error");
        assert_eq!(
            r.text(&event()),
            "The Event was Error on 2026-11-27 01:02:03 UTC\n\nDisk <full> & \"hot\"\n\n-- ops's <script>"
        );
    }

    #[test]
    fn html_escapes_every_event_value() {
        let cfg = MailConfig {
            body: "{{x}} {message}\n{data}\n{initiator}".into(),
            ..MailConfig::default()
        };
        let r = MailRenderer::new(&cfg, EventTypes::default()).unwrap();
        let html = r.html(&event());
        assert!(
            html.contains("{x} Disk &lt;full&gt; &amp; &quot;hot&quot;<br>\n"),
            "{html}"
        );
        assert!(
            html.contains("&quot;k&quot;: &quot;&lt;b&gt;&quot;"),
            "{html}"
        );
        assert!(html.contains("ops&#39;s &lt;script&gt;"), "{html}");
        assert!(
            !html.contains("<script>") && !html.contains("<b>"),
            "{html}"
        );
        assert_eq!(
            r.text(&event()).lines().next(),
            Some("{x} Disk <full> & \"hot\"")
        );
    }

    #[test]
    fn missing_values_render_empty_and_unknown_types_use_legacy_label() {
        let mut e = event();
        e.data = None;
        e.initiator = None;
        e.event_type = "old_kind".into();
        let cfg = MailConfig {
            body: "[{type}][{data}][{initiator}]".into(),
            ..MailConfig::default()
        };
        let r = MailRenderer::new(&cfg, EventTypes::default()).unwrap();
        assert_eq!(r.text(&e), "[Old_Kind][][]");
    }

    #[test]
    fn subject_line_breaks_become_spaces() {
        let mut e = event();
        e.message = "a\r\nBcc: x@y".into();
        let cfg = MailConfig {
            subject: "{message}".into(),
            ..MailConfig::default()
        };
        let r = MailRenderer::new(&cfg, EventTypes::default()).unwrap();
        assert_eq!(r.subject(&e), "a  Bcc: x@y");
    }

    #[test]
    fn template_errors_name_the_problem() {
        let err = Template::parse("Hi {foo}", "mail.subject").unwrap_err();
        assert_eq!(
            err.to_string(),
            "configuration error: unknown placeholder {foo} in mail.subject; known: {type}, {date}, {message}, {data}, {initiator}"
        );
        let err = Template::parse("Hi {type", "mail.body").unwrap_err();
        assert!(
            err.to_string().contains("unclosed '{' in mail.body"),
            "{err}"
        );
    }

    #[test]
    fn config_errors_name_the_key() {
        let check = |cfg: MailConfig, want: &str| {
            let err = cfg.validate().unwrap_err().to_string();
            assert!(err.contains(want), "{err} should contain {want}");
        };
        check(
            MailConfig {
                from: "not an address".into(),
                ..MailConfig::default()
            },
            "mail.from \"not an address\" is not an e-mail address",
        );
        check(
            MailConfig {
                url: Some("ftp://x".into()),
                ..MailConfig::default()
            },
            "mail.url \"ftp://x\" is not a usable SMTP URL",
        );
        check(
            MailConfig {
                url: Some("smtp://x".into()),
                host: Some("y".into()),
                ..MailConfig::default()
            },
            "set either mail.url or mail.host",
        );
        check(
            MailConfig {
                username: Some("u".into()),
                ..MailConfig::default()
            },
            "mail.username and mail.password go together",
        );
        check(
            MailConfig {
                queue_capacity: 0,
                ..MailConfig::default()
            },
            "mail.queue_capacity must be at least 1",
        );
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

    #[test]
    fn start_without_runtime_is_an_error() {
        let err = Mailer::start(MailConfig::default(), EventTypes::default()).unwrap_err();
        assert!(
            err.to_string().contains("needs a running tokio runtime"),
            "{err}"
        );
    }
}
