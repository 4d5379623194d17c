//! [`EventLogBuilder`]: configuring and opening an [`EventLog`] (writer first, then mail).

use std::sync::Arc;

use crate::config::{ConfigFile, Section, WriterConfig};
use crate::error::Error;
use crate::event::CommitObserver;
use crate::event_type::EventTypes;
use crate::store;
use crate::writer;

use super::{EventLog, Inner, Observers};

/// Configures and opens an [`EventLog`].
#[must_use = "call .open().await or .open_blocking() to start the event log"]
pub struct EventLogBuilder {
    pub(super) url: String,
    pub(super) types: EventTypes,
    pub(super) writer: WriterConfig,
    pub(super) observers: Vec<Arc<dyn CommitObserver>>,
    /// The data keys to index; `None`: the indexes are left as they are.
    pub(super) data_keys: Option<Vec<String>>,
    #[cfg(feature = "mail")]
    pub(super) mail: Option<crate::mail::MailConfig>,
}

impl EventLogBuilder {
    /// Takes event types, writer settings, the indexed data keys of `[database]` and (with
    /// the `mail` feature) the `[mail]` section from a loaded configuration.
    pub fn config<S: Section, A: Section>(
        mut self,
        config: &ConfigFile<S, A>,
    ) -> Result<Self, Error> {
        self.types = config.event_types()?;
        self.writer = config.writer;
        self.data_keys = Some(config.database.indexed_data_keys.clone());
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

    /// The paths inside `data` that filters ask for often (`["order_id", "customer.id"]`):
    /// on open, each gets an index, and the indexes of keys no longer listed are dropped
    /// (as `[database] indexed_data_keys` does for `eventlog migrate`). Without this (or
    /// [`EventLogBuilder::config`]), the indexes are left as they are. Making an index reads
    /// every stored event once, and opening waits for it.
    pub fn indexed_data_keys<S: Into<String>>(mut self, keys: impl IntoIterator<Item = S>) -> Self {
        self.data_keys = Some(keys.into_iter().map(Into::into).collect());
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
        let data_keys = match &self.data_keys {
            Some(keys) => Some(store::DataKey::parse_all(keys).map_err(|e| {
                crate::error::ConfigError::value("database.indexed_data_keys", e.to_string())
            })?),
            None => None,
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
                if let Some(keys) = &data_keys {
                    backend.index_data_keys(keys).await?;
                }
                let _ = writer_slot.set(backend.clone());
                let store: Arc<dyn store::WriteStore> = backend;
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
        writer_started(ready.recv_async().await)?;
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
        writer_started(ready.recv())?;
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

/// What the writer reported once started: its own error (it could not connect or migrate),
/// or [`Error::Closed`] when it ended without a word.
fn writer_started(report: Result<Result<(), Error>, flume::RecvError>) -> Result<(), Error> {
    report.unwrap_or(Err(Error::Closed))
}

/// Where the writer puts its store once connected.
pub(super) type StoreSlot = Arc<std::sync::OnceLock<Arc<dyn store::Backend>>>;

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
pub(super) struct MailWake(pub(super) std::sync::OnceLock<Arc<dyn CommitObserver>>);

#[cfg(feature = "mail")]
impl CommitObserver for MailWake {
    fn committed(&self, events: &[crate::event::Event]) {
        if let Some(waker) = self.0.get() {
            waker.committed(events);
        }
    }
}
