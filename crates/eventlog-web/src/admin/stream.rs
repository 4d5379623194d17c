//! `GET /events/stream?after=CURSOR&…filters`: the live tail, as server-sent events.
//!
//! Every stream is fed by the one shared poller ([`super::live`]) and keeps the events its
//! filter selects ([`EventFilter::matches`], the same answer as the stores' queries). Each
//! batch goes out as rendered table rows (escaped on the server) in an `events` message whose
//! id is the follow cursor after it, mid-burst too, so a reconnecting browser resumes exactly
//! where it left off (`Last-Event-ID`), and a page passes its own position as `after`: the stream first
//! catches up from there (at most [`CATCH_UP`] events) to where the poller stands.
//!
//! Other messages: `skipped` (data: a number) when the stream fell behind and events were
//! not sent to it; `ended` (data: why) before the stream closes because its session ended
//! (logout, expiry, user removed — checked every [`SESSION_CHECK`]).
//!
//! Limits: `[server] live_tail_per_session` streams per session, `live_tail_per_user` per
//! user over all their sessions, and `live_tail_max` in all;
//! past them `429`.

use std::convert::Infallible;
use std::time::Duration;

use askama::Template;
use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::sse::{Event as SseEvent, KeepAlive, Sse};
use eventlog::Event;
use eventlog::store::{EventFilter, FollowCursor};
use futures_util::Stream;
use tokio::sync::broadcast::error::RecvError;

use super::EventRow;
use super::list_query::AdminQuery;
use super::live::{Batch, Slot, Subscription};
use crate::AppState;
use crate::auth::CurrentUser;
use crate::error::AppError;

/// How often a stream checks that its session is still valid.
pub const SESSION_CHECK: Duration = Duration::from_secs(5);

/// Most events a stream sends to catch up from the position its page was rendered at; past
/// it the stream says how many it skipped.
pub const CATCH_UP: usize = 1000;

/// Rows rendered for the live tail, newest first.
#[derive(Template)]
#[template(path = "_rows.html")]
pub struct RowsFragment {
    /// The rows.
    pub rows: Vec<EventRow>,
    /// Path prefix.
    pub base: String,
    /// Whether to draw selection checkboxes.
    pub is_admin: bool,
}

/// The SSE stream.
pub async fn stream(
    State(state): State<AppState>,
    user: CurrentUser,
    headers: HeaderMap,
    params: AdminQuery,
) -> Result<Sse<impl Stream<Item = Result<SseEvent, Infallible>>>, AppError> {
    let filter = params.filter(eventlog::event::now());
    let from_query = params.param("after").map(str::to_owned);
    let last_event_id = headers
        .get("last-event-id")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let after: Option<FollowCursor> = match last_event_id.or(from_query) {
        Some(v) => Some(v.parse().map_err(|_| {
            AppError::BadRequest(format!(
                "after={:?} is not a live-tail position",
                eventlog::filter::shorten(&v)
            ))
        })?),
        None => None,
    };
    let live = state.live_tail();
    let session_key = if user.token_hash.is_empty() {
        format!("host:{}", user.user().name)
    } else {
        user.token_hash.clone()
    };
    let slot = live
        .reserve(&session_key, &user.user().name)
        .map_err(|e| AppError::TooManyStreams(e.to_string()))?;
    let sub = live.subscribe().await?;
    // A position mid-page first finishes its page, then catches up to the poller.
    let (catch_up, finishing_page) = match after {
        Some(cursor) => match cursor.rest_of_page() {
            Some(rest) => (Some(rest), true),
            None => (Some(cursor.until(&sub.position)), false),
        },
        None => (None, false),
    };
    let tail = Tail {
        state: state.clone(),
        base: user.base.path().to_owned(),
        user,
        filter,
        catch_up,
        finishing_page,
        caught_up: 0,
        sub,
        check: tokio::time::interval_at(tokio::time::Instant::now() + SESSION_CHECK, SESSION_CHECK),
        ended: false,
        _slot: slot,
    };
    let s = futures_util::stream::unfold(tail, |mut tail| async move {
        let msg = tail.next_message().await?;
        Some((Ok(msg), tail))
    });
    Ok(Sse::new(s).keep_alive(KeepAlive::default()))
}

/// One open stream.
struct Tail {
    state: AppState,
    user: CurrentUser,
    filter: EventFilter,
    base: String,
    /// Still catching up from the page's position: the cursor to read on from.
    catch_up: Option<FollowCursor>,
    /// The catch-up is finishing the page its position stood in (then goes on to the poller).
    finishing_page: bool,
    caught_up: usize,
    sub: Subscription,
    check: tokio::time::Interval,
    ended: bool,
    _slot: Slot,
}

impl Tail {
    /// The next message, or `None` when the stream is over.
    async fn next_message(&mut self) -> Option<SseEvent> {
        if self.ended {
            return None;
        }
        if let Some(msg) = self.catch_up().await {
            return Some(msg);
        }
        loop {
            tokio::select! {
                batch = self.sub.batches.recv() => match batch {
                    Ok(batch) => {
                        if let Some(msg) = self.on_batch(&batch) {
                            return Some(msg);
                        }
                    }
                    // The sequence numbers of the next batch tell how many were missed.
                    Err(RecvError::Lagged(_)) => continue,
                    // The poller stopped (it does only without streams): end, the browser
                    // reconnects.
                    Err(RecvError::Closed) => return None,
                },
                _ = self.check.tick() => {
                    if !self.session_is_live().await {
                        self.ended = true;
                        return Some(SseEvent::default().event("ended").data("session ended"));
                    }
                }
            }
        }
    }

    /// The next catch-up message, until the stream has reached the poller's position.
    async fn catch_up(&mut self) -> Option<SseEvent> {
        while let Some(cursor) = self.catch_up.take() {
            let page = (CATCH_UP - self.caught_up).min(super::live::PAGE);
            if page == 0 {
                // Too far behind: the rest is not sent, and the count says so.
                let more = self.count_rest(&cursor).await;
                return Some(SseEvent::default().event("skipped").data(more));
            }
            let (events, next) = match self.state.store().follow(&self.filter, &cursor, page).await
            {
                Ok(read) => read,
                Err(e) => {
                    tracing::warn!(error = %e, "live tail: catching up failed");
                    return Some(SseEvent::default().event("skipped").data("some"));
                }
            };
            // Every message carries where a reconnect resumes.
            let resume = if events.len() == page {
                self.catch_up = Some(next.clone());
                next.to_string()
            } else if self.finishing_page {
                self.finishing_page = false;
                self.catch_up = Some(next.until(&self.sub.position));
                next.to_string()
            } else {
                // Caught up: the poller's position is where a reconnect resumes.
                self.sub.position.to_string()
            };
            self.caught_up += events.len();
            if !events.is_empty() {
                return Some(self.render(&events, resume));
            }
        }
        None
    }

    /// How many events a catch-up from `cursor` would still send, as text.
    async fn count_rest(&self, cursor: &FollowCursor) -> String {
        let mut n = 0;
        let mut cursor = cursor.clone();
        // Bounded: a client's position far in the past is not counted to the end.
        for _ in 0..10 {
            match self
                .state
                .store()
                .follow(&self.filter, &cursor, super::live::PAGE)
                .await
            {
                Ok((events, next)) => {
                    n += events.len();
                    if events.len() < super::live::PAGE {
                        return n.to_string();
                    }
                    cursor = next;
                }
                Err(_) => break,
            }
        }
        format!("{n}+")
    }

    fn on_batch(&mut self, batch: &Batch) -> Option<SseEvent> {
        let skipped = batch.first.saturating_sub(self.sub.next);
        self.sub.next = batch.end();
        if skipped > 0 {
            // The count covers every event missed, before this stream's filter.
            return Some(
                SseEvent::default()
                    .event("skipped")
                    .data(skipped.to_string()),
            );
        }
        let events: Vec<&Event> = batch
            .events
            .iter()
            .filter(|e| self.filter.matches(e))
            .collect();
        if events.is_empty() {
            return None;
        }
        // Mid-page positions too: a reconnect finishes that page first.
        Some(self.render_refs(&events, batch.cursor.to_string()))
    }

    fn render(&self, events: &[Event], id: String) -> SseEvent {
        let refs: Vec<&Event> = events.iter().collect();
        self.render_refs(&refs, id)
    }

    fn render_refs(&self, events: &[&Event], id: String) -> SseEvent {
        let now = eventlog::event::now();
        let rows = events
            .iter()
            .rev()
            .map(|e| EventRow::new(self.state.types(), e, now))
            .collect();
        let html = RowsFragment {
            rows,
            base: self.base.clone(),
            is_admin: self.user.is_admin(),
        }
        .render()
        .unwrap_or_default();
        SseEvent::default().event("events").data(html).id(id)
    }

    /// Whether the stream's session still lets its user in (the same lookup as every admin
    /// request). A database error keeps the stream open: the next check decides.
    async fn session_is_live(&self) -> bool {
        if self.user.token_hash.is_empty() {
            // Vouched for by the host application per request: nothing stored to re-check.
            return true;
        }
        match crate::auth::session::lookup(&self.state, &self.user.token_hash).await {
            Ok(session) => session.is_some(),
            Err(e) => {
                tracing::warn!(error = %e, "live tail: checking the session failed");
                true
            }
        }
    }
}
