//! `GET /events/stream?after=ID&…filters`: the live tail, as server-sent events.
//!
//! Polls `Store::list_since_id` (works the same with several servers on one database) and
//! sends each batch of new events as rendered table rows (escaped on the server) in an
//! `events` message; the message id is the last event id, so a reconnecting browser resumes
//! where it left off (`Last-Event-ID`).

use std::convert::Infallible;

use askama::Template;
use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::sse::{Event as SseEvent, KeepAlive, Sse};
use futures_util::Stream;

use super::EventRow;
use super::list_query::AdminQuery;
use crate::AppState;
use crate::auth::CurrentUser;
use crate::error::AppError;

/// Most events per message.
const BATCH: usize = 200;

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
    let after: i64 = match last_event_id.or(from_query) {
        Some(v) => v
            .parse()
            .map_err(|_| AppError::BadRequest(format!("after={v:?} is not an event id")))?,
        None => 0,
    };
    let base = user.base.path().to_owned();
    let is_admin = user.is_admin();
    let interval = state.poll_interval();
    let s = futures_util::stream::unfold(after, move |mut after| {
        let state = state.clone();
        let filter = filter.clone();
        let base = base.clone();
        async move {
            loop {
                tokio::time::sleep(interval).await;
                let events = match state.store().list_since_id(&filter, after, BATCH).await {
                    Ok(e) => e,
                    Err(e) => {
                        tracing::warn!(error = %e, "live tail poll failed");
                        continue;
                    }
                };
                let Some(last) = events.last() else { continue };
                after = last.id;
                let now = eventlog::event::now();
                let rows = events
                    .iter()
                    .rev()
                    .map(|e| EventRow::new(state.types(), e, now))
                    .collect();
                let html = RowsFragment {
                    rows,
                    base: base.clone(),
                    is_admin,
                }
                .render()
                .unwrap_or_default();
                let msg = SseEvent::default()
                    .event("events")
                    .id(after.to_string())
                    .data(html);
                return Some((Ok(msg), after));
            }
        }
    });
    Ok(Sse::new(s).keep_alive(KeepAlive::default()))
}
