//! The background writer: a bounded queue drained by one thread that stores events in batches.
//!
//! Shaped like `tracing-appender`'s non-blocking writer. Callers push onto a bounded queue and
//! return; the writer thread blocks for the first message, drains whatever else is queued (up
//! to `batch_size`), and stores it in one transaction. Under load batches grow by themselves,
//! so commits stay few; when idle an event is stored at once.
//!
//! The writer owns its store connection on its own single-threaded runtime, so callers that
//! block on a full queue (back-pressure) can never starve it, whatever runtime they run on.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

use crate::error::StoreError;
use crate::event::{CommitObserver, NewEvent, notify_committed};
use crate::store::{Inserted, WriteStore};

/// Rows of upkeep the writer does when its queue runs empty, before it waits again.
const MAINTENANCE_BUDGET: usize = 5_000;

/// The writer's settings: `[writer]` in `eventlog.toml`, or [`crate::EventLogBuilder`]'s
/// setters. Defined here, not in `config`, so that the writer depends on nothing above it.
#[derive(Debug, Clone, Copy, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct WriterOptions {
    /// Events the in-memory queue holds before callers wait (back-pressure).
    pub capacity: usize,
    /// Most events stored in one transaction. The writer does not wait to fill a batch: it
    /// stores what is queued, so batches grow only when events arrive faster than commits.
    pub batch_size: usize,
    /// Longest back-off between retries while the database is unreachable, in milliseconds.
    pub max_backoff_ms: u64,
    /// How long `close()` keeps retrying an unreachable database before it reports the
    /// remaining events as failed, in milliseconds.
    pub shutdown_timeout_ms: u64,
    /// How long dropping the last [`crate::EventLog`] handle may block, in milliseconds, for
    /// the writer and the mail sender together. Past it the drop returns and they finish in
    /// the background (what is not stored when the process exits is lost); `close()` is the
    /// way to wait for everything. Default 5,000.
    pub drop_timeout_ms: u64,
}

impl Default for WriterOptions {
    fn default() -> Self {
        WriterOptions {
            capacity: 100_000,
            batch_size: 5_000,
            max_backoff_ms: 5_000,
            shutdown_timeout_ms: 30_000,
            drop_timeout_ms: 5_000,
        }
    }
}

/// What the writer has done so far.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct WriterStats {
    /// Events stored.
    pub stored: u64,
    /// Events not stored again because their uuid was already stored.
    pub duplicates: u64,
    /// Failed attempts to store a batch that were retried.
    pub retried: u64,
    /// Events that could not be stored and were given up (each one logged as an error).
    pub failed: u64,
    /// Events waiting in the queue right now.
    pub queued: usize,
}

#[derive(Debug, Default)]
pub(crate) struct Counters {
    stored: AtomicU64,
    duplicates: AtomicU64,
    retried: AtomicU64,
    failed: AtomicU64,
}

// Events travel unboxed: a box would be one more allocation on the caller's thread, freed
// on the writer's (the costliest kind for the allocator).
#[allow(clippy::large_enum_variant)]
pub(crate) enum Message {
    Event(NewEvent),
    /// Acknowledged once every message queued before it is stored (or given up).
    Flush(flume::Sender<()>),
}

/// The sending half and the thread, owned by the [`crate::EventLog`] handle.
pub(crate) struct WriterHandle {
    pub(crate) queue: flume::Sender<Message>,
    counters: Arc<Counters>,
    closing: Arc<AtomicBool>,
    thread: std::sync::Mutex<Option<JoinHandle<()>>>,
    /// Disconnected when the writer thread has finished.
    done: flume::Receiver<()>,
    pub(crate) drop_timeout: Duration,
}

impl WriterHandle {
    pub(crate) fn stats(&self) -> WriterStats {
        WriterStats {
            stored: self.counters.stored.load(Ordering::Relaxed),
            duplicates: self.counters.duplicates.load(Ordering::Relaxed),
            retried: self.counters.retried.load(Ordering::Relaxed),
            failed: self.counters.failed.load(Ordering::Relaxed),
            queued: self.queue.len(),
        }
    }

    /// Marks the writer as closing: from now on an unreachable database is retried only until
    /// the shutdown timeout, then what is left is reported as failed.
    pub(crate) fn begin_close(&self) {
        self.closing.store(true, Ordering::SeqCst);
    }

    /// Waits until `deadline` for the writer thread to finish (it finishes once every
    /// sender is gone and the queue is drained); true if it did. Past the deadline the
    /// thread is left to finish in the background.
    pub(crate) fn join_until(&self, deadline: Instant) -> bool {
        match self.done.recv_deadline(deadline) {
            Err(flume::RecvTimeoutError::Timeout) => false,
            Ok(()) | Err(flume::RecvTimeoutError::Disconnected) => {
                if let Some(thread) = self.thread.lock().ok().and_then(|mut t| t.take()) {
                    let _ = thread.join();
                }
                true
            }
        }
    }
}

/// Starts the writer thread. `connect` runs on the writer's own runtime and opens its store;
/// its outcome is sent on `ready`.
pub(crate) fn spawn<F, Fut>(
    config: WriterOptions,
    observer: Option<Arc<dyn CommitObserver>>,
    connect: F,
    ready: flume::Sender<Result<(), crate::Error>>,
) -> std::io::Result<WriterHandle>
where
    F: FnOnce() -> Fut + Send + 'static,
    Fut: std::future::Future<Output = Result<Arc<dyn WriteStore>, StoreError>>,
{
    let (queue, receiver) = flume::bounded(config.capacity);
    let counters = Arc::new(Counters::default());
    let closing = Arc::new(AtomicBool::new(false));
    let worker = Worker {
        receiver,
        config,
        observer,
        counters: counters.clone(),
        closing: closing.clone(),
        closing_since: None,
    };
    let (done_tx, done) = flume::bounded::<()>(0);
    let thread = crate::background::spawn("eventlog-writer", move |runtime| {
        // Dropped when this closure returns: tells `join_until` the thread is done.
        let _done = done_tx;
        let runtime = match runtime {
            Ok(rt) => rt,
            Err(e) => {
                let _ = ready.send(Err(crate::Error::Spawn {
                    what: "writer runtime",
                    source: e,
                }));
                return;
            }
        };
        match runtime.block_on(connect()) {
            Ok(store) => {
                let _ = ready.send(Ok(()));
                worker.run(&runtime, store.as_ref());
                // Nothing more will be written through this store: leave one tidy file.
                runtime.block_on(store.close());
            }
            Err(e) => {
                let _ = ready.send(Err(crate::Error::Connect { source: e }));
            }
        }
    })?;
    Ok(WriterHandle {
        queue,
        counters,
        closing,
        thread: std::sync::Mutex::new(Some(thread)),
        done,
        drop_timeout: Duration::from_millis(config.drop_timeout_ms),
    })
}

struct Worker {
    receiver: flume::Receiver<Message>,
    config: WriterOptions,
    observer: Option<Arc<dyn CommitObserver>>,
    counters: Arc<Counters>,
    closing: Arc<AtomicBool>,
    closing_since: Option<Instant>,
}

impl Worker {
    fn run(mut self, runtime: &tokio::runtime::Runtime, store: &dyn WriteStore) {
        let mut batch: Vec<NewEvent> = Vec::with_capacity(self.config.batch_size);
        let mut acks: Vec<flume::Sender<()>> = Vec::new();
        let receiver = self.receiver.clone();
        // Ends when every sender is gone and the queue is empty. Waiting inside the runtime
        // (not a blocking recv beside it) keeps its I/O driver running while idle: the store's
        // pool is shared (`EventLog::store`, the admin), and PostgreSQL connections this
        // runtime opened only make progress, whoever uses them, while it is driven.
        while let Ok(first) = runtime.block_on(receiver.recv_async()) {
            ::metrics::gauge!(crate::metrics::QUEUE_DEPTH, "source" => "writer")
                .set(receiver.len() as f64 + 1.0);
            // drain() takes everything queued under one lock: far less contention with the
            // callers than a try_recv() per message.
            for message in std::iter::once(first).chain(receiver.drain()) {
                match message {
                    Message::Event(e) => {
                        batch.push(e);
                        if batch.len() >= self.config.batch_size {
                            self.store(runtime, store, &batch);
                            batch.clear();
                        }
                    }
                    Message::Flush(ack) => acks.push(ack),
                }
            }
            if !batch.is_empty() {
                self.store(runtime, store, &batch);
                batch.clear();
            }
            ::metrics::gauge!(crate::metrics::QUEUE_DEPTH, "source" => "writer")
                .set(receiver.len() as f64);
            for ack in acks.drain(..) {
                let _ = ack.send(());
            }
            // Idle: do a bounded piece of upkeep (on SQLite, truncating the WAL) before waiting.
            if receiver.is_empty()
                && let Err(e) = runtime.block_on(store.maintain(MAINTENANCE_BUDGET))
            {
                tracing::warn!(error = %e, "eventlog: store maintenance failed");
            }
        }
    }

    /// Stores one batch, retrying transient errors with exponential back-off. A batch that
    /// fails for a reason of its own data is split until the offending events are isolated;
    /// those are logged and counted as failed, the rest stored.
    fn store(
        &mut self,
        runtime: &tokio::runtime::Runtime,
        store: &dyn WriteStore,
        batch: &[NewEvent],
    ) {
        let mut backoff = Duration::from_millis(20);
        let max_backoff = Duration::from_millis(self.config.max_backoff_ms.max(1));
        loop {
            let started = Instant::now();
            match runtime.block_on(store.insert_batch(batch)) {
                Ok(results) => {
                    self.committed(batch, &results, started.elapsed());
                    return;
                }
                Err(e) if e.is_transient() => {
                    if self.closing.load(Ordering::SeqCst) {
                        let since = *self.closing_since.get_or_insert_with(Instant::now);
                        if since.elapsed() >= Duration::from_millis(self.config.shutdown_timeout_ms)
                        {
                            self.counters
                                .failed
                                .fetch_add(batch.len() as u64, Ordering::Relaxed);
                            ::metrics::counter!(crate::metrics::EVENTS_FAILED)
                                .increment(batch.len() as u64);
                            tracing::error!(
                                events = batch.len(),
                                error = %e,
                                "eventlog: database still unreachable at shutdown; events not stored"
                            );
                            return;
                        }
                    }
                    self.counters.retried.fetch_add(1, Ordering::Relaxed);
                    tracing::warn!(
                        events = batch.len(),
                        error = %e,
                        retry_in_ms = backoff.as_millis() as u64,
                        "eventlog: storing events failed; retrying"
                    );
                    // In the runtime, for the same reason as the wait for events (the timer is made
                    // inside it: outside, it finds no runtime).
                    runtime.block_on(async { tokio::time::sleep(backoff).await });
                    backoff = (backoff * 2).min(max_backoff);
                }
                Err(e) => {
                    if let [event] = batch {
                        self.counters.failed.fetch_add(1, Ordering::Relaxed);
                        ::metrics::counter!(crate::metrics::EVENTS_FAILED).increment(1);
                        tracing::error!(
                            uuid = %event.uuid,
                            event_type = %event.event_type,
                            group = %event.group,
                            error = %e,
                            "eventlog: event cannot be stored; giving up on it"
                        );
                        return;
                    }
                    let (left, right) = batch.split_at(batch.len() / 2);
                    self.store(runtime, store, left);
                    self.store(runtime, store, right);
                    return;
                }
            }
        }
    }

    fn committed(&self, batch: &[NewEvent], results: &[Inserted], took: Duration) {
        let created = results.iter().filter(|r| r.created).count() as u64;
        self.counters.stored.fetch_add(created, Ordering::Relaxed);
        self.counters
            .duplicates
            .fetch_add(results.len() as u64 - created, Ordering::Relaxed);
        crate::metrics::batch_committed(
            "writer",
            batch.len(),
            created,
            results.len() as u64 - created,
            crate::store::outbox::mails_queued(batch, results),
            took,
        );
        if let Some(observer) = &self.observer {
            let created = batch
                .iter()
                .zip(results)
                .filter(|(_, r)| r.created)
                .map(|(e, r)| (e, r.id));
            notify_committed(observer.as_ref(), created);
        }
    }
}
