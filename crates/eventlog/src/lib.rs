//! # eventlog
//!
//! A durable, queryable log of business-level events — "About to send 1000 mails", "All
//! emails sent!" — tied together by a *group*, stored in SQLite (embedded default) or
//! PostgreSQL, and browsed in a web admin (`eventlog-web`, `eventlog serve`).
//!
//! It is not a replacement for `log`/`tracing` diagnostics; it sits beside them. Unlike
//! django-eventlog, which it follows, a log call never waits for the database: events go to a
//! bounded in-memory queue and a background writer stores them in batches, one transaction per
//! batch. You can leave it on in a busy service.
//!
//! ## Usage
//!
//! Open a log, start a group, record events — one line each:
//!
//! ```
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), eventlog::Error> {
//! # let dir = tempfile::tempdir().unwrap();
//! # let url = format!("sqlite://{}", dir.path().join("events.db").display());
//! use eventlog::EventLog;
//!
//! let log = EventLog::open(&url).await?;     // e.g. "sqlite://events.db"
//!
//! let e = log.group();                          // start a new event group
//! e.info("About to send 1000 mails.").initiator("Mailer Daemon").await?;
//! match send_mails() {
//!     Ok(()) => e.info("All emails sent!").initiator("Mailer Daemon").await?,
//!     Err(_) => e.error("There was an error sending the emails.").initiator("Mailer Daemon").await?,
//! };
//!
//! log.close().await?;                           // store everything, stop the writer
//! # fn send_mails() -> Result<(), ()> { Ok(()) }
//! # Ok(()) }
//! ```
//!
//! Reuse a group by name — from any function, thread, process or machine — and attach data
//! (anything `Serialize`):
//!
//! ```
//! # let dir = tempfile::tempdir().unwrap();
//! # let url = format!("sqlite://{}", dir.path().join("events.db").display());
//! use eventlog::EventLog;
//! use serde_json::json;
//!
//! fn purchase(log: &EventLog, order: u64) -> Result<(), eventlog::Error> {
//!     let e = log.group_named(format!("Order {order}"))?;
//!     e.info("Sent order to Shopify").data(&json!({"items": [1, 2, 3]})).record()?;
//!     Ok(())
//! }
//!
//! fn subscribe_newsletter(log: &EventLog, order: u64) -> Result<(), eventlog::Error> {
//!     let e = log.group_named(format!("Order {order}"))?;
//!     e.info("User subscribed to newsletter on checkout")
//!         .data(&json!({"email": "user@example.com"}))
//!         .record()?;
//!     Ok(())
//! }
//!
//! // Plain threads work too: `open_blocking`, `.record()`, `flush_blocking`.
//! let log = EventLog::builder(&url).open_blocking()?;
//! purchase(&log, 1234)?;
//! subscribe_newsletter(&log, 1234)?;
//! log.flush_blocking()?;                        // both are now stored
//! assert_eq!(log.stats().stored, 2);
//! # Ok::<(), eventlog::Error>(())
//! ```
//!
//! ## What a log call does
//!
//! It validates the event (group id 1–40 characters, type configured, initiator ≤ 500
//! characters, message not empty) and fails at once with a [`ValidationError`] naming the
//! value and the rule; nothing is queued then. Otherwise it queues the event and returns. When
//! the queue is full, the caller waits (back-pressure); nothing is dropped. If the database is
//! unreachable, the writer keeps the batch and retries with back-off; see [`WriterStats`].
//!
//! ## Modules
//!
//! - [`event`] and [`event_type`] — the model and its rules.
//! - [`config`] — `eventlog.toml`.
//! - [`store`] — the [`store::Store`] traits (writing, reading, listing), SQLite and PostgreSQL backends.
//! - [`writer`] — the batching background writer.
//! - [`django`] — importing a django-eventlog database.
// Every feature of the library stores events: the recorder, the importers, retention, the
// admin. A build without a database could only fail at run time (`open` would refuse every
// URL), so the missing choice is reported where it is made, when building.
#[cfg(not(any(feature = "sqlite", feature = "postgres")))]
compile_error!(
    "eventlog needs at least one backend feature: enable `sqlite` or `postgres` \
     (or both) when turning off its default features"
);

mod background;
pub mod config;
pub mod django;
mod enum_words;
pub mod error;
pub mod event;
pub mod event_type;
pub mod export;
pub mod filter;
#[cfg(feature = "mail")]
pub mod mail;
pub mod metrics;
#[cfg(feature = "notify")]
pub mod notify;
mod recorder;
pub mod retention;
pub mod store;
#[cfg(feature = "tracing")]
pub mod tracing_layer;
pub mod writer;

pub use config::Config;
pub use error::{ConfigError, DatabaseError, Error, StoreError, ValidationError};
pub use event::{CommitObserver, Event, GroupId, NewEvent};
pub use event_type::{EventType, EventTypes};
pub use recorder::{EventBuilder, EventGroup, EventLog, EventLogBuilder};
pub use writer::{WriterOptions, WriterStats};
