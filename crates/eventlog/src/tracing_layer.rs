//! A `tracing` layer that turns marked `tracing` events into eventlog events.
//!
//! An event becomes an eventlog event when it carries the marker field `eventlog`:
//! `eventlog = true` takes the type from the event's level (configurable), `eventlog =
//! "mail_sent"` names the type. The message becomes the event's message; the other fields
//! become its `data`. The group and initiator come from the nearest enclosing span that
//! records `eventlog.group` / `eventlog.initiator`; without a group span, each event starts a
//! new group. Unmarked events cost one lookup in their static field set.
//!
//! ```
//! # let dir = tempfile::tempdir().unwrap();
//! # let url = format!("sqlite://{}", dir.path().join("events.db").display());
//! use eventlog::EventLog;
//! use eventlog::tracing_layer::EventLogLayer;
//! use tracing_subscriber::prelude::*;
//!
//! let log = EventLog::builder(&url).open_blocking()?;
//! let subscriber = tracing_subscriber::registry().with(EventLogLayer::new(log.clone()));
//! tracing::subscriber::with_default(subscriber, || {
//!     let span = tracing::info_span!("mail run", eventlog.group = "Mail run 42",
//!                                     eventlog.initiator = "Mailer Daemon");
//!     let _guard = span.enter();
//!     tracing::info!(eventlog = true, count = 1000, "About to send 1000 mails");
//!     tracing::warn!(eventlog = true, "Mail server slow");
//!     tracing::info!("ordinary diagnostics: not an eventlog event");
//! });
//! log.flush_blocking()?;
//! assert_eq!(log.stats().stored, 2);
//! # Ok::<(), eventlog::Error>(())
//! ```

use std::fmt;

use serde_json::{Map, Value};
use tracing::field::{Field, Visit};
use tracing::span::{Attributes, Id, Record};
use tracing::{Event, Level, Subscriber};
use tracing_subscriber::Layer;
use tracing_subscriber::layer::Context;
use tracing_subscriber::registry::LookupSpan;

use crate::event::{GroupId, NewEvent};
use crate::recorder::EventLog;

/// The field that marks a `tracing` event as an eventlog event.
pub const MARKER: &str = "eventlog";
/// The span field naming the group of the events inside the span.
pub const GROUP_FIELD: &str = "eventlog.group";
/// The span field naming the initiator of the events inside the span.
pub const INITIATOR_FIELD: &str = "eventlog.initiator";

/// Turns marked `tracing` events into eventlog events. See the [module docs](self).
pub struct EventLogLayer {
    log: EventLog,
    levels: [String; 5],
}

impl EventLogLayer {
    /// A layer recording into `log`, mapping TRACE/DEBUG/INFO to `info`, WARN to `warning`
    /// and ERROR to `error`.
    pub fn new(log: EventLog) -> Self {
        EventLogLayer {
            log,
            levels: [
                "info".into(),
                "info".into(),
                "info".into(),
                "warning".into(),
                "error".into(),
            ],
        }
    }

    /// Maps a level to an event type. An event whose type is not configured is not recorded;
    /// the reason goes to stderr (not to `tracing`, which would loop back into this layer).
    pub fn map_level(mut self, level: Level, event_type: impl Into<String>) -> Self {
        self.levels[level_index(level)] = event_type.into();
        self
    }
}

fn level_index(level: Level) -> usize {
    match level {
        Level::TRACE => 0,
        Level::DEBUG => 1,
        Level::INFO => 2,
        Level::WARN => 3,
        Level::ERROR => 4,
    }
}

/// What a span says about its events, kept in the span's extensions.
#[derive(Default, Clone)]
struct SpanFields {
    group: Option<String>,
    initiator: Option<String>,
}

impl Visit for SpanFields {
    fn record_str(&mut self, field: &Field, value: &str) {
        match field.name() {
            GROUP_FIELD => self.group = Some(value.to_owned()),
            INITIATOR_FIELD => self.initiator = Some(value.to_owned()),
            _ => {}
        }
    }

    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        if matches!(field.name(), GROUP_FIELD | INITIATOR_FIELD) {
            self.record_str(field, &format!("{value:?}"));
        }
    }
}

/// Collects an event's message, marker and data.
#[derive(Default)]
struct EventFields {
    message: Option<String>,
    event_type: Option<String>,
    data: Map<String, Value>,
}

impl EventFields {
    fn put(&mut self, field: &Field, value: Value) {
        match field.name() {
            "message" => {
                self.message = Some(match value {
                    Value::String(s) => s,
                    other => other.to_string(),
                })
            }
            MARKER => {
                if let Value::String(s) = value {
                    self.event_type = Some(s);
                }
            }
            name if name.starts_with("eventlog.") => {}
            name => {
                self.data.insert(name.to_owned(), value);
            }
        }
    }
}

impl Visit for EventFields {
    fn record_str(&mut self, field: &Field, value: &str) {
        self.put(field, Value::from(value));
    }
    fn record_bool(&mut self, field: &Field, value: bool) {
        self.put(field, Value::from(value));
    }
    fn record_i64(&mut self, field: &Field, value: i64) {
        self.put(field, Value::from(value));
    }
    fn record_u64(&mut self, field: &Field, value: u64) {
        self.put(field, Value::from(value));
    }
    fn record_f64(&mut self, field: &Field, value: f64) {
        self.put(field, Value::from(value));
    }
    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        self.put(field, Value::from(format!("{value:?}")));
    }
}

impl<S> Layer<S> for EventLogLayer
where
    S: Subscriber + for<'a> LookupSpan<'a>,
{
    fn on_new_span(&self, attrs: &Attributes<'_>, id: &Id, ctx: Context<'_, S>) {
        let fields = attrs.metadata().fields();
        if fields.field(GROUP_FIELD).is_none() && fields.field(INITIATOR_FIELD).is_none() {
            return;
        }
        let mut span_fields = SpanFields::default();
        attrs.record(&mut span_fields);
        if let Some(span) = ctx.span(id) {
            span.extensions_mut().insert(span_fields);
        }
    }

    fn on_record(&self, id: &Id, values: &Record<'_>, ctx: Context<'_, S>) {
        let Some(span) = ctx.span(id) else { return };
        let mut extensions = span.extensions_mut();
        match extensions.get_mut::<SpanFields>() {
            Some(fields) => values.record(fields),
            None => {
                let mut fields = SpanFields::default();
                values.record(&mut fields);
                if fields.group.is_some() || fields.initiator.is_some() {
                    extensions.insert(fields);
                }
            }
        }
    }

    fn on_event(&self, event: &Event<'_>, ctx: Context<'_, S>) {
        // The fast path for ordinary diagnostics: the field set is static per callsite.
        if event.metadata().fields().field(MARKER).is_none() {
            return;
        }
        let mut fields = EventFields::default();
        event.record(&mut fields);
        let mut span_fields = SpanFields::default();
        if let Some(scope) = ctx.event_scope(event) {
            for span in scope {
                if let Some(found) = span.extensions().get::<SpanFields>() {
                    span_fields.group = span_fields.group.take().or(found.group.clone());
                    span_fields.initiator =
                        span_fields.initiator.take().or(found.initiator.clone());
                }
                if span_fields.group.is_some() && span_fields.initiator.is_some() {
                    break;
                }
            }
        }
        let event_type = fields
            .event_type
            .unwrap_or_else(|| self.levels[level_index(*event.metadata().level())].clone());
        let group = match span_fields.group.map(GroupId::named) {
            Some(Ok(group)) => group,
            Some(Err(e)) => {
                eprintln!("eventlog: tracing event not recorded: {e}");
                return;
            }
            None => GroupId::random(),
        };
        let mut new = NewEvent::new(
            event_type,
            group,
            fields
                .message
                .unwrap_or_else(|| event.metadata().name().to_owned()),
        );
        new.initiator = span_fields.initiator;
        if !fields.data.is_empty() {
            new.data = Some(Value::Object(fields.data));
        }
        // Not through tracing: an error here must not recurse into this layer.
        if let Err(e) = self.log.record_blocking(new) {
            eprintln!("eventlog: tracing event not recorded: {e}");
        }
    }
}
