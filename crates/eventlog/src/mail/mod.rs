//! E-mail notification of events.
//!
//! # Overview
//! An event whose `send_mail` holds an address is mailed to it, one mail per event and
//! recipient, with a plain-text and an HTML part rendered from the `[mail]` templates of
//! `eventlog.toml`.
//!
//! The path of one mail:
//! 1. The store writes an outbox row in the event's own transaction
//!    ([`crate::store::outbox`]): the mail exists exactly when the event does, whether the
//!    event came through [`crate::EventLog`], the HTTP API or an import.
//! 2. A [`MailSender`] (one per process that has a `[mail]` section) claims due rows, renders
//!    and sends them. A commit wakes it at once; it also polls every second, so it sends what
//!    other processes queued.
//! 3. A failure that may pass (server down, timeout) is retried with back-off (1 s, doubling up
//!    to `retry_max_interval_secs`) until `give_up_after_secs` (24 h) after the event; a
//!    permanent one (5xx refusal, bad address) is given up at once. Either way it is logged
//!    unless `fail_silently = true`.
//! 4. Each mail's `Message-ID` is derived from the event's uuid and the recipient, so a mail
//!    sent again after a crash between "accepted" and "recorded" is recognisable.
//!
//! Nothing here runs on the caller's path: a slow or dead SMTP server can neither delay nor
//! lose an event. `eventlog mail status` shows the outbox's counts.
//!
//! # Usage
//! ```toml
//! [mail]
//! url = "smtps://user:secret@smtp.example.com"   # or host/port/username/password/tls
//! from = "Event Log <eventlog@example.com>"
//! subject = "Event Log: {type}"
//! body = "The Event was {type} on {date}\n\n{message}\n\n-- {initiator}"
//! fail_silently = false
//! retry_max_interval_secs = 300
//! give_up_after_secs = 86400
//! ```
//! Placeholders: `{type}` (the type's label), `{date}`, `{message}`, `{data}` (pretty JSON),
//! `{initiator}`; `{{` and `}}` are literal braces.
//!
//! ```no_run
//! # async fn demo(url: &str) -> Result<(), eventlog::Error> {
//! use eventlog::{EventLog, mail::MailConfig};
//! let config = MailConfig { url: Some("smtp://127.0.0.1:25".into()), ..MailConfig::default() };
//! let log = EventLog::builder(url).mail(config).open().await?;
//! log.group().send_mail("ops@example.com").error("Backup failed").await?;
//! log.close().await?; // stores the event, then tries its mail once more before returning
//! # Ok(()) }
//! ```
//!
//! # Modules
//! - `config`: `[mail]` ([`MailConfig`]) and the SMTP transport it describes.
//! - `template`: `{placeholder}` templates ([`Template`]), rendered as text or escaped HTML.
//! - `render`: the whole mail for one event ([`MailRenderer`]).
//! - `sender`: sending from the outbox ([`MailSender`]), counted in [`MailStats`].

mod config;
mod render;
mod sender;
mod template;

pub use config::{MailConfig, MailTls};
pub use render::{MailRenderer, message_id};
pub use sender::{MailSender, MailStats};
pub use template::{DEFAULT_BODY, DEFAULT_SUBJECT, PLACEHOLDERS, Template, escape_html};
