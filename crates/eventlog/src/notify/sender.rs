//! Sending notifications from the outbox: claim due rows, gather each group's digest, hold
//! back what a channel's rate limit does not allow yet, POST, record the outcome.

use std::collections::{HashMap, VecDeque};
use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::{TimeDelta, Utc};

use super::config::{ChannelConfig, NotifyConfig};
use super::http::{Answer, Poster};
use super::payload::{self, IDEMPOTENCY_HEADER, MAX_LISTED, Notice};
use crate::error::{ConfigError, Error};
use crate::event::Event;
use crate::event_type::EventTypes;
use crate::store::Backend;
use crate::store::outbox::{Delivery, KEEP_FINISHED, OutboxNotice, retry_wait};

/// How often the sender looks for due notifications.
const POLL_INTERVAL: Duration = Duration::from_secs(1);
/// Rows claimed at once.
const CLAIM_BATCH: usize = 32;
/// Rows one digest gathers at most (the message lists [`MAX_LISTED`] and counts the rest).
const DIGEST_LIMIT: usize = 10_000;
/// The rate limits' window.
const RATE_WINDOW: Duration = Duration::from_secs(60);
/// How long closing may spend sending what is due.
const CLOSE_TIMEOUT: Duration = Duration::from_secs(5);

/// A configured channel, its URL parsed.
struct Channel {
    config: ChannelConfig,
    url: url::Url,
}

/// What renders and posts messages: shared by the sender's loop and [`NotifySender::send_test`].
struct Dispatcher {
    channels: HashMap<String, Channel>,
    poster: Poster,
    admin_url: String,
    types: EventTypes,
}

impl Dispatcher {
    /// POSTs the message about `events` (`count` in all) to `channel`.
    async fn post(
        &self,
        channel: &Channel,
        events: &[Event],
        count: usize,
    ) -> Result<Answer, String> {
        let notice = Notice {
            events,
            count,
            admin_url: &self.admin_url,
            types: &self.types,
        };
        let body = payload::body(channel.config.kind, &notice);
        let body = serde_json::to_vec(&body).map_err(|e| format!("cannot encode: {e}"))?;
        let mut headers = Vec::new();
        if let Some(first) = events.first() {
            headers.push((IDEMPOTENCY_HEADER, first.uuid.to_string()));
        }
        if let Some(secret) = &channel.config.secret {
            let now = Utc::now().timestamp();
            headers.push((payload::TIMESTAMP_HEADER, now.to_string()));
            headers.push((
                payload::SIGNATURE_HEADER,
                payload::signature(secret.as_bytes(), now, &body),
            ));
        }
        self.poster.post(&channel.url, &headers, body).await
    }
}

/// Sends notifications from the outbox on a task of the caller's runtime. Start one per
/// process (several on one database share the work: each claim is a lease).
pub struct NotifySender {
    dispatcher: Arc<Dispatcher>,
    stop: std::sync::Mutex<Option<tokio::sync::oneshot::Sender<()>>>,
    task: tokio::sync::Mutex<Option<tokio::task::JoinHandle<()>>>,
}

impl std::fmt::Debug for NotifySender {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let names: Vec<&String> = self.dispatcher.channels.keys().collect();
        f.debug_struct("NotifySender")
            .field("channels", &names)
            .finish_non_exhaustive()
    }
}

impl NotifySender {
    /// Checks `config`, writes its routes to `store` (replacing any there: from now on each
    /// committed event gets a row per matching channel) and starts sending.
    pub async fn start(
        store: Arc<dyn Backend>,
        config: NotifyConfig,
        types: EventTypes,
    ) -> Result<NotifySender, Error> {
        config.validate()?;
        config.check_types(&types)?;
        store
            .set_notify_routes(&config.routes())
            .await
            .map_err(|source| Error::Connect { source })?;
        let poster = Poster::new(Duration::from_secs(config.timeout_secs))
            .map_err(|e| Error::from(ConfigError::value("notify", e)))?;
        let channels = config
            .channels
            .iter()
            .filter_map(|c| {
                // validate() checked every URL.
                let url = url::Url::parse(&c.url).ok()?;
                Some((
                    c.name.clone(),
                    Channel {
                        config: c.clone(),
                        url,
                    },
                ))
            })
            .collect();
        let dispatcher = Arc::new(Dispatcher {
            channels,
            poster,
            admin_url: config.admin_url.trim_end_matches('/').to_owned(),
            types,
        });
        let timeout = Duration::from_secs(config.timeout_secs);
        let worker = Worker {
            store,
            dispatcher: dispatcher.clone(),
            lease: timeout * 2 + Duration::from_secs(10),
            retry_max_interval: Duration::from_secs(config.retry_max_interval_secs),
            give_up_after: Duration::from_secs(config.give_up_after_secs),
            fail_silently: config.fail_silently,
            sent_at: HashMap::new(),
            paused_until: HashMap::new(),
        };
        let (stop_tx, stop_rx) = tokio::sync::oneshot::channel();
        let task = tokio::spawn(worker.run(stop_rx));
        Ok(NotifySender {
            dispatcher,
            stop: std::sync::Mutex::new(Some(stop_tx)),
            task: tokio::sync::Mutex::new(Some(task)),
        })
    }

    /// The configured channels: name and kind (never the URL).
    pub fn channels(&self) -> Vec<(String, super::ChannelKind)> {
        let mut list: Vec<_> = self
            .dispatcher
            .channels
            .values()
            .map(|c| (c.config.name.clone(), c.config.kind))
            .collect();
        list.sort_by(|a, b| a.0.cmp(&b.0));
        list
    }

    /// Sends a made-up event to `channel` at once (not through the outbox) and says what the
    /// receiver answered: the admin's "send a test". Errors never contain the URL.
    pub async fn send_test(&self, channel: &str, initiator: &str) -> Result<u16, String> {
        let ch = self
            .dispatcher
            .channels
            .get(channel)
            .ok_or_else(|| format!("no channel named {channel:?}"))?;
        let event = Event {
            id: 0,
            uuid: uuid::Uuid::now_v7(),
            event_type: self
                .dispatcher
                .types
                .names()
                .next()
                .unwrap_or("info")
                .to_owned(),
            group: "eventlog-test".into(),
            timestamp: Utc::now(),
            message: format!("A test message from eventlog to channel {channel}"),
            data: None,
            initiator: Some(initiator.to_owned()),
            send_mail: None,
        };
        let answer = self.dispatcher.post(ch, &[event], 1).await?;
        if (200..300).contains(&answer.status) {
            Ok(answer.status)
        } else {
            Err(format!("the receiver answered {}", answer.status))
        }
    }

    /// Sends what is due (for a few seconds at most) and stops; the rest stays queued.
    pub async fn close(&self) {
        if let Some(stop) = self.stop.lock().unwrap_or_else(|p| p.into_inner()).take() {
            let _ = stop.send(());
        }
        if let Some(task) = self.task.lock().await.take() {
            let _ = task.await;
        }
    }
}

struct Worker {
    store: Arc<dyn Backend>,
    dispatcher: Arc<Dispatcher>,
    /// How long a claim keeps other senders off a row: longer than any POST can take.
    lease: Duration,
    retry_max_interval: Duration,
    give_up_after: Duration,
    fail_silently: bool,
    /// Per channel, when its messages of the last [`RATE_WINDOW`] were sent.
    sent_at: HashMap<String, VecDeque<Instant>>,
    /// Per channel whose last attempt is to be retried, when that retry is due: the
    /// channel's other messages wait until then, so a receiver that is down or throttling
    /// costs one attempt (one timeout at most) per retry, not one per queued message, and
    /// the other channels are not held up behind it.
    paused_until: HashMap<String, chrono::DateTime<Utc>>,
}

fn delta(d: Duration) -> TimeDelta {
    TimeDelta::from_std(d).unwrap_or(TimeDelta::MAX)
}

impl Worker {
    async fn run(mut self, mut stop: tokio::sync::oneshot::Receiver<()>) {
        let mut last_prune = None::<Instant>;
        loop {
            self.send_due().await;
            // Finished rows of either kind go after a week, whether or not a mail sender runs.
            if last_prune.is_none_or(|t| t.elapsed() > Duration::from_secs(3600)) {
                last_prune = Some(Instant::now());
                if let Err(e) = self.store.prune_outbox(Utc::now() - KEEP_FINISHED).await {
                    tracing::warn!(error = %e, "eventlog: cannot prune the outbox");
                }
            }
            tokio::select! {
                _ = tokio::time::sleep(POLL_INTERVAL) => {}
                _ = &mut stop => break,
            }
        }
        let _ = tokio::time::timeout(CLOSE_TIMEOUT, self.send_due()).await;
    }

    async fn send_due(&mut self) {
        loop {
            let now = Utc::now();
            let claimed = match self
                .store
                .claim_notify(now, now + delta(self.lease), CLAIM_BATCH)
                .await
            {
                Ok(claimed) => claimed,
                Err(e) => {
                    tracing::warn!(error = %e, "eventlog: cannot read the notification outbox");
                    return;
                }
            };
            if claimed.is_empty() {
                return;
            }
            // One message per row; with a digest window, one per channel and group.
            let mut messages: Vec<Vec<OutboxNotice>> = Vec::new();
            for row in claimed {
                let digest = self
                    .dispatcher
                    .channels
                    .get(&row.channel)
                    .is_some_and(|c| c.config.digest_secs > 0);
                match messages
                    .iter_mut()
                    .find(|m| digest && m[0].channel == row.channel && m[0].group == row.group)
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
    async fn deliver(&mut self, mut rows: Vec<OutboxNotice>) {
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
        let paused = self
            .paused_until
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
            Delivery::Retry { at, .. } => self.paused_until.insert(name.to_owned(), *at),
            _ => self.paused_until.remove(name),
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
    fn rate_wait(&mut self, channel: &ChannelConfig) -> Option<Duration> {
        let limit = channel.rate_limit_per_minute as usize;
        if limit == 0 {
            return None;
        }
        let sent = self.sent_at.entry(channel.name.clone()).or_default();
        while sent.front().is_some_and(|t| t.elapsed() >= RATE_WINDOW) {
            sent.pop_front();
        }
        (sent.len() >= limit).then(|| {
            let oldest = sent.front().map_or(Duration::ZERO, Instant::elapsed);
            RATE_WINDOW.saturating_sub(oldest) + Duration::from_millis(10)
        })
    }

    fn note_sent(&mut self, channel: &str) {
        self.sent_at
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
