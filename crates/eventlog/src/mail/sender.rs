//! Sending from the durable outbox, on a thread and runtime of its own.
//!
//! The outbox rows are written by the store in each event's own transaction; this sender
//! claims the due ones, renders and sends each, and records the outcome: sent, retry later
//! (exponential back-off up to `retry_max_interval_secs`) or given up (permanent refusal, bad
//! recipient, or `give_up_after_secs` since the event). It wakes when told of a commit (it is a
//! [`CommitObserver`]) and otherwise polls, so it also sends what other processes queued.
//!
//! It runs on a thread and current-thread runtime of its own, whatever the caller runs on:
//! [`crate::EventLog`] (plain threads or async) and `eventlog serve` start it the same way.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use chrono::{TimeDelta, Utc};
use lettre::{AsyncSmtpTransport, AsyncTransport, Tokio1Executor};

use super::config::MailConfig;
use super::render::MailRenderer;
use crate::error::Error;
use crate::event::{CommitObserver, Event};
use crate::event_type::EventTypes;
use crate::store::outbox::{Delivery, KEEP_FINISHED, OutboxMail};
use crate::store::{self, Backend};

/// How often the sender looks for due mails when nothing woke it.
const POLL_INTERVAL: Duration = Duration::from_secs(1);
/// Mails claimed at once.
const CLAIM_BATCH: usize = 32;

/// What this process's sender has done since it started. The outbox itself (all processes,
/// what is still queued) is [`crate::store::OutboxStore::outbox_status`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct MailStats {
    /// Mails the SMTP server accepted.
    pub sent: u64,
    /// Failed attempts that will be tried again.
    pub retried: u64,
    /// Mails given up: permanent refusal, bad recipient, retry period over.
    pub given_up: u64,
}

#[derive(Debug, Default)]
struct Shared {
    sent: AtomicU64,
    retried: AtomicU64,
    given_up: AtomicU64,
    /// Rung on commits of events with a recipient: send now rather than at the next poll.
    wake: tokio::sync::Notify,
}

/// Sends event mails from the outbox. Start it once per process; [`MailSender::close`] (or
/// dropping it) makes one last attempt at what is due, within `close_timeout_secs`.
pub struct MailSender {
    shared: Arc<Shared>,
    stop: std::sync::Mutex<Option<tokio::sync::oneshot::Sender<()>>>,
    done: flume::Receiver<()>,
    thread: std::sync::Mutex<Option<std::thread::JoinHandle<()>>>,
    /// Set when closing gave up waiting: dropping then does not wait either.
    detached: std::sync::atomic::AtomicBool,
}

impl std::fmt::Debug for MailSender {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        crate::background::fmt_handle(f, "MailSender", &self.stats())
    }
}

impl MailSender {
    /// Checks `config`, opens the store at `database_url` and starts sending.
    pub async fn start(
        database_url: &str,
        config: MailConfig,
        types: EventTypes,
    ) -> Result<MailSender, Error> {
        let (sender, ready) = Self::spawn(database_url, config, types)?;
        match ready.recv_async().await {
            Ok(Ok(())) => Ok(sender),
            Ok(Err(e)) => Err(e),
            Err(_) => Err(Error::Closed),
        }
    }

    /// [`MailSender::start`] for code without an async runtime.
    pub fn start_blocking(
        database_url: &str,
        config: MailConfig,
        types: EventTypes,
    ) -> Result<MailSender, Error> {
        let (sender, ready) = Self::spawn(database_url, config, types)?;
        match ready.recv() {
            Ok(Ok(())) => Ok(sender),
            Ok(Err(e)) => Err(e),
            Err(_) => Err(Error::Closed),
        }
    }

    fn spawn(
        database_url: &str,
        config: MailConfig,
        types: EventTypes,
    ) -> Result<(MailSender, flume::Receiver<Result<(), Error>>), Error> {
        config.validate()?;
        let renderer = MailRenderer::new(&config, types)?;
        let builder = config.transport_builder()?;
        let shared = Arc::new(Shared::default());
        let (ready_tx, ready_rx) = flume::bounded(1);
        let (stop_tx, stop_rx) = tokio::sync::oneshot::channel();
        let (done_tx, done_rx) = flume::bounded(1);
        let url = database_url.to_owned();
        let worker_shared = shared.clone();
        let thread = crate::background::spawn("eventlog-mail", move |runtime| {
            let runtime = match runtime {
                Ok(rt) => rt,
                Err(e) => {
                    let _ = ready_tx.send(Err(Error::Spawn {
                        what: "mail runtime",
                        source: e,
                    }));
                    return;
                }
            };
            runtime.block_on(async move {
                let store = match store::open(&url).await {
                    Ok(store) => store,
                    Err(e) => {
                        let _ = ready_tx.send(Err(Error::Connect { source: e }));
                        return;
                    }
                };
                // Built inside the runtime: the connection pool spawns its own cleanup task.
                let worker = Worker {
                    store,
                    transport: builder.build(),
                    renderer,
                    settings: Settings::from(&config),
                    shared: worker_shared,
                };
                let _ = ready_tx.send(Ok(()));
                worker.run(stop_rx).await;
            });
            let _ = done_tx.send(());
        })
        .map_err(|source| Error::Spawn {
            what: "mail thread",
            source,
        })?;
        let sender = MailSender {
            shared,
            stop: std::sync::Mutex::new(Some(stop_tx)),
            done: done_rx,
            thread: std::sync::Mutex::new(Some(thread)),
            detached: std::sync::atomic::AtomicBool::new(false),
        };
        Ok((sender, ready_rx))
    }

    /// This process's counts.
    pub fn stats(&self) -> MailStats {
        MailStats {
            sent: self.shared.sent.load(Ordering::Relaxed),
            retried: self.shared.retried.load(Ordering::Relaxed),
            given_up: self.shared.given_up.load(Ordering::Relaxed),
        }
    }

    /// An observer that wakes this sender when events with a recipient are committed: hand it
    /// to whatever commits events in this process (the HTTP API).
    pub fn waker(&self) -> Arc<dyn CommitObserver> {
        Arc::new(Waker(self.shared.clone()))
    }

    fn begin_stop(&self) {
        if let Some(stop) = self.stop.lock().unwrap_or_else(|p| p.into_inner()).take() {
            let _ = stop.send(());
        }
    }

    /// Makes one last attempt at every due mail (within `close_timeout_secs`) and stops. What
    /// is still unsent stays in the outbox for the next sender. Idempotent.
    pub async fn close(&self) {
        self.begin_stop();
        let _ = self.done.recv_async().await;
    }

    /// [`MailSender::close`] for code without an async runtime.
    pub fn close_blocking(&self) {
        self.begin_stop();
        let _ = self.done.recv();
    }
}

impl MailSender {
    /// Stops the sender, waiting for its last attempt until `deadline`; true if it finished.
    /// Past the deadline the thread is left to finish in the background (what it has not
    /// sent stays queued in the outbox).
    pub(crate) fn close_until(self, deadline: std::time::Instant) -> bool {
        self.begin_stop();
        let finished = !matches!(
            self.done.recv_deadline(deadline),
            Err(flume::RecvTimeoutError::Timeout)
        );
        if !finished {
            // Detach: without its handle, our Drop neither waits nor joins.
            drop(self.thread.lock().ok().and_then(|mut t| t.take()));
            self.detached.store(true, Ordering::SeqCst);
        }
        finished
    }
}

impl Drop for MailSender {
    fn drop(&mut self) {
        if self.detached.load(Ordering::SeqCst) {
            return;
        }
        self.close_blocking();
        if let Some(thread) = self.thread.lock().ok().and_then(|mut t| t.take()) {
            let _ = thread.join();
        }
    }
}

/// Wakes the sender after a commit that queued mail.
struct Waker(Arc<Shared>);

impl CommitObserver for Waker {
    fn committed(&self, events: &[Event]) {
        if events.iter().any(|e| e.send_mail.is_some()) {
            self.0.wake.notify_one();
        }
    }
}

impl CommitObserver for MailSender {
    fn committed(&self, events: &[Event]) {
        Waker(self.shared.clone()).committed(events);
    }
}

#[derive(Debug, Clone, Copy)]
struct Settings {
    /// Longest wait for one SMTP exchange.
    send_timeout: Duration,
    /// How long a claim keeps other senders off a row: longer than any send can take.
    lease: Duration,
    retry_max_interval: Duration,
    give_up_after: Duration,
    close_timeout: Duration,
    fail_silently: bool,
}

impl From<&MailConfig> for Settings {
    fn from(c: &MailConfig) -> Self {
        let send_timeout = Duration::from_secs(c.timeout_secs.saturating_mul(3));
        Settings {
            send_timeout,
            lease: send_timeout * 2 + Duration::from_secs(10),
            retry_max_interval: Duration::from_secs(c.retry_max_interval_secs.max(1)),
            give_up_after: Duration::from_secs(c.give_up_after_secs),
            close_timeout: Duration::from_secs(c.close_timeout_secs),
            fail_silently: c.fail_silently,
        }
    }
}

struct Worker {
    store: Arc<dyn Backend>,
    transport: AsyncSmtpTransport<Tokio1Executor>,
    renderer: MailRenderer,
    settings: Settings,
    shared: Arc<Shared>,
}

fn delta(d: Duration) -> TimeDelta {
    TimeDelta::from_std(d).unwrap_or(TimeDelta::MAX)
}

impl Worker {
    async fn run(self, mut stop: tokio::sync::oneshot::Receiver<()>) {
        let mut last_prune = None::<std::time::Instant>;
        loop {
            self.send_due().await;
            if last_prune.is_none_or(|t| t.elapsed() > Duration::from_secs(3600)) {
                last_prune = Some(std::time::Instant::now());
                if let Err(e) = self.store.prune_outbox(Utc::now() - KEEP_FINISHED).await {
                    tracing::warn!(error = %e, "eventlog: cannot prune the mail outbox");
                }
            }
            tokio::select! {
                _ = self.shared.wake.notified() => {}
                _ = tokio::time::sleep(POLL_INTERVAL) => {}
                _ = &mut stop => break,
            }
        }
        // One last attempt at what is due now: a `close()` right after recording mails them.
        if tokio::time::timeout(self.settings.close_timeout, self.send_due())
            .await
            .is_err()
            && !self.settings.fail_silently
        {
            tracing::error!(
                "eventlog: mail sender stopped after {:?} with mails still due; they stay queued",
                self.settings.close_timeout
            );
        }
    }

    /// Claims and sends due mails until none is due (failed ones are due again only later).
    async fn send_due(&self) {
        loop {
            let now = Utc::now();
            let claimed = match self
                .store
                .claim_mail(now, now + delta(self.settings.lease), CLAIM_BATCH)
                .await
            {
                Ok(claimed) => claimed,
                Err(e) => {
                    tracing::warn!(error = %e, "eventlog: cannot read the mail outbox; retrying");
                    return;
                }
            };
            if claimed.is_empty() {
                return;
            }
            for mail in claimed {
                let outcome = self.deliver(&mail).await;
                self.count(&mail, &outcome);
                self.record(&mail, &outcome).await;
            }
        }
    }

    async fn deliver(&self, mail: &OutboxMail) -> Delivery {
        let event = match self.store.get(mail.event_id).await {
            Ok(Some(event)) if event.uuid == mail.event_uuid => event,
            Ok(_) => {
                return Delivery::GiveUp {
                    error: "the event was deleted before its mail was sent".into(),
                };
            }
            Err(e) => return self.retry(mail, format!("cannot read the event: {e}")),
        };
        let message = match self.renderer.message(&event, &mail.recipient) {
            Ok(message) => message,
            Err(error) => return Delivery::GiveUp { error },
        };
        match tokio::time::timeout(self.settings.send_timeout, self.transport.send(message)).await {
            Ok(Ok(_)) => Delivery::Sent,
            Ok(Err(e)) if e.is_permanent() => Delivery::GiveUp {
                error: format!("SMTP server refused the mail: {e}"),
            },
            Ok(Err(e)) => self.retry(mail, format!("SMTP error: {e}")),
            Err(_) => self.retry(
                mail,
                format!("SMTP send timed out after {:?}", self.settings.send_timeout),
            ),
        }
    }

    /// Retry with back-off, or give up once the retry period since the event is over.
    fn retry(&self, mail: &OutboxMail, error: String) -> Delivery {
        let now = Utc::now();
        if now - mail.created_at >= delta(self.settings.give_up_after) {
            return Delivery::GiveUp {
                error: format!("{error} (retried for {:?})", self.settings.give_up_after),
            };
        }
        let wait =
            crate::store::outbox::retry_wait(mail.attempts, self.settings.retry_max_interval);
        Delivery::Retry {
            at: now + delta(wait),
            error,
        }
    }

    fn count(&self, mail: &OutboxMail, outcome: &Delivery) {
        let to = mail.recipient.as_str();
        match outcome {
            Delivery::Sent => {
                self.shared.sent.fetch_add(1, Ordering::Relaxed);
                ::metrics::counter!(crate::metrics::MAIL_SENT).increment(1);
            }
            Delivery::Retry { at, error } => {
                self.shared.retried.fetch_add(1, Ordering::Relaxed);
                ::metrics::counter!(crate::metrics::MAIL_RETRIED).increment(1);
                if !self.settings.fail_silently {
                    tracing::warn!(event = %mail.event_uuid, to, retry_at = %at,
                        "cannot send event mail yet: {error}");
                }
            }
            Delivery::GiveUp { error } => {
                self.shared.given_up.fetch_add(1, Ordering::Relaxed);
                ::metrics::counter!(crate::metrics::MAIL_FAILED).increment(1);
                if !self.settings.fail_silently {
                    tracing::error!(event = %mail.event_uuid, to,
                        "cannot send event mail; giving up: {error}");
                }
            }
        }
    }

    /// Stores the outcome, retrying a few times: a sent mail whose row stays claimed would be
    /// sent again once its lease runs out.
    async fn record(&self, mail: &OutboxMail, outcome: &Delivery) {
        let mut wait = Duration::from_millis(100);
        for attempt in 1..=6 {
            match self.store.finish_mail(mail.id, Utc::now(), outcome).await {
                Ok(()) => return,
                Err(e) if attempt == 6 => {
                    tracing::error!(error = %e, event = %mail.event_uuid,
                        "eventlog: cannot record the mail's outcome; it may be sent again");
                }
                Err(_) => {
                    tokio::time::sleep(wait).await;
                    wait *= 2;
                }
            }
        }
    }
}
