//! `GET /events/export?format=csv|jsonl&…filters`: the current filter as a download.
//!
//! The format is `eventlog::export`'s, the same as `eventlog export` writes and
//! `eventlog import` reads.

use std::sync::{Arc, Mutex};

use axum::body::Body;
use axum::extract::State;
use axum::http::header;
use axum::response::{IntoResponse, Response};
use eventlog::Event;
use eventlog::export::{ExportFormat, ExportWriter};
use eventlog::store::Cursor;

use super::list_query::{AdminQuery, bad_filter};
use crate::AppState;
use crate::auth::CurrentUser;
use crate::error::AppError;
use eventlog::filter::{FilterError, Rule};

/// Rows fetched per store call.
const CHUNK: usize = 1000;

/// Rendering of pages of events in the export format shared with `eventlog export` (so an
/// admin download imports with `eventlog import`).
struct Renderer {
    writer: ExportWriter<SharedBuffer>,
    buffer: SharedBuffer,
}

/// A byte buffer the writer fills and the response stream empties, chunk by chunk.
#[derive(Clone, Default)]
struct SharedBuffer(Arc<Mutex<Vec<u8>>>);

impl std::io::Write for SharedBuffer {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0
            .lock()
            .map_err(|_| std::io::Error::other("export buffer poisoned"))?
            .extend_from_slice(bytes);
        Ok(bytes.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Renderer {
    fn new(format: ExportFormat) -> Result<Renderer, AppError> {
        let buffer = SharedBuffer::default();
        let writer = ExportWriter::new(buffer.clone(), format)
            .map_err(|e| AppError::Internal(e.to_string()))?;
        Ok(Renderer { writer, buffer })
    }

    /// The bytes for these events (the first call also carries the CSV header).
    fn render(&mut self, events: &[Event]) -> std::io::Result<Vec<u8>> {
        for e in events {
            self.writer.write_event(e)?;
        }
        self.writer.flush()?;
        let mut bytes = self
            .buffer
            .0
            .lock()
            .map_err(|_| std::io::Error::other("export buffer poisoned"))?;
        Ok(std::mem::take(&mut *bytes))
    }
}

/// The download.
pub async fn export(
    State(state): State<AppState>,
    _user: CurrentUser,
    params: AdminQuery,
) -> Result<Response, AppError> {
    let requested = params.param("format").unwrap_or_default();
    let format: ExportFormat = requested.parse().map_err(|_| {
        bad_filter(FilterError::new(
            "format",
            requested,
            Rule::OneOf("csv, jsonl"),
        ))
    })?;
    params.check_types(&state).await?;
    let filter = params.filter(eventlog::event::now());
    let order = params.list.order;
    // Fetch the first chunk before answering, so a store error is a proper error page. Each
    // chunk is read within the scan budget (a filter no index narrows is walked a budget at
    // a time, a chunk possibly empty), so the answer starts in time and then streams on.
    let budget = *state.scan_budget();
    let first = state
        .reads()
        .list_bounded(&filter, order, None, CHUNK, &budget)
        .await?
        .page;
    let mut renderer = Renderer::new(format)?;
    let first_chunk = renderer
        .render(&first.items)
        .map_err(|e| AppError::Internal(e.to_string()))?;
    enum Next {
        Fetch(Cursor),
        Done,
    }
    let start = first.next.map_or(Next::Done, Next::Fetch);
    let rest = futures_util::stream::unfold((start, renderer), move |(next, mut renderer)| {
        let state = state.clone();
        let filter = filter.clone();
        async move {
            let Next::Fetch(cursor) = next else {
                return None;
            };
            match state
                .reads()
                .list_bounded(&filter, order, Some(&cursor), CHUNK, &budget)
                .await
            {
                Ok(bounded) => {
                    let page = bounded.page;
                    let chunk = renderer.render(&page.items);
                    let next = page.next.map_or(Next::Done, Next::Fetch);
                    Some((chunk, (next, renderer)))
                }
                Err(e) => {
                    tracing::error!(error = %e, "export aborted by a storage error");
                    Some((
                        Err(std::io::Error::other("storage error")),
                        (Next::Done, renderer),
                    ))
                }
            }
        }
    });
    let body = futures_util::stream::iter([Ok(first_chunk)]).chain(rest);
    let (ctype, ext) = (format.content_type(), format.extension());
    Ok((
        [
            (header::CONTENT_TYPE, ctype.to_owned()),
            (
                header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"events.{ext}\""),
            ),
        ],
        Body::from_stream(body),
    )
        .into_response())
}

use futures_util::StreamExt as _;
