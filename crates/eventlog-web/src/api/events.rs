//! `POST /events`, `GET /events`, `GET /events/{id}`.

use axum::Json;
use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, StatusCode, header};
use chrono::{DateTime, SubsecRound, Utc};
use eventlog::{GroupId, NewEvent};
use serde_json::Value;
use uuid::Uuid;

use super::model::{ApiEvent, EventInput, IngestResponse, ListParams, ListResponse};
use super::{ApiError, ApiState, Authorized};
use crate::filter_params;

enum BodyKind {
    Json,
    JsonLines,
}

fn body_kind(headers: &HeaderMap) -> Result<BodyKind, ApiError> {
    let unsupported = || {
        ApiError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "send Content-Type: application/json (an object or an array) or application/x-ndjson",
        )
    };
    let value = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .ok_or_else(unsupported)?;
    let essence = value
        .split(';')
        .next()
        .unwrap_or_default()
        .trim()
        .to_ascii_lowercase();
    match essence.as_str() {
        "application/json" => Ok(BodyKind::Json),
        "application/x-ndjson" | "application/jsonl" | "application/json-lines" => {
            Ok(BodyKind::JsonLines)
        }
        e if e.starts_with("application/") && e.ends_with("+json") => Ok(BodyKind::Json),
        _ => Err(unsupported()),
    }
}

/// The items of a body: a JSON object, an array of them, or one object per line.
fn items(kind: BodyKind, body: &[u8]) -> Result<Vec<Value>, ApiError> {
    match kind {
        BodyKind::Json => match serde_json::from_slice::<Value>(body) {
            Ok(Value::Array(items)) => Ok(items),
            Ok(v @ Value::Object(_)) => Ok(vec![v]),
            Ok(_) => Err(ApiError::bad_request(
                "the body must be an event object or an array of event objects",
            )),
            Err(e) => Err(ApiError::bad_request(format!("the body is not JSON: {e}"))),
        },
        BodyKind::JsonLines => body
            .split(|b| *b == b'\n')
            .filter(|line| !line.iter().all(u8::is_ascii_whitespace))
            .enumerate()
            .map(|(i, line)| {
                serde_json::from_slice(line).map_err(|e| {
                    ApiError::bad_request(format!("item {i}: the line is not JSON: {e}")).at(i)
                })
            })
            .collect(),
    }
}

fn parse_timestamp(text: &str) -> Result<DateTime<Utc>, String> {
    DateTime::parse_from_rfc3339(text)
        .map(|t| t.with_timezone(&Utc).trunc_subsecs(6))
        .map_err(|_| format!("timestamp {text:?} is not an RFC 3339 date-time"))
}

fn to_new_event(
    state: &ApiState,
    item: Value,
    shared_group: &mut Option<GroupId>,
) -> Result<NewEvent, String> {
    let input: EventInput = serde_json::from_value(item).map_err(|e| e.to_string())?;
    state
        .types
        .require(&input.event_type)
        .map_err(|e| e.to_string())?;
    let group = match input.group {
        Some(g) => GroupId::named(g).map_err(|e| e.to_string())?,
        None => shared_group.get_or_insert_with(GroupId::random).clone(),
    };
    let timestamp = match input.timestamp.as_deref() {
        Some(t) => parse_timestamp(t)?,
        None => eventlog::event::now(),
    };
    let event = NewEvent {
        uuid: input.id.unwrap_or_else(Uuid::now_v7),
        event_type: input.event_type,
        group,
        timestamp,
        message: input.message,
        data: input.data,
        initiator: input.initiator,
        send_mail: input.send_mail,
    };
    event.validate().map_err(|e| e.to_string())?;
    Ok(event)
}

/// Records one event or a batch, all or nothing, and answers once they are committed.
///
/// The body is one event object, an array of them (`application/json`), or one object per
/// line (`application/x-ndjson`). Items without a `group` share one new random group. An item
/// whose `id` is already stored is not stored again; its existing id is returned.
#[utoipa::path(
    post,
    path = "/events",
    tag = "events",
    request_body(
        content(
            (EventInput = "application/json"),
            (Vec<EventInput> = "application/json"),
            (EventInput = "application/x-ndjson"),
        ),
        description = "An event, an array of events, or JSON Lines"
    ),
    responses(
        (status = 201, body = IngestResponse, description = "Committed"),
        (status = 400, body = ApiError, description = "An item broke a rule; nothing was stored"),
        (status = 401, body = ApiError, description = "Missing, invalid or revoked token"),
        (status = 413, body = ApiError, description = "Body larger than [api] body_limit"),
        (status = 415, body = ApiError, description = "Not JSON or JSON Lines"),
    )
)]
pub async fn ingest(
    State(state): State<ApiState>,
    _auth: Authorized,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<(StatusCode, Json<IngestResponse>), ApiError> {
    let kind = body_kind(&headers)?;
    let body = body.map_err(|rejection| {
        let status = rejection.status();
        if status == StatusCode::PAYLOAD_TOO_LARGE {
            ApiError::new(
                status,
                format!(
                    "the body is larger than the limit of {} bytes ([api] body_limit)",
                    state.body_limit
                ),
            )
        } else {
            ApiError::new(status, rejection.body_text())
        }
    })?;
    let items = items(kind, &body)?;
    let mut shared_group = None;
    let mut events = Vec::with_capacity(items.len());
    for (i, item) in items.into_iter().enumerate() {
        let event = to_new_event(&state, item, &mut shared_group)
            .map_err(|e| ApiError::bad_request(format!("item {i}: {e}")).at(i))?;
        events.push(event);
    }
    let inserted = state.store.insert_batch(&events).await?;
    let mut groups: Vec<String> = events.iter().map(|e| e.group.to_string()).collect();
    for (i, r) in inserted.iter().enumerate() {
        if !r.created {
            // A repeated idempotency key: report the group the stored event really has.
            if let Some(stored) = state.store.get(r.id).await? {
                groups[i] = stored.group;
            }
        }
    }
    Ok((
        StatusCode::CREATED,
        Json(IngestResponse {
            ids: inserted.iter().map(|r| r.id).collect(),
            groups,
        }),
    ))
}

/// A page of events matching the filters, newest first by default.
#[utoipa::path(
    get,
    path = "/events",
    tag = "events",
    params(ListParams),
    responses(
        (status = 200, body = ListResponse),
        (status = 400, body = ApiError, description = "A query parameter is invalid"),
        (status = 401, body = ApiError),
    )
)]
pub async fn list(
    State(state): State<ApiState>,
    _auth: Authorized,
    RawQuery(query): RawQuery,
) -> Result<Json<ListResponse>, ApiError> {
    let q = filter_params::parse_query(query.as_deref().unwrap_or_default())
        .map_err(|e| ApiError::bad_request(e.to_string()))?;
    if let Some((key, _)) = q.rest.first() {
        return Err(ApiError::bad_request(format!(
            "unknown query parameter {key:?}; known: q, type, group, initiator, since, until, data.PATH, order, cursor, limit"
        )));
    }
    let page = state
        .store
        .list(&q.filter, q.order, q.cursor.as_ref(), q.limit)
        .await?;
    Ok(Json(ListResponse {
        events: page.items.into_iter().map(ApiEvent::from).collect(),
        next_cursor: page.next.map(|c| c.to_string()),
    }))
}

/// One event, by its numeric id or by its uuid.
#[utoipa::path(
    get,
    path = "/events/{id}",
    tag = "events",
    params(("id" = String, Path, description = "Numeric id or uuid")),
    responses(
        (status = 200, body = ApiEvent),
        (status = 401, body = ApiError),
        (status = 404, body = ApiError, description = "No such event"),
    )
)]
pub async fn get_one(
    State(state): State<ApiState>,
    _auth: Authorized,
    Path(id): Path<String>,
) -> Result<Json<ApiEvent>, ApiError> {
    let event = if let Ok(n) = id.parse::<i64>() {
        state.store.get(n).await?
    } else if let Ok(uuid) = id.parse::<Uuid>() {
        state.store.get_by_uuid(uuid).await?
    } else {
        return Err(ApiError::bad_request(format!(
            "{id:?} is neither an event id nor a uuid"
        )));
    };
    event
        .map(|e| Json(ApiEvent::from(e)))
        .ok_or_else(|| ApiError::new(StatusCode::NOT_FOUND, format!("no event {id}")))
}
