//! The API's JSON bodies.

use chrono::SecondsFormat;
use eventlog::Event;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

/// One event to record (`POST /events`, alone, in an array, or one per line of JSON Lines).
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct EventInput {
    /// A configured event type, e.g. `info`.
    #[serde(rename = "type")]
    #[schema(example = "info")]
    pub event_type: String,
    /// What happened.
    #[schema(example = "About to send 1000 mails")]
    pub message: String,
    /// Group id or name (1–40 characters). Items without one share a new random group per
    /// request, returned in `groups`.
    #[serde(default)]
    pub group: Option<String>,
    /// Who or what caused it (at most 500 characters).
    #[serde(default)]
    pub initiator: Option<String>,
    /// Any JSON value.
    #[serde(default)]
    #[schema(value_type = Object)]
    pub data: Option<serde_json::Value>,
    /// When it happened, RFC 3339 (stored in UTC, microseconds); default: now.
    #[serde(default)]
    #[schema(example = "2026-01-31T12:00:00.000000Z")]
    pub timestamp: Option<String>,
    /// Address to notify by e-mail.
    #[serde(default)]
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
    /// Structured details.
    #[schema(value_type = Option<Object>)]
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
    /// The stored ids, in input order (an already stored idempotency key gives its old id).
    pub ids: Vec<i64>,
    /// The group of each item, in input order.
    pub groups: Vec<String>,
}

/// A page of events.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct ListResponse {
    /// The events of this page.
    pub events: Vec<ApiEvent>,
    /// Pass as `cursor` for the next page; `null` on the last one.
    pub next_cursor: Option<String>,
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
