//! Notification of events through webhooks, Slack and Microsoft Teams.
//!
//! # Overview
//! Beside mail, events go to the channels of `[[notify.channel]]`: a generic **webhook** (the
//! event as JSON, signed), **Slack** or **Teams** (each in its own incoming-webhook format).
//!
//! The path of one notification:
//! 1. [`NotifySender::start`] writes the routes of its configuration to the database: which
//!    event types each channel takes, and its digest window.
//! 2. Every batch of events, whoever writes it (the library, the HTTP API, the CLI), gets one
//!    outbox row per matching channel in its own transaction
//!    ([`crate::store::outbox`], rows of kind `notify`): nothing is lost to a crash.
//! 3. The sender runs one loop per channel, side by side. Each claims its due rows (a lease,
//!    so several servers share the work), gathers the other queued rows of the same group
//!    into one message (the **digest**), holds back what the channel's **rate limit** does not
//!    allow yet (and, after a failure, everything until the retry), and POSTs.
//! 4. 2xx: sent. 429 (its `Retry-After` honoured up to `retry_max_interval_secs`), 408, 5xx,
//!    no connection or no answer within `timeout_secs`: retried with back-off (1 s, doubling)
//!    until `give_up_after_secs` after the event. A redirect or another 4xx: given up at
//!    once. The reason is kept on the row and shown in the admin.
//! 5. Each message carries `Idempotency-Key: <uuid of its first event>`: a message sent
//!    again after a crash between "answered" and "recorded" is recognisable.
//!
//! URLs (Slack's and Teams' hold their token) and signing secrets appear in no log, error,
//! `Debug` output or admin page: channels are named by their `name`.
//!
//! # Webhook signature
//! With `secret` set, a webhook carries `X-Eventlog-Timestamp: T` (Unix seconds) and
//! `X-Eventlog-Signature: v1=HEX`, HEX being the lowercase hex HMAC-SHA256 keyed with the
//! secret of `T`, `.` and the raw body. A receiver recomputes it, compares in constant time,
//! and refuses a `T` more than a few minutes old (a replay).
//!
//! # Usage
//! ```toml
//! [notify]
//! admin_url = "https://eventlog.example.com"
//!
//! [[notify.channel]]
//! name = "oncall"
//! kind = "slack"
//! url = "https://hooks.slack.com/services/T000/B000/XXXX"
//! types = ["error", "critical"]
//! digest_secs = 30
//! rate_limit_per_minute = 10
//! ```
//!
//! # Modules
//! - `config`: `[notify]` ([`NotifyConfig`], [`ChannelConfig`]).
//! - `payload`: the bodies per kind and the signature.
//! - `http`: one bounded POST (timeouts, bounded reads, no redirects).
//! - `sender`: the handle ([`NotifySender`]) and the rendering and posting of one message.
//! - `worker`: the sending loop over the outbox (claims, digests, pauses, rate limits, retries).

mod config;
mod dispatch;
mod http;
mod payload;
mod sender;
mod worker;

pub use config::{ChannelConfig, ChannelKind, NotifyConfig, redacted_url};
pub use payload::{
    IDEMPOTENCY_HEADER, MAX_LISTED, Notice, SIGNATURE_HEADER, TIMESTAMP_HEADER, body, signature,
};
pub use sender::NotifySender;
