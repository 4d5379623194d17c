//! The API's JSON bodies.

use chrono::SecondsFormat;
use eventlog::Event;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

/// A character that is neither a control character nor a space of any kind (Unicode
/// `White_Space`): what makes a message or a group name more than blank.
macro_rules! non_blank_char {
    () => {
        r"[^\x00-\x20\x7f-\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]"
    };
}

/// A message: at least one character that is not blank.
const NON_BLANK: &str = non_blank_char!();

/// A group name: no control characters, at least one character that is not blank.
const GROUP: &str = concat!(
    r"^[^\x00-\x1f\x7f-\x9f]*",
    non_blank_char!(),
    r"[^\x00-\x1f\x7f-\x9f]*$"
);

/// An e-mail recipient: one `@` between two runs of anything but blanks, control characters
/// and `<>,;"@`.
const MAIL_RECIPIENT: &str = r#"^[^\x00-\x20\x7f-\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000<>,;"@]+@[^\x00-\x20\x7f-\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000<>,;"@]+$"#;

fn text(
    nullable: bool,
    min: Option<usize>,
    max: Option<usize>,
    pattern: &str,
) -> utoipa::openapi::schema::ObjectBuilder {
    use utoipa::openapi::schema::{ObjectBuilder, SchemaType, Type};
    let ty = if nullable {
        SchemaType::from_iter([Type::String, Type::Null])
    } else {
        SchemaType::Type(Type::String)
    };
    ObjectBuilder::new()
        .schema_type(ty)
        .min_length(min)
        .max_length(max)
        .pattern(Some(pattern))
}

fn message_schema() -> utoipa::openapi::schema::Object {
    text(false, Some(1), None, NON_BLANK)
        .description(Some(
            "What happened: not only spaces and control characters; at most `[limits] \
             message_bytes` bytes of UTF-8 (default 65,536).",
        ))
        .examples(["About to send 1000 mails"])
        .build()
}

fn group_schema() -> utoipa::openapi::schema::Object {
    text(true, Some(1), Some(40), GROUP)
        .description(Some(
            "Group id or name: 1–40 characters, not only spaces, no control characters. Items \
             without one share a new random group per request, returned in `groups`.",
        ))
        .build()
}

fn mail_recipient_schema() -> utoipa::openapi::schema::Object {
    text(true, None, Some(254), MAIL_RECIPIENT)
        .description(Some(
            "Address to notify by e-mail: `local@domain`, at most 254 characters, no spaces, \
             control characters or `<>,;\"`.",
        ))
        .build()
}

/// One event to record (`POST /events`, alone, in an array, or one per line of JSON Lines).
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct EventInput {
    /// A configured event type, e.g. `info` (the served document lists this server's).
    #[serde(rename = "type")]
    #[schema(example = "info", pattern = r"^[A-Za-z_][A-Za-z0-9_]{0,49}$")]
    pub event_type: String,
    /// What happened: not only spaces and control characters; at most `[limits]
    /// message_bytes` bytes of UTF-8 (default 65,536).
    #[schema(schema_with = message_schema)]
    pub message: String,
    /// Group id or name: 1–40 characters, not only spaces, no control characters. Items
    /// without one share a new random group per request, returned in `groups`.
    #[serde(default)]
    #[schema(schema_with = group_schema)]
    pub group: Option<String>,
    /// Who or what caused it (at most 500 characters).
    #[serde(default)]
    #[schema(max_length = 500)]
    pub initiator: Option<String>,
    /// Structured details: any JSON value (an object, an array, a string, a number, a
    /// boolean), stored and returned as sent; at most `[limits] data_bytes` bytes as compact
    /// JSON (default 262,144). `null` or absent: none.
    #[serde(default)]
    #[schema(value_type = Option<serde_json::Value>)]
    pub data: Option<serde_json::Value>,
    /// When it happened, RFC 3339 (stored in UTC, microseconds); default: now.
    #[serde(default)]
    #[schema(example = "2026-01-31T12:00:00.000000Z", format = DateTime)]
    pub timestamp: Option<String>,
    /// Address to notify by e-mail: `local@domain`, at most 254 characters, no spaces,
    /// control characters or `<>,;"`.
    #[serde(default)]
    #[schema(schema_with = mail_recipient_schema)]
    pub send_mail: Option<String>,
    /// Idempotency key: sending the same id again stores nothing new and returns the stored
    /// event's id.
    #[serde(default)]
    pub id: Option<Uuid>,
}

/// A stored event.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct ApiEvent {
    /// Store-assigned id.
    pub id: i64,
    /// Global id (the idempotency key).
    pub uuid: Uuid,
    /// Type name.
    #[serde(rename = "type")]
    pub event_type: String,
    /// Group id.
    pub group: String,
    /// RFC 3339, UTC, microseconds.
    pub timestamp: String,
    /// What happened.
    pub message: String,
    /// Who or what caused it.
    pub initiator: Option<String>,
    /// Structured details: any JSON value, as sent.
    #[schema(value_type = Option<serde_json::Value>)]
    pub data: Option<serde_json::Value>,
    /// E-mail recipient.
    pub send_mail: Option<String>,
}

impl From<Event> for ApiEvent {
    fn from(e: Event) -> Self {
        ApiEvent {
            id: e.id,
            uuid: e.uuid,
            event_type: e.event_type,
            group: e.group,
            timestamp: e.timestamp.to_rfc3339_opts(SecondsFormat::Micros, true),
            message: e.message,
            initiator: e.initiator,
            data: e.data,
            send_mail: e.send_mail,
        }
    }
}

/// The answer to `POST /events`, sent after the batch is committed.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct IngestResponse {
    /// The stored ids, in input order (an already stored idempotency key gives its old id;
    /// `0` when that event has since been purged: on PostgreSQL its key stays taken until
    /// upkeep deletes the keys of purged partitions, and nothing new is stored).
    pub ids: Vec<i64>,
    /// The group of each item, in input order.
    pub groups: Vec<String>,
}

/// A page of events.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct ListResponse {
    /// The events of this page.
    pub events: Vec<ApiEvent>,
    /// Pass as `cursor` for the next page; `null` on the last one. After a scan that
    /// stopped (`scan.complete` false), the next page keeps scanning from where it stopped.
    pub next_cursor: Option<String>,
    /// Present when no index narrows the filter (a `data.KEY` condition on a key not in
    /// `[database] indexed_data_keys`): the events were looked through one by one, within a
    /// fixed budget, and this says how far.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scan: Option<ScanReport>,
}

/// How far a page of a filter no index narrows looked.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct ScanReport {
    /// Events looked through, from where the page starts, in its order.
    pub scanned: u64,
    /// Milliseconds spent.
    pub elapsed_ms: u64,
    /// `false`: the budget ran out before the page was full; `next_cursor` keeps scanning
    /// (the page may hold few or no events, and more may follow).
    pub complete: bool,
    /// What to do for a fast answer.
    pub hint: String,
}

/// One group: its summary and events in time order.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct GroupResponse {
    /// The group id.
    pub group: String,
    /// Time of its first event (RFC 3339).
    pub first_at: String,
    /// Time of its last event (RFC 3339).
    pub last_at: String,
    /// Number of events.
    pub event_count: i64,
    /// The most severe type it contains.
    pub status: Option<String>,
    /// Its events, oldest first (at most 10,000).
    pub events: Vec<ApiEvent>,
}

/// The fields an event object may have (each at most once).
const EVENT_FIELDS: usize = 8;

/// Why a body's shape is refused before its fields are read: an item that is not a JSON
/// object (an event given as an array would otherwise fill the fields in order), or a key
/// given twice (the last would silently win).
#[derive(Debug)]
pub(crate) struct ShapeError {
    /// The item of a batch, if the body is an array.
    pub index: Option<usize>,
    /// What is wrong.
    pub message: String,
}

/// Checks that `body` is an event object or an array of event objects without repeated keys.
/// `Ok(false)`: not JSON at all (the caller reports the syntax error).
pub(crate) fn check_shape(body: &[u8]) -> Result<bool, ShapeError> {
    use serde::de::DeserializeSeed;
    let failed_at = std::cell::Cell::new(None);
    let mut de = serde_json::Deserializer::from_slice(body);
    match (BodySeed {
        failed_at: &failed_at,
    })
    .deserialize(&mut de)
    {
        Ok(()) => Ok(true),
        Err(e) if e.is_syntax() || e.is_eof() => Ok(false),
        Err(e) => Err(ShapeError {
            index: failed_at.get(),
            message: e.to_string(),
        }),
    }
}

struct BodySeed<'a> {
    failed_at: &'a std::cell::Cell<Option<usize>>,
}

impl<'de> serde::de::DeserializeSeed<'de> for BodySeed<'_> {
    type Value = ();
    fn deserialize<D: serde::Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> serde::de::Visitor<'de> for BodySeed<'_> {
    type Value = ();
    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("an event object or an array of event objects")
    }
    fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        let mut i = 0;
        loop {
            self.failed_at.set(Some(i));
            if seq.next_element::<StrictEvent>()?.is_none() {
                break;
            }
            i += 1;
        }
        self.failed_at.set(None);
        Ok(())
    }
    fn visit_map<A: serde::de::MapAccess<'de>>(self, map: A) -> Result<(), A::Error> {
        StrictEvent::visit(map).map(|_| ())
    }
}

/// One event object, checked for shape only (values are skipped, not built).
pub(crate) struct StrictEvent;

impl StrictEvent {
    fn visit<'de, A: serde::de::MapAccess<'de>>(mut map: A) -> Result<StrictEvent, A::Error> {
        use serde::de::Error as _;
        let mut seen: Vec<String> = Vec::with_capacity(EVENT_FIELDS);
        while let Some(key) = map.next_key::<String>()? {
            if seen.contains(&key) {
                return Err(A::Error::custom(format!(
                    "the key {:?} is given twice; each field may appear once",
                    eventlog::filter::shorten(&key)
                )));
            }
            if seen.len() == EVENT_FIELDS {
                return Err(A::Error::custom(format!(
                    "unknown field {:?}; an event has at most {EVENT_FIELDS} fields",
                    eventlog::filter::shorten(&key)
                )));
            }
            map.next_value::<serde::de::IgnoredAny>()?;
            seen.push(key);
        }
        Ok(StrictEvent)
    }
}

impl<'de> Deserialize<'de> for StrictEvent {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> serde::de::Visitor<'de> for V {
            type Value = StrictEvent;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("an event object ({\"type\": …, \"message\": …})")
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(
                self,
                map: A,
            ) -> Result<StrictEvent, A::Error> {
                StrictEvent::visit(map)
            }
        }
        d.deserialize_any(V)
    }
}

/// About how many bytes of memory `items` hold once parsed (strings, JSON values and the
/// structures around them): what the body budget is charged for them.
pub(crate) fn parsed_cost(items: &[EventInput]) -> usize {
    fn value_cost(v: &serde_json::Value) -> usize {
        const NODE: usize = std::mem::size_of::<serde_json::Value>();
        NODE + match v {
            serde_json::Value::String(s) => s.len(),
            serde_json::Value::Array(items) => items.iter().map(value_cost).sum(),
            // Keys, and the map's own nodes around each entry.
            serde_json::Value::Object(map) => map
                .iter()
                .map(|(k, v)| k.len() + 2 * NODE + value_cost(v))
                .sum(),
            _ => 0,
        }
    }
    let text = |s: &Option<String>| s.as_ref().map_or(0, String::len);
    items
        .iter()
        .map(|e| {
            std::mem::size_of::<eventlog::NewEvent>()
                + e.event_type.len()
                + e.message.len()
                + text(&e.group)
                + text(&e.initiator)
                + text(&e.timestamp)
                + text(&e.send_mail)
                + e.data.as_ref().map_or(0, value_cost)
        })
        .sum()
}
