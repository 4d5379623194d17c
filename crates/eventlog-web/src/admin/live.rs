//! The live tail's shared poller: one read of new events per interval, whatever the number
//! of open streams, fanned out to each of them (each filters in memory).
//!
//! The poller runs only while streams are open: the first stream starts it, and it stops at
//! the first interval without a stream. It follows the log with [`Store::follow`], so every
//! committed event is read exactly once, in pages of [`PAGE`] events, as fast as the
//! database gives them (it reads on without waiting while pages come back full). Each page
//! goes out as one [`Batch`] on a bounded `broadcast` channel: a stream that reads slowly
//! loses the oldest batches instead of holding memory, and the sequence numbers on the
//! batches tell it how many events it missed.
//!
//! Streams attach between two polls (the poll holds the lock while it publishes), so the
//! position a stream is given and the batches it receives afterwards meet exactly.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use eventlog::Event;
use eventlog::store::{EventFilter, FollowCursor, ReadStore};
use tokio::sync::broadcast;

/// Events per read of the poller (and per batch sent to the streams).
pub const PAGE: usize = 1000;

/// Batches kept for streams that have not read them yet: a stream further behind misses
/// the oldest and is told how many events it skipped. At most `CHANNEL × PAGE` events are
/// held, however slow the readers.
const CHANNEL: usize = 32;

/// Limits on open live-tail streams (`[server] live_tail_per_session`, `live_tail_per_user`,
/// `live_tail_max`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StreamLimits {
    /// Streams one session (one logged-in browser) may hold open at once.
    pub per_session: usize,
    /// Streams one user may hold open at once over all their sessions, so that one account
    /// logged in many times cannot take every place.
    pub per_user: usize,
    /// Streams open at once over all sessions.
    pub total: usize,
}

impl Default for StreamLimits {
    fn default() -> Self {
        StreamLimits {
            per_session: 4,
            per_user: 16,
            total: 100,
        }
    }
}

/// New events read by one poll, as they go out to every stream.
#[derive(Debug)]
pub struct Batch {
    /// The events, in id order.
    pub events: Vec<Event>,
    /// Sequence number of the first event (events published before it, since the poller
    /// started).
    pub first: u64,
    /// Where following stands after these events; a stream resumes from it on reconnect.
    pub cursor: FollowCursor,
}

impl Batch {
    /// Sequence number after the last event.
    pub fn end(&self) -> u64 {
        self.first + self.events.len() as u64
    }
}

/// What a stream attaches to: the batches to come and where they start.
pub struct Subscription {
    /// Batches published after `position`.
    pub batches: broadcast::Receiver<Arc<Batch>>,
    /// Everything up to here was read before the stream attached.
    pub position: FollowCursor,
    /// Sequence number of the next event.
    pub next: u64,
}

struct Running {
    tx: broadcast::Sender<Arc<Batch>>,
    position: FollowCursor,
    published: u64,
}

/// Why a stream was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum Refused {
    /// The session already holds its share of streams.
    #[error(
        "this session already has {0} live tails open (the most allowed); close one (another tab or window) and try again"
    )]
    PerSession(usize),
    /// The user already holds their share of streams, over all their sessions.
    #[error(
        "this user already has {0} live tails open (the most allowed), in this or other sessions; close one and try again"
    )]
    PerUser(usize),
    /// The server holds as many streams as it allows.
    #[error("the server has {0} live tails open (the most allowed); try again later")]
    Total(usize),
}

#[derive(Default)]
struct Open {
    total: usize,
    per_session: HashMap<String, usize>,
    per_user: HashMap<String, usize>,
}

/// Takes one from `key`'s count, forgetting it at zero.
fn release(counts: &mut HashMap<String, usize>, key: &str) {
    if let Some(n) = counts.get_mut(key) {
        *n = n.saturating_sub(1);
        if *n == 0 {
            counts.remove(key);
        }
    }
}

/// The hub of live-tail streams: their count, and the one poller that feeds them.
pub struct LiveTail {
    store: Arc<dyn ReadStore>,
    interval: Duration,
    limits: StreamLimits,
    running: tokio::sync::Mutex<Option<Running>>,
    open: Arc<Mutex<Open>>,
    polls: AtomicU64,
}

/// A stream's place under the limits, given back when the stream ends (dropped).
pub struct Slot {
    open: Arc<Mutex<Open>>,
    session: String,
    user: String,
}

impl Drop for Slot {
    fn drop(&mut self) {
        let mut open = self.open.lock().unwrap_or_else(|e| e.into_inner());
        open.total = open.total.saturating_sub(1);
        release(&mut open.per_session, &self.session);
        release(&mut open.per_user, &self.user);
    }
}

impl LiveTail {
    /// A hub over `store` that polls every `interval`.
    pub fn new(store: Arc<dyn ReadStore>, interval: Duration, limits: StreamLimits) -> Arc<Self> {
        Arc::new(LiveTail {
            store,
            interval,
            limits,
            running: tokio::sync::Mutex::new(None),
            open: Arc::default(),
            polls: AtomicU64::new(0),
        })
    }

    /// Reads of new events the poller has made since the server started: one per interval
    /// (more when pages come back full) while any stream is open, however many.
    pub fn polls(&self) -> u64 {
        self.polls.load(Ordering::Relaxed)
    }

    /// Streams open now.
    pub fn open_streams(&self) -> usize {
        self.open.lock().unwrap_or_else(|e| e.into_inner()).total
    }

    /// Takes a place for a stream of `session`, opened by `user`, or says which limit
    /// refuses it.
    pub fn reserve(&self, session: &str, user: &str) -> Result<Slot, Refused> {
        let mut open = self.open.lock().unwrap_or_else(|e| e.into_inner());
        if open.total >= self.limits.total {
            return Err(Refused::Total(self.limits.total));
        }
        if open.per_session.get(session).copied().unwrap_or(0) >= self.limits.per_session {
            return Err(Refused::PerSession(self.limits.per_session));
        }
        if open.per_user.get(user).copied().unwrap_or(0) >= self.limits.per_user {
            return Err(Refused::PerUser(self.limits.per_user));
        }
        *open.per_session.entry(session.to_owned()).or_default() += 1;
        *open.per_user.entry(user.to_owned()).or_default() += 1;
        open.total += 1;
        Ok(Slot {
            open: self.open.clone(),
            session: session.to_owned(),
            user: user.to_owned(),
        })
    }

    /// Where a page rendered now should start its live tail: the poller's position if it
    /// runs, else the end of the log. Taken before the page reads its events, so that the
    /// stream's catch-up covers whatever is stored in between.
    pub async fn position(&self) -> Result<FollowCursor, eventlog::StoreError> {
        if let Some(r) = self.running.lock().await.as_ref() {
            return Ok(r.position.clone());
        }
        self.store.follow_start().await
    }

    /// Attaches a stream, starting the poller if none runs.
    pub async fn subscribe(self: &Arc<Self>) -> Result<Subscription, eventlog::StoreError> {
        let mut running = self.running.lock().await;
        if running.is_none() {
            let (tx, _) = broadcast::channel(CHANNEL);
            *running = Some(Running {
                tx,
                position: self.store.follow_start().await?,
                published: 0,
            });
            let hub = self.clone();
            tokio::spawn(async move { hub.poll_while_watched().await });
        }
        let r = running.as_ref().ok_or(eventlog::StoreError::Corrupt(
            "live-tail poller missing".into(),
        ))?;
        Ok(Subscription {
            batches: r.tx.subscribe(),
            position: r.position.clone(),
            next: r.published,
        })
    }

    async fn poll_while_watched(self: Arc<Self>) {
        let all = EventFilter::default();
        loop {
            tokio::time::sleep(self.interval).await;
            let mut guard = self.running.lock().await;
            let Some(r) = guard.as_mut() else { return };
            if r.tx.receiver_count() == 0 {
                *guard = None;
                return;
            }
            // Read on while pages come back full: the tail keeps up with any ingest rate
            // the database can serve, instead of a fixed number of rows per interval.
            loop {
                self.polls.fetch_add(1, Ordering::Relaxed);
                let (events, next) = match self.store.follow(&all, &r.position, PAGE).await {
                    Ok(read) => read,
                    Err(e) => {
                        tracing::warn!(error = %e, "live tail: reading new events failed");
                        break;
                    }
                };
                let full = events.len() == PAGE;
                r.position = next;
                if !events.is_empty() {
                    let batch = Batch {
                        first: r.published,
                        cursor: r.position.clone(),
                        events,
                    };
                    r.published = batch.end();
                    // No receiver: the streams just ended; the next interval stops.
                    let _ = r.tx.send(Arc::new(batch));
                }
                if !full {
                    break;
                }
            }
        }
    }
}
