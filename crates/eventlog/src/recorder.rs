//! The recording API: [`EventLog`], [`EventGroup`] and the one-line [`EventBuilder`].

use std::future::{Future, IntoFuture};
use std::pin::Pin;
use std::sync::Arc;

use serde::Serialize;
use uuid::Uuid;

use crate::config::{Config, WriterConfig};
use crate::error::{Error, ValidationError};
use crate::event::CommitObserver;
use crate::event::{GroupId, NewEvent, validate_initiator, validate_mail_recipient};
use crate::event_type::EventTypes;
use crate::store;
use crate::writer::{self, Message, WriterHandle, WriterStats};

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
        f.debug_struct("EventLog")
            .field("stats", &self.stats())
            .finish_non_exhaustive()
    }
}

/// Configures and opens an [`EventLog`].
#[must_use = "call .open().await or .open_blocking() to start the event log"]
pub struct EventLogBuilder {
    url: String,
    types: EventTypes,
    writer: WriterConfig,
    observers: Vec<Arc<dyn CommitObserver>>,
    #[cfg(feature = "mail")]
    mail: Option<crate::mail::MailConfig>,
}

impl EventLogBuilder {
    /// Takes event types, writer settings and (with the `mail` feature) the `[mail]` section
    /// from a loaded configuration.
    pub fn config(mut self, config: &Config) -> Result<Self, Error> {
        self.types = config.event_types()?;
        self.writer = config.writer;
        #[cfg(feature = "mail")]
        {
            self.mail = config.mail.clone();
        }
        Ok(self)
    }

    /// Mails every stored event that has a recipient (its own or its group's), after commit
    /// and off the caller's path.
    #[cfg(feature = "mail")]
    pub fn mail(mut self, config: crate::mail::MailConfig) -> Self {
        self.mail = Some(config);
        self
    }

    /// The configured event types (default: info, warning, error, critical).
    pub fn event_types(mut self, types: EventTypes) -> Self {
        self.types = types;
        self
    }

    /// Events the queue holds before callers wait (default 100,000).
    pub fn capacity(mut self, capacity: usize) -> Self {
        self.writer.capacity = capacity.max(1);
        self
    }

    /// Most events stored in one transaction (default 5,000).
    pub fn batch_size(mut self, batch_size: usize) -> Self {
        self.writer.batch_size = batch_size.max(1);
        self
    }

    /// Called after every commit with the newly stored events (e-mail notification uses it).
    /// May be given several times.
    pub fn on_commit(mut self, observer: Arc<dyn CommitObserver>) -> Self {
        self.observers.push(observer);
        self
    }

    fn start(mut self) -> Result<(EventLog, WriterReady, MailStart), Error> {
        #[cfg(feature = "mail")]
        let mail = self.mail.take();
        #[cfg(feature = "mail")]
        let mail_wake = Arc::new(MailWake::default());
        #[cfg(feature = "mail")]
        let mail_configured = mail.is_some();
        #[cfg(not(feature = "mail"))]
        let mail_configured = false;
        #[cfg(feature = "mail")]
        if let Some(config) = &mail {
            // Fail before connecting when the section is wrong.
            config.validate()?;
            self.observers.push(mail_wake.clone());
        }
        if !mail_configured {
            self.observers
                .push(Arc::new(crate::event::UnsentMailWarning::default()));
        }
        let observer: Option<Arc<dyn CommitObserver>> = match self.observers.len() {
            0 => None,
            1 => self.observers.pop(),
            _ => Some(Arc::new(Observers(self.observers))),
        };
        let (ready_tx, ready_rx) = flume::bounded(1);
        let url = self.url.clone();
        let slot = StoreSlot::default();
        let writer_slot = slot.clone();
        let writer = writer::spawn(
            self.writer,
            observer,
            move || async move {
                let backend = store::open(&url).await?;
                let _ = writer_slot.set(backend.clone());
                let store: Arc<dyn store::Store> = backend;
                Ok(store)
            },
            ready_tx,
        )
        .map_err(|source| Error::Spawn {
            what: "writer thread",
            source,
        })?;
        let log = EventLog {
            inner: Arc::new(Inner {
                types: self.types,
                writer,
                store: slot,
                #[cfg(feature = "mail")]
                mailer: std::sync::OnceLock::new(),
            }),
        };
        #[cfg(feature = "mail")]
        let mail = mail.map(|config| (self.url, config, mail_wake));
        #[cfg(not(feature = "mail"))]
        let mail = None;
        Ok((log, ready_rx, mail))
    }

    /// Connects (applying migrations) and starts the writer, and the mail sender when mail is
    /// configured.
    pub async fn open(self) -> Result<EventLog, Error> {
        let (log, ready, mail) = self.start()?;
        match ready.recv_async().await {
            Ok(Ok(())) => {}
            Ok(Err(e)) => return Err(e),
            Err(_) => return Err(Error::Closed),
        }
        #[cfg(feature = "mail")]
        if let Some((url, config, wake)) = mail {
            let sender =
                crate::mail::MailSender::start(&url, config, log.inner.types.clone()).await?;
            log.install_mail_sender(sender, &wake);
        }
        #[cfg(not(feature = "mail"))]
        let _: Option<()> = mail;
        Ok(log)
    }

    /// [`EventLogBuilder::open`] for code without an async runtime.
    pub fn open_blocking(self) -> Result<EventLog, Error> {
        let (log, ready, mail) = self.start()?;
        match ready.recv() {
            Ok(Ok(())) => {}
            Ok(Err(e)) => return Err(e),
            Err(_) => return Err(Error::Closed),
        }
        #[cfg(feature = "mail")]
        if let Some((url, config, wake)) = mail {
            let sender =
                crate::mail::MailSender::start_blocking(&url, config, log.inner.types.clone())?;
            log.install_mail_sender(sender, &wake);
        }
        #[cfg(not(feature = "mail"))]
        let _: Option<()> = mail;
        Ok(log)
    }
}

/// Where the writer puts its store once connected.
type StoreSlot = Arc<std::sync::OnceLock<Arc<dyn store::Backend>>>;

/// Told once the writer has connected (and migrated) or failed to.
type WriterReady = flume::Receiver<Result<(), Error>>;

/// What [`EventLogBuilder::start`] leaves to do once the writer is ready: start the mail sender
/// (database URL, `[mail]`, the writer's hook to wake it).
#[cfg(feature = "mail")]
type MailStart = Option<(String, crate::mail::MailConfig, Arc<MailWake>)>;
#[cfg(not(feature = "mail"))]
type MailStart = Option<()>;

/// The writer's hook into the mail sender, which starts after the writer: commits before it
/// exists are found by its first look at the outbox.
#[cfg(feature = "mail")]
#[derive(Default)]
struct MailWake(std::sync::OnceLock<Arc<dyn CommitObserver>>);

#[cfg(feature = "mail")]
impl CommitObserver for MailWake {
    fn committed(&self, events: &[crate::event::Event]) {
        if let Some(waker) = self.0.get() {
            waker.committed(events);
        }
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
        self.inner
            .writer
            .queue
            .send_async(Message::Event(event))
            .await
            .map_err(|_| Error::Closed)?;
        Ok(uuid)
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
        self.inner
            .writer
            .queue
            .send_async(Message::Flush(ack_tx))
            .await
            .map_err(|_| Error::Closed)?;
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

/// A group of events: one piece of work, read later as one story.
///
/// Carries defaults for its events: an e-mail recipient (every event of the group mails it,
/// unless the event names its own) and an initiator.
#[derive(Clone, Debug)]
pub struct EventGroup {
    log: EventLog,
    id: GroupId,
    send_mail: Option<String>,
    initiator: Option<String>,
}

impl EventGroup {
    /// The group id, to continue the group elsewhere with [`EventLog::group_named`].
    pub fn id(&self) -> &GroupId {
        &self.id
    }

    /// Mails `address` about every event of this group. Checked when an event is recorded
    /// (a bad address fails that call with [`ValidationError::MailRecipient`]), so the
    /// builder chain stays unbroken; [`EventGroup::check`] checks it at once.
    pub fn send_mail(mut self, address: impl Into<String>) -> Self {
        self.send_mail = Some(address.into());
        self
    }

    /// The initiator of every event of this group that names none itself. Checked when an
    /// event is recorded, like [`EventGroup::send_mail`].
    pub fn initiator(mut self, initiator: impl Into<String>) -> Self {
        self.initiator = Some(initiator.into());
        self
    }

    /// Checks the group's defaults now rather than at the first record.
    pub fn check(self) -> Result<Self, ValidationError> {
        if let Some(address) = &self.send_mail {
            validate_mail_recipient(address)?;
        }
        if let Some(initiator) = &self.initiator {
            validate_initiator(initiator)?;
        }
        Ok(self)
    }

    /// An event of the configured type `event_type`.
    pub fn event(&self, event_type: &str, message: impl Into<String>) -> EventBuilder<'_> {
        let mut event = NewEvent::new(event_type, self.id.clone(), message);
        event.send_mail = self.send_mail.clone();
        event.initiator = self.initiator.clone();
        EventBuilder { group: self, event }
    }

    /// An `info` event.
    pub fn info(&self, message: impl Into<String>) -> EventBuilder<'_> {
        self.event("info", message)
    }

    /// A `warning` event.
    pub fn warning(&self, message: impl Into<String>) -> EventBuilder<'_> {
        self.event("warning", message)
    }

    /// An `error` event.
    pub fn error(&self, message: impl Into<String>) -> EventBuilder<'_> {
        self.event("error", message)
    }

    /// A `critical` event.
    pub fn critical(&self, message: impl Into<String>) -> EventBuilder<'_> {
        self.event("critical", message)
    }
}

/// One event being recorded. Finish with `.record()` (plain threads) or `.await` (async).
#[must_use = "an event is recorded only by .record() or .await"]
#[derive(Debug)]
pub struct EventBuilder<'g> {
    group: &'g EventGroup,
    event: NewEvent,
}

impl EventBuilder<'_> {
    /// Who or what caused the event (at most 500 characters).
    pub fn initiator(mut self, initiator: impl Into<String>) -> Self {
        self.event.initiator = Some(initiator.into());
        self
    }

    /// Structured details: anything `Serialize`. If serialization fails (a map with
    /// non-string keys, a failing `Serialize` impl), the data is stored as
    /// `{"unserializable": "<the error>"}` instead: recording never fails because of its data.
    pub fn data<T: Serialize + ?Sized>(mut self, data: &T) -> Self {
        self.event.data = Some(
            serde_json::to_value(data)
                .unwrap_or_else(|e| serde_json::json!({ "unserializable": e.to_string() })),
        );
        self
    }

    /// Mails this event to `address` (instead of the group's recipient, if any).
    pub fn send_mail(mut self, address: impl Into<String>) -> Self {
        self.event.send_mail = Some(address.into());
        self
    }

    /// The event as it will be stored.
    pub fn into_event(self) -> NewEvent {
        self.event
    }

    /// Validates and queues the event, waiting while the queue is full. Returns its uuid.
    pub fn record(self) -> Result<Uuid, Error> {
        self.group.log.record_blocking(self.event)
    }
}

impl<'g> IntoFuture for EventBuilder<'g> {
    type Output = Result<Uuid, Error>;
    type IntoFuture = Pin<Box<dyn Future<Output = Self::Output> + Send + 'g>>;

    /// Validates and queues the event, waiting asynchronously while the queue is full.
    fn into_future(self) -> Self::IntoFuture {
        Box::pin(async move { self.group.log.record(self.event).await })
    }
}
