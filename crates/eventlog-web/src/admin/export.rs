//! `GET /events/export?format=csv|jsonl&…filters`: the current filter as a download.
//!
//! `eventlog::export` (shared with the CLI) had not landed when this was written, so the two
//! small formatters live here; switch to the library's writers once they exist.

use axum::body::Body;
use axum::extract::{RawQuery, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use eventlog::Event;
use eventlog::store::Cursor;

use crate::AppState;
use crate::auth::CurrentUser;
use crate::error::AppError;
use crate::query::ListParams;

/// Rows fetched per store call.
const CHUNK: usize = 1000;

/// Export formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// Comma-separated values with a header row.
    Csv,
    /// One JSON object per line.
    Jsonl,
}

/// CSV header.
pub const CSV_HEADER: &str = "id,uuid,timestamp,type,group,message,initiator,send_mail,data\n";

fn csv_field(out: &mut String, value: &str) {
    // Quote when needed; a leading =,+,-,@ is prefixed with ' so spreadsheets do not run it.
    let guarded;
    let value = if value.starts_with(['=', '+', '-', '@']) {
        guarded = format!("'{value}");
        guarded.as_str()
    } else {
        value
    };
    if value.contains([',', '"', '\n', '\r']) {
        out.push('"');
        out.push_str(&value.replace('"', "\"\""));
        out.push('"');
    } else {
        out.push_str(value);
    }
}

/// One event as a CSV line.
pub fn csv_line(e: &Event) -> String {
    let mut out = String::new();
    let data = e.data.as_ref().map(|d| d.to_string()).unwrap_or_default();
    let fields = [
        e.id.to_string(),
        e.uuid.to_string(),
        e.timestamp
            .to_rfc3339_opts(chrono::SecondsFormat::Micros, true),
        e.event_type.clone(),
        e.group.clone(),
        e.message.clone(),
        e.initiator.clone().unwrap_or_default(),
        e.send_mail.clone().unwrap_or_default(),
        data,
    ];
    for (i, f) in fields.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        csv_field(&mut out, f);
    }
    out.push('\n');
    out
}

/// One event as a JSON line.
pub fn json_line(e: &Event) -> String {
    let mut line = serde_json::to_string(e).unwrap_or_default();
    line.push('\n');
    line
}

/// The download.
pub async fn export(
    State(state): State<AppState>,
    _user: CurrentUser,
    RawQuery(query): RawQuery,
) -> Result<Response, AppError> {
    let params = ListParams::parse(query.as_deref())?;
    let pairs: Vec<(String, String)> =
        serde_urlencoded::from_str(query.as_deref().unwrap_or("")).unwrap_or_default();
    let format = match pairs
        .iter()
        .find(|(k, _)| k == "format")
        .map(|(_, v)| v.as_str())
    {
        Some("csv") => Format::Csv,
        Some("jsonl") => Format::Jsonl,
        other => {
            return Err(AppError::BadRequest(format!(
                "format={:?} is not an export format: use csv or jsonl",
                other.unwrap_or("")
            )));
        }
    };
    let filter = params.filter(eventlog::event::now())?;
    let order = params.order;
    // Fetch the first chunk before answering, so a store error is a proper error page.
    let first = state.store().list(&filter, order, None, CHUNK).await?;
    let head = match format {
        Format::Csv => CSV_HEADER.to_owned(),
        Format::Jsonl => String::new(),
    };
    let render = move |events: &[Event]| -> String {
        events
            .iter()
            .map(|e| match format {
                Format::Csv => csv_line(e),
                Format::Jsonl => json_line(e),
            })
            .collect()
    };
    let first_chunk = format!("{head}{}", render(&first.items));
    enum Next {
        Fetch(Cursor),
        Done,
    }
    let start = first.next.map_or(Next::Done, Next::Fetch);
    let rest = futures_util::stream::unfold(start, move |next| {
        let state = state.clone();
        let filter = filter.clone();
        async move {
            let Next::Fetch(cursor) = next else {
                return None;
            };
            match state
                .store()
                .list(&filter, order, Some(&cursor), CHUNK)
                .await
            {
                Ok(page) => {
                    let chunk = render(&page.items);
                    Some((
                        Ok::<_, std::io::Error>(chunk),
                        page.next.map_or(Next::Done, Next::Fetch),
                    ))
                }
                Err(e) => {
                    tracing::error!(error = %e, "export aborted by a storage error");
                    Some((Err(std::io::Error::other("storage error")), Next::Done))
                }
            }
        }
    });
    let body = futures_util::stream::iter([Ok(first_chunk)]).chain(rest);
    let (ctype, ext) = match format {
        Format::Csv => ("text/csv; charset=utf-8", "csv"),
        Format::Jsonl => ("application/jsonl; charset=utf-8", "jsonl"),
    };
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_quotes_and_guards_formulas() {
        let mut s = String::new();
        csv_field(&mut s, "a,\"b\"\nc");
        assert_eq!(s, "\"a,\"\"b\"\"\nc\"");
        let mut s = String::new();
        csv_field(&mut s, "=cmd()");
        assert_eq!(s, "'=cmd()");
    }
}
