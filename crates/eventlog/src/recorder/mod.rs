//! The recording API: [`EventLog`], [`EventGroup`] and the one-line [`EventBuilder`].

use std::sync::Arc;

use uuid::Uuid;

use crate::config::WriterConfig;
use crate::error::{Error, ValidationError};
use crate::event::CommitObserver;
use crate::event::{GroupId, NewEvent};
use crate::event_type::EventTypes;
use crate::store;
use crate::writer::{Message, WriterHandle, WriterStats};

mod builder;
mod group;

pub use builder::EventLogBuilder;
#[cfg(feature = "mail")]
use builder::MailWake;
use builder::StoreSlot;
pub use group::{EventBuilder, EventGroup};

/// A handle to an event log: cheap to clone, usable from any thread and from async code.
///
/// Recording puts the event on a bounded in-memory queue and returns; a background writer
/// stores queued events in batches, one transaction each. [`EventLog::flush`] waits until
/// everything recorded before it is stored; [`EventLog::close`] flushes and stops the writer.
/// Dropping the last handle closes it too, but blocks at most `[writer] drop_timeout_ms`
/// (default 5 s) for the writer and the mail sender together; past it they finish in the
/// background, and whatever is not stored when the process exits is lost. Call
/// [`EventLog::close`] to wait for everything.
#[derive(Clone)]
pub struct EventLog {
    inner: Arc<Inner>,
}

struct Inner {
    types: EventTypes,
    writer: WriterHandle,
    /// The writer's store, set by the writer once it has connected (before `open` returns):
    /// shared with whoever else needs the database (the admin), so a process has one pool.
    store: StoreSlot,
    /// The mail sender, started once the writer has migrated the store (two connections
    /// migrating one SQLite file at once would collide).
    #[cfg(feature = "mail")]
    mailer: std::sync::OnceLock<crate::mail::MailSender>,
}

impl Drop for Inner {
    /// Stores what is queued and lets the mail sender make its last attempt, blocking at
    /// most `drop_timeout_ms` for both together; past it they go on in the background.
    /// Without this bound a drop could block for the writer's shutdown timeout (30 s with
    /// an unreachable database) and then for the mail sender's close timeout.
    fn drop(&mut self) {
        let deadline = std::time::Instant::now() + self.writer.drop_timeout;
        self.writer.begin_close();
        // Dropping the queue's last sender lets the writer drain what is queued and stop.
        let (closed_tx, _) = flume::bounded(1);
        let queue = std::mem::replace(&mut self.writer.queue, closed_tx);
        drop(queue);
        let writer_done = self.writer.join_until(deadline);
        if !writer_done {
            tracing::warn!(
                timeout = ?self.writer.drop_timeout,
                "eventlog: dropped while events were still being stored; the writer goes on \
                 in the background (call close() to wait for it)"
            );
        }
        // Then the mail sender makes its last attempt at what the writer's commits queued,
        // in what is left of the time.
        #[cfg(feature = "mail")]
        if let Some(mailer) = self.mailer.take()
            && !mailer.close_until(deadline)
        {
            tracing::warn!(
                "eventlog: dropped while mails were still being sent; they stay queued in the \
                 outbox for the next sender (call close() to wait for them)"
            );
        }
    }
}

impl std::fmt::Debug for EventLog {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        crate::background::fmt_handle(f, "EventLog", &self.stats())
    }
}

impl EventLog {
    /// The store the writer records into: its connection pool, shared. An application that
    /// also reads the log, or embeds the admin (`eventlog_web::AppState::from_log`), uses
    /// this instead of opening the database a second time.
    ///
    /// The pool lives on the writer's thread: [`EventLog::close`] (or dropping the last
    /// handle) closes it for every user, so close the log after whatever else uses its
    /// store has stopped.
    pub fn store(&self) -> Arc<dyn store::Backend> {
        self.inner
            .store
            .get()
            .cloned()
            // The writer sets it before it reports ready, and `open` returns only after that.
            .expect("the writer sets its store before the log is opened")
    }

    /// A builder for the log stored at `database_url` (`sqlite://PATH` or `postgres://…`).
    pub fn builder(database_url: impl Into<String>) -> EventLogBuilder {
        EventLogBuilder {
            url: database_url.into(),
            types: EventTypes::default(),
            writer: WriterConfig::default(),
            observers: Vec::new(),
            data_keys: None,
            #[cfg(feature = "mail")]
            mail: None,
        }
    }

    /// Opens the log at `database_url` with the default types and settings.
    pub async fn open(database_url: impl Into<String>) -> Result<EventLog, Error> {
        EventLog::builder(database_url).open().await
    }

    /// The configured event types.
    pub fn event_types(&self) -> &EventTypes {
        &self.inner.types
    }

    /// A new group with a random id.
    pub fn group(&self) -> EventGroup {
        self.group_with_id(GroupId::random())
    }

    /// The group named `name` (1–40 characters): the same name anywhere is the same group.
    pub fn group_named(&self, name: impl Into<String>) -> Result<EventGroup, ValidationError> {
        Ok(self.group_with_id(GroupId::named(name)?))
    }

    /// The group with this id.
    pub fn group_with_id(&self, id: GroupId) -> EventGroup {
        EventGroup {
            log: self.clone(),
            id,
            send_mail: None,
            initiator: None,
        }
    }

    /// Counters of the background writer.
    pub fn stats(&self) -> WriterStats {
        self.inner.writer.stats()
    }

    /// Queues a fully built event, waiting while the queue is full.
    ///
    /// Called on a tokio runtime's worker thread, a wait for space does not silently stall
    /// that worker's other tasks: on a multi-threaded runtime the wait runs in
    /// [`tokio::task::block_in_place`] (the worker's tasks move to another thread); on a
    /// current-thread runtime, where that is impossible, it blocks the runtime (logged once
    /// as a warning). Async code should prefer `.await` ([`EventLog::record`]).
    pub fn record_blocking(&self, event: NewEvent) -> Result<Uuid, Error> {
        self.check(&event)?;
        let uuid = event.uuid;
        // The common case, whatever the caller: space in the queue, no wait at all.
        let event = match self.inner.writer.queue.try_send(Message::Event(event)) {
            Ok(()) => return Ok(uuid),
            Err(flume::TrySendError::Disconnected(_)) => return Err(Error::Closed),
            Err(flume::TrySendError::Full(message)) => message,
        };
        let send = || {
            self.inner
                .writer
                .queue
                .send(event)
                .map_err(|_| Error::Closed)
        };
        match tokio::runtime::Handle::try_current().map(|h| h.runtime_flavor()) {
            Ok(tokio::runtime::RuntimeFlavor::MultiThread) => tokio::task::block_in_place(send)?,
            Ok(_) => {
                static WARNED: std::sync::Once = std::sync::Once::new();
                WARNED.call_once(|| {
                    tracing::warn!(
                        "eventlog: .record() waited for queue space on a current-thread tokio \
                         runtime, blocking it; use .await in async code"
                    );
                });
                send()?;
            }
            Err(_) => send()?,
        }
        Ok(uuid)
    }

    /// Queues a fully built event, waiting asynchronously while the queue is full.
    pub async fn record(&self, event: NewEvent) -> Result<Uuid, Error> {
        self.check(&event)?;
        let uuid = event.uuid;
        self.send(Message::Event(event)).await?;
        Ok(uuid)
    }

    /// Puts a message on the writer's queue, waiting asynchronously while it is full.
    async fn send(&self, message: Message) -> Result<(), Error> {
        self.inner
            .writer
            .queue
            .send_async(message)
            .await
            .map_err(|_| Error::Closed)
    }

    fn check(&self, event: &NewEvent) -> Result<(), ValidationError> {
        // require() checks the name's syntax too.
        let checked = self
            .inner
            .types
            .require(&event.event_type)
            .and_then(|_| event.validate_fields());
        if checked.is_err() {
            crate::metrics::events_refused("library", 1);
        }
        checked
    }

    /// Waits until every event recorded before this call is stored (or given up).
    pub async fn flush(&self) -> Result<(), Error> {
        let (ack_tx, ack_rx) = flume::bounded(1);
        self.send(Message::Flush(ack_tx)).await?;
        ack_rx.recv_async().await.map_err(|_| Error::Closed)
    }

    /// [`EventLog::flush`] for code without an async runtime.
    pub fn flush_blocking(&self) -> Result<(), Error> {
        let (ack_tx, ack_rx) = flume::bounded(1);
        self.inner
            .writer
            .queue
            .send(Message::Flush(ack_tx))
            .map_err(|_| Error::Closed)?;
        ack_rx.recv().map_err(|_| Error::Closed)
    }

    /// Stores everything recorded so far (an unreachable database is retried only up to the
    /// shutdown timeout) and, with mail configured, waits until the notifications queued so
    /// far are sent or given up. Other handles' later calls fail with [`Error::Closed`] once
    /// the last handle is dropped.
    pub async fn close(self) -> Result<WriterStats, Error> {
        self.inner.writer.begin_close();
        self.flush().await?;
        #[cfg(feature = "mail")]
        if let Some(mailer) = self.inner.mailer.get() {
            mailer.close().await;
        }
        Ok(self.stats())
    }

    /// Counters of this process's mail sender, when mail is configured.
    #[cfg(feature = "mail")]
    pub fn mail_stats(&self) -> Option<crate::mail::MailStats> {
        self.inner.mailer.get().map(|m| m.stats())
    }

    #[cfg(feature = "mail")]
    fn install_mail_sender(&self, sender: crate::mail::MailSender, wake: &MailWake) {
        let _ = wake.0.set(sender.waker());
        let _ = self.inner.mailer.set(sender);
    }

    /// [`EventLog::close`] for code without an async runtime.
    pub fn close_blocking(self) -> Result<WriterStats, Error> {
        self.inner.writer.begin_close();
        self.flush_blocking()?;
        #[cfg(feature = "mail")]
        if let Some(mailer) = self.inner.mailer.get() {
            mailer.close_blocking();
        }
        Ok(self.stats())
    }
}

/// Several observers behind one.
struct Observers(Vec<Arc<dyn CommitObserver>>);

impl CommitObserver for Observers {
    fn committed(&self, events: &[crate::event::Event]) {
        for observer in &self.0 {
            observer.committed(events);
        }
    }
}
