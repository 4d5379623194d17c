//! The sending loop: claim due rows, gather each group's digest, hold back what a channel's
//! rate limit or pause does not allow yet, POST, record the outcome.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use chrono::{TimeDelta, Utc};

use super::config::ChannelConfig;
use super::dispatch::Dispatcher;
use super::http::Answer;
use super::payload::MAX_LISTED;
use crate::store::Backend;
use crate::store::outbox::{Delivery, KEEP_FINISHED, OutboxNotice, retry_wait};

/// How often the sender looks for due notifications.
const POLL_INTERVAL: Duration = Duration::from_secs(1);
/// Rows claimed at once: few, since their lease must outlast sending them all one by one.
const CLAIM_BATCH: usize = 8;
/// Rows one digest gathers at most (the message lists [`MAX_LISTED`] and counts the rest).
const DIGEST_LIMIT: usize = 10_000;
/// The rate limits' window.
const RATE_WINDOW: Duration = Duration::from_secs(60);
/// How long closing may spend sending what is due.
const CLOSE_TIMEOUT: Duration = Duration::from_secs(5);

pub(super) struct Worker {
    store: Arc<dyn Backend>,
    dispatcher: Arc<Dispatcher>,
    /// How long a claim keeps other senders off a row.
    lease: Duration,
    retry_max_interval: Duration,
    give_up_after: Duration,
    fail_silently: bool,
    /// Per channel, when its messages of the last [`RATE_WINDOW`] were sent.
    sent_at: Mutex<HashMap<String, VecDeque<Instant>>>,
    /// Per channel whose last attempt is to be retried, when that retry is due: the
    /// channel's other messages wait until then, so a receiver that is down or throttling
    /// costs one attempt (one timeout at most) per retry, not one per queued message, and
    /// the other channels are not held up behind it.
    paused_until: Mutex<HashMap<String, chrono::DateTime<Utc>>>,
}

impl Worker {
    pub(super) fn new(
        store: Arc<dyn Backend>,
        dispatcher: Arc<Dispatcher>,
        config: &super::NotifyConfig,
    ) -> Worker {
        let timeout = Duration::from_secs(config.timeout_secs);
        Worker {
            store,
            dispatcher,
            // Longer than a whole claim takes with every POST running to its timeout, so no
            // other server claims a row this one is still about to send.
            lease: timeout * (CLAIM_BATCH as u32 + 1) + Duration::from_secs(10),
            retry_max_interval: Duration::from_secs(config.retry_max_interval_secs),
            give_up_after: Duration::from_secs(config.give_up_after_secs),
            fail_silently: config.fail_silently,
            sent_at: Mutex::default(),
            paused_until: Mutex::default(),
        }
    }
}

/// A lock nobody holds across an await; a panic elsewhere leaves the map usable.
fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|p| p.into_inner())
}

fn delta(d: Duration) -> TimeDelta {
    TimeDelta::from_std(d).unwrap_or(TimeDelta::MAX)
}

impl Worker {
    /// Runs one sending loop per channel, side by side (a slow or dead receiver holds up its
    /// own channel only), until `stop`; then each makes one last attempt at what is due.
    pub(super) async fn run(self, stop: tokio::sync::oneshot::Receiver<()>) {
        let this = Arc::new(self);
        let (stopping, stopped) = tokio::sync::watch::channel(false);
        let mut loops = tokio::task::JoinSet::new();
        for name in this.dispatcher.channels.keys() {
            let (worker, name) = (this.clone(), name.clone());
            let mut stopped = stopped.clone();
            loops.spawn(async move {
                loop {
                    worker.send_due(&name).await;
                    tokio::select! {
                        _ = tokio::time::sleep(POLL_INTERVAL) => {}
                        _ = stopped.changed() => break,
                    }
                }
                let _ = tokio::time::timeout(CLOSE_TIMEOUT, worker.send_due(&name)).await;
            });
        }
        // Finished rows of either kind go after a week, whether or not a mail sender runs.
        let prune = async {
            loop {
                if let Err(e) = this.store.prune_outbox(Utc::now() - KEEP_FINISHED).await {
                    tracing::warn!(error = %e, "eventlog: cannot prune the outbox");
                }
                tokio::time::sleep(Duration::from_secs(3600)).await;
            }
        };
        tokio::select! {
            _ = stop => {}
            _ = prune => {}
        }
        let _ = stopping.send(true);
        while loops.join_next().await.is_some() {}
    }

    /// Claims and sends the due rows of `channel` until none is due.
    async fn send_due(&self, channel: &str) {
        let digest = self
            .dispatcher
            .channels
            .get(channel)
            .is_some_and(|c| c.config.digest_secs > 0);
        loop {
            let now = Utc::now();
            let claimed = match self
                .store
                .claim_notify(channel, now, now + delta(self.lease), CLAIM_BATCH)
                .await
            {
                Ok(claimed) => claimed,
                Err(e) => {
                    tracing::warn!(error = %e, channel, "eventlog: cannot read the notification outbox");
                    return;
                }
            };
            if claimed.is_empty() {
                return;
            }
            // One message per row; with a digest window, one per group.
            let mut messages: Vec<Vec<OutboxNotice>> = Vec::new();
            for row in claimed {
                match messages
                    .iter_mut()
                    .find(|m| digest && m[0].group == row.group)
                {
                    Some(m) => m.push(row),
                    None => messages.push(vec![row]),
                }
            }
            for rows in messages {
                self.deliver(rows).await;
            }
        }
    }

    /// Sends one message for `rows` (all of one channel and group) and records it on each.
    async fn deliver(&self, mut rows: Vec<OutboxNotice>) {
        let dispatcher = self.dispatcher.clone();
        let Some(channel) = dispatcher.channels.get(&rows[0].channel) else {
            let outcome = Delivery::GiveUp {
                error: "no such channel in this server's [notify] configuration".into(),
            };
            self.finish(&rows, &outcome, "unconfigured").await;
            return;
        };
        let name = channel.config.name.as_str();
        if channel.config.digest_secs > 0 {
            let now = Utc::now();
            match self
                .store
                .claim_digest(
                    name,
                    &rows[0].group,
                    now,
                    now + delta(self.lease),
                    DIGEST_LIMIT,
                )
                .await
            {
                Ok(more) => rows.extend(more),
                Err(e) => {
                    tracing::warn!(error = %e, channel = name, "eventlog: cannot gather a digest")
                }
            }
        }
        let paused = lock(&self.paused_until)
            .get(name)
            .copied()
            .filter(|at| *at > Utc::now());
        if let Some(at) = paused {
            self.defer(&rows, at, name).await;
            return;
        }
        if let Some(wait) = self.rate_wait(&channel.config) {
            self.defer(&rows, Utc::now() + delta(wait), name).await;
            ::metrics::counter!(crate::metrics::NOTIFY_DEFERRED, "channel" => name.to_owned())
                .increment(rows.len() as u64);
            return;
        }
        let mut events = Vec::new();
        for row in rows.iter().take(MAX_LISTED) {
            match self.store.get(row.event_id).await {
                Ok(Some(e)) if e.uuid == row.event_uuid => events.push(e),
                Ok(_) => {}
                Err(e) => {
                    let outcome = self.retry(&rows, format!("cannot read the event: {e}"));
                    self.finish(&rows, &outcome, name).await;
                    return;
                }
            }
        }
        let outcome = if events.is_empty() {
            Delivery::GiveUp {
                error: "the event was deleted before it was sent".into(),
            }
        } else {
            self.note_sent(name);
            let answer = dispatcher.post(channel, &events, rows.len()).await;
            self.judge(&rows, answer)
        };
        match &outcome {
            Delivery::Retry { at, .. } => lock(&self.paused_until).insert(name.to_owned(), *at),
            _ => lock(&self.paused_until).remove(name),
        };
        self.finish(&rows, &outcome, name).await;
    }

    /// Puts `rows` back, due at `at`, without counting an attempt.
    async fn defer(&self, rows: &[OutboxNotice], at: chrono::DateTime<Utc>, channel: &str) {
        for row in rows {
            if let Err(e) = self.store.defer_notify(row.id, at).await {
                tracing::warn!(error = %e, channel, "eventlog: cannot defer a notification");
            }
        }
    }

    /// What an answer (or its absence) means for the rows.
    fn judge(&self, rows: &[OutboxNotice], answer: Result<Answer, String>) -> Delivery {
        let answer = match answer {
            Ok(answer) => answer,
            Err(reason) => return self.retry(rows, reason),
        };
        let quoted: String = answer
            .body_start
            .chars()
            .take(200)
            .map(|c| if c.is_control() { ' ' } else { c })
            .collect();
        match answer.status {
            200..=299 => Delivery::Sent,
            429 => {
                let mut delivery =
                    self.retry(rows, "the receiver answered 429 Too Many Requests".into());
                if let (Delivery::Retry { at, .. }, Some(after)) =
                    (&mut delivery, answer.retry_after)
                {
                    // Honoured, but never past the longest retry interval.
                    let wanted = Utc::now() + delta(after.min(self.retry_max_interval));
                    *at = (*at).max(wanted);
                }
                delivery
            }
            408 | 500..=599 => self.retry(
                rows,
                format!("the receiver answered {}: {quoted}", answer.status),
            ),
            300..=399 => Delivery::GiveUp {
                error: format!(
                    "the receiver answered {} (a redirect; redirects are not followed)",
                    answer.status
                ),
            },
            status => Delivery::GiveUp {
                error: format!("the receiver refused with {status}: {quoted}"),
            },
        }
    }

    /// Retry with back-off, or give up once the retry period since the oldest event is over.
    fn retry(&self, rows: &[OutboxNotice], error: String) -> Delivery {
        let now = Utc::now();
        let oldest = rows.iter().map(|r| r.created_at).min().unwrap_or(now);
        if now - oldest >= delta(self.give_up_after) {
            return Delivery::GiveUp {
                error: format!("{error} (retried for {:?})", self.give_up_after),
            };
        }
        let attempts = rows.iter().map(|r| r.attempts).max().unwrap_or(1);
        Delivery::Retry {
            at: now + delta(retry_wait(attempts, self.retry_max_interval)),
            error,
        }
    }

    /// How long `channel` must wait for its rate limit, if it must.
    fn rate_wait(&self, channel: &ChannelConfig) -> Option<Duration> {
        let limit = channel.rate_limit_per_minute as usize;
        if limit == 0 {
            return None;
        }
        let mut sent_at = lock(&self.sent_at);
        let sent = sent_at.entry(channel.name.clone()).or_default();
        while sent.front().is_some_and(|t| t.elapsed() >= RATE_WINDOW) {
            sent.pop_front();
        }
        (sent.len() >= limit).then(|| {
            let oldest = sent.front().map_or(Duration::ZERO, Instant::elapsed);
            RATE_WINDOW.saturating_sub(oldest) + Duration::from_millis(10)
        })
    }

    fn note_sent(&self, channel: &str) {
        lock(&self.sent_at)
            .entry(channel.to_owned())
            .or_default()
            .push_back(Instant::now());
    }

    /// Records `outcome` on every row, counts and logs it (by channel name, never its URL).
    async fn finish(&self, rows: &[OutboxNotice], outcome: &Delivery, channel: &str) {
        let label = channel.to_owned();
        match outcome {
            Delivery::Sent => {
                ::metrics::counter!(crate::metrics::NOTIFY_SENT, "channel" => label).increment(1);
            }
            Delivery::Retry { at, error } => {
                ::metrics::counter!(crate::metrics::NOTIFY_RETRIED, "channel" => label)
                    .increment(1);
                if !self.fail_silently {
                    tracing::warn!(channel, event = %rows[0].event_uuid, retry_at = %at,
                        "cannot notify yet: {error}");
                }
            }
            Delivery::GiveUp { error } => {
                ::metrics::counter!(crate::metrics::NOTIFY_FAILED, "channel" => label).increment(1);
                if !self.fail_silently {
                    tracing::error!(channel, event = %rows[0].event_uuid,
                        "cannot notify; giving up: {error}");
                }
            }
        }
        for row in rows {
            record(&*self.store, row.id, outcome).await;
        }
    }
}

/// Stores an outcome, retrying a few times: a sent message whose row stays claimed would be
/// sent again once its lease runs out.
async fn record(store: &dyn Backend, id: i64, outcome: &Delivery) {
    let mut wait = Duration::from_millis(100);
    for attempt in 1..=6 {
        match store.finish_mail(id, Utc::now(), outcome).await {
            Ok(()) => return,
            Err(e) if attempt == 6 => {
                tracing::error!(error = %e, "eventlog: cannot record a notification's outcome; it may be sent again");
            }
            Err(_) => {
                tokio::time::sleep(wait).await;
                wait *= 2;
            }
        }
    }
}
