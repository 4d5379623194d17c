//! Export events as CSV or JSON Lines, and read JSON Lines back for import.
//!
//! Both formats carry the same fields, in this order: `uuid`, `type`, `group`, `timestamp`
//! (RFC 3339, UTC, always six fractional digits), `message`, `initiator`, `data` (JSON text)
//! and `send_mail`.
//!
//! **CSV cells cannot run as formulas.** A spreadsheet opening the CSV treats a cell that
//! begins with `=`, `+`, `-`, `@`, a tab or a carriage return as a formula, so an event message
//! such as `=HYPERLINK(…)` would run in the reader's spreadsheet. As OWASP recommends, such a
//! cell is written with a leading `'` (`'=HYPERLINK(…)`), which spreadsheets show as text. This
//! applies to every cell of the CSV (a negative number in `data` too: `'-5`). JSON Lines is
//! written as stored, byte for byte: it is the format `eventlog import` reads back.
//!
//! The store-local `id` is deliberately **not** exported: it is an artefact of one database
//! (gaps after deletes, different numbering on another server), while `uuid` identifies an
//! event everywhere and is the idempotency key on import. Leaving `id` out is what makes the
//! round trip exact: an export imported into an empty database (in file order, with the same
//! uuids and timestamps) exports to the same bytes, whatever ids the new database assigns.
//!
//! ```
//! use eventlog::export::{ExportFormat, ExportWriter, read_jsonl};
//! # use eventlog::{Event, GroupId};
//! # let event = Event { id: 1, uuid: uuid::Uuid::nil(), event_type: "info".into(),
//! #     group: "Order 1".into(), timestamp: chrono::DateTime::UNIX_EPOCH, message: "hi".into(),
//! #     data: None, initiator: None, send_mail: None };
//! let mut out = ExportWriter::new(Vec::new(), "jsonl".parse::<ExportFormat>()?)?;
//! out.write_event(&event)?;
//! let bytes = out.finish()?;
//! let back: Vec<_> = read_jsonl(&bytes[..]).collect::<Result<_, _>>()?;
//! assert_eq!(back[0].uuid, event.uuid);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use std::io::{self, BufRead, Write};
use std::str::FromStr;

use chrono::{DateTime, SecondsFormat, SubsecRound, Utc};
use serde::{Deserialize, Serialize};
use thiserror::Error;
use uuid::Uuid;

use crate::error::ValidationError;
use crate::event::{Event, GroupId, NewEvent};

/// The exported fields, in order (also the CSV header).
pub const COLUMNS: [&str; 8] = [
    "uuid",
    "type",
    "group",
    "timestamp",
    "message",
    "initiator",
    "data",
    "send_mail",
];

/// An export file format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ExportFormat {
    /// Comma-separated values with a header row (RFC 4180 quoting).
    Csv,
    /// One JSON object per line.
    #[default]
    Jsonl,
}

crate::enum_words::enum_words! {
    /// The usual file extension, without the dot.
    pub fn extension for ExportFormat {
        Csv => "csv",
        Jsonl => "jsonl",
    }
}

impl ExportFormat {
    /// The media type to send over HTTP.
    pub fn content_type(self) -> &'static str {
        match self {
            ExportFormat::Csv => "text/csv; charset=utf-8",
            ExportFormat::Jsonl => "application/x-ndjson",
        }
    }
}

/// A format name that is neither `csv` nor `jsonl`.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error("unknown export format {0:?}: expected \"csv\" or \"jsonl\"")]
pub struct UnknownFormat(pub String);

impl FromStr for ExportFormat {
    type Err = UnknownFormat;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.to_ascii_lowercase().as_str() {
            "ndjson" => Ok(ExportFormat::Jsonl),
            word => ExportFormat::from_word(word).ok_or_else(|| UnknownFormat(s.to_owned())),
        }
    }
}

/// A timestamp as exported: RFC 3339, UTC (`Z`), exactly six fractional digits.
pub fn format_timestamp(t: &DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Micros, true)
}

/// One exported record; field order is the export's column order.
#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Record<'a> {
    uuid: Uuid,
    #[serde(rename = "type", borrow)]
    event_type: std::borrow::Cow<'a, str>,
    #[serde(borrow)]
    group: std::borrow::Cow<'a, str>,
    timestamp: String,
    #[serde(borrow)]
    message: std::borrow::Cow<'a, str>,
    #[serde(default, borrow)]
    initiator: Option<std::borrow::Cow<'a, str>>,
    #[serde(default)]
    data: Option<serde_json::Value>,
    #[serde(default, borrow)]
    send_mail: Option<std::borrow::Cow<'a, str>>,
}

enum Inner<W: Write> {
    Csv(Box<csv::Writer<W>>),
    Jsonl { out: W, line: Vec<u8> },
}

/// Writes events one by one in an [`ExportFormat`]; memory use does not grow with the number
/// of events. Wrap files in a `BufWriter` for JSON Lines (CSV buffers on its own).
pub struct ExportWriter<W: Write> {
    inner: Inner<W>,
}

/// A CSV cell as written: with a leading `'` when a spreadsheet would read it as a formula.
pub fn csv_cell(cell: &str) -> std::borrow::Cow<'_, str> {
    if cell.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        format!("'{cell}").into()
    } else {
        cell.into()
    }
}

fn csv_err(e: csv::Error) -> io::Error {
    match e.into_kind() {
        csv::ErrorKind::Io(e) => e,
        other => io::Error::other(format!("{other:?}")),
    }
}

impl<W: Write> ExportWriter<W> {
    /// Starts an export to `writer`; CSV writes its header row at once.
    pub fn new(writer: W, format: ExportFormat) -> io::Result<Self> {
        let inner = match format {
            ExportFormat::Csv => {
                let mut w = csv::Writer::from_writer(writer);
                w.write_record(COLUMNS).map_err(csv_err)?;
                Inner::Csv(Box::new(w))
            }
            ExportFormat::Jsonl => Inner::Jsonl {
                out: writer,
                line: Vec::with_capacity(1024),
            },
        };
        Ok(ExportWriter { inner })
    }

    /// Writes one event.
    pub fn write_event(&mut self, event: &Event) -> io::Result<()> {
        let timestamp = format_timestamp(&event.timestamp);
        match &mut self.inner {
            Inner::Csv(w) => {
                let data = event.data.as_ref().map(|d| d.to_string());
                let uuid = event.uuid.to_string();
                w.write_record(
                    [
                        uuid.as_str(),
                        &event.event_type,
                        &event.group,
                        &timestamp,
                        &event.message,
                        event.initiator.as_deref().unwrap_or(""),
                        data.as_deref().unwrap_or(""),
                        event.send_mail.as_deref().unwrap_or(""),
                    ]
                    .map(csv_cell)
                    .iter()
                    .map(|c| c.as_bytes()),
                )
                .map_err(csv_err)
            }
            Inner::Jsonl { out, line } => {
                line.clear();
                let record = Record {
                    uuid: event.uuid,
                    event_type: event.event_type.as_str().into(),
                    group: event.group.as_str().into(),
                    timestamp,
                    message: event.message.as_str().into(),
                    initiator: event.initiator.as_deref().map(Into::into),
                    data: event.data.clone(),
                    send_mail: event.send_mail.as_deref().map(Into::into),
                };
                serde_json::to_writer(&mut *line, &record).map_err(io::Error::other)?;
                line.push(b'\n');
                out.write_all(line)
            }
        }
    }

    /// Pushes everything written so far through to the underlying writer.
    pub fn flush(&mut self) -> io::Result<()> {
        match &mut self.inner {
            Inner::Csv(w) => w.flush(),
            Inner::Jsonl { out, .. } => out.flush(),
        }
    }

    /// Flushes and returns the underlying writer.
    pub fn finish(self) -> io::Result<W> {
        match self.inner {
            Inner::Csv(w) => w.into_inner().map_err(|e| e.into_error()),
            Inner::Jsonl { mut out, .. } => {
                out.flush()?;
                Ok(out)
            }
        }
    }
}

/// Why a line of a JSON Lines file could not be imported.
#[derive(Debug, Error)]
pub enum ImportErrorKind {
    /// Reading the input failed.
    #[error("cannot read: {0}")]
    Io(#[from] io::Error),
    /// The line is not a JSON object with the export's fields.
    #[error("{0}")]
    Json(#[from] serde_json::Error),
    /// The timestamp is not RFC 3339.
    #[error("timestamp {value:?} is not an RFC 3339 date-time")]
    Timestamp {
        /// The rejected text.
        value: String,
    },
    /// A field breaks a rule of the event model.
    #[error(transparent)]
    Invalid(#[from] ValidationError),
}

/// An error on one line (1-based) of a JSON Lines import.
#[derive(Debug, Error)]
#[error("line {line}: {kind}")]
pub struct ImportError {
    /// The line number, counting from 1.
    pub line: u64,
    /// What is wrong with it.
    pub kind: ImportErrorKind,
}

/// Parses one JSON Lines record into an event (uuid and timestamp kept as given).
pub fn parse_jsonl_line(text: &str) -> Result<NewEvent, ImportErrorKind> {
    let r: Record<'_> = serde_json::from_str(text)?;
    let timestamp = DateTime::parse_from_rfc3339(&r.timestamp)
        .map_err(|_| ImportErrorKind::Timestamp {
            value: r.timestamp.clone(),
        })?
        .with_timezone(&Utc)
        // The stores keep microseconds; anything finer would not survive a round trip.
        .trunc_subsecs(6);
    let event = NewEvent {
        uuid: r.uuid,
        event_type: r.event_type.into_owned(),
        group: GroupId::named(r.group.into_owned())?,
        timestamp,
        message: r.message.into_owned(),
        // `null` and a missing key both mean "no data".
        data: r.data.filter(|d| !d.is_null()),
        initiator: r.initiator.map(|s| s.into_owned()),
        send_mail: r.send_mail.map(|s| s.into_owned()),
        notify: None,
    };
    event.validate()?;
    Ok(event)
}

/// Reads events from JSON Lines (as [`ExportWriter`] writes them) one line at a time; blank
/// lines are skipped. Each item is an event or an error naming its line; an I/O error ends the
/// iteration. Whether each type is configured is left to the caller
/// ([`crate::EventTypes::require`]).
pub fn read_jsonl<R: BufRead>(reader: R) -> impl Iterator<Item = Result<NewEvent, ImportError>> {
    JsonlReader {
        reader,
        line: 0,
        buf: String::new(),
        done: false,
    }
}

struct JsonlReader<R> {
    reader: R,
    line: u64,
    buf: String,
    done: bool,
}

impl<R: BufRead> Iterator for JsonlReader<R> {
    type Item = Result<NewEvent, ImportError>;

    fn next(&mut self) -> Option<Self::Item> {
        while !self.done {
            self.buf.clear();
            self.line += 1;
            match self.reader.read_line(&mut self.buf) {
                Ok(0) => self.done = true,
                Ok(_) => {
                    let text = self.buf.trim();
                    if text.is_empty() {
                        continue;
                    }
                    let line = self.line;
                    return Some(parse_jsonl_line(text).map_err(|kind| ImportError { line, kind }));
                }
                Err(e) => {
                    self.done = true;
                    return Some(Err(ImportError {
                        line: self.line,
                        kind: e.into(),
                    }));
                }
            }
        }
        None
    }
}

#[cfg(test)]
mod tests;
