//! `POST /events`, `GET /events`, `GET /events/{id}`.

use axum::Json;
use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{FromRequestParts, Path, State};
use axum::http::request::Parts;
use axum::http::{Extensions, HeaderMap, StatusCode, header};
use chrono::{DateTime, SubsecRound, Utc};
use eventlog::{GroupId, NewEvent};
use serde_json::Value;
use uuid::Uuid;

use eventlog::filter::{FilterError, ListQuery, Rule, TypeCheckError, form_pairs};

use super::model::{
    ApiEvent, EventInput, IngestResponse, ListResponse, ScanReport, ShapeError, StrictEvent,
    check_shape,
};

/// What a scanned listing says to do for a fast answer.
pub const SCAN_HINT: &str = "no index narrows this filter: list the data key in [database] \
     indexed_data_keys (then run eventlog migrate) to answer it from an index";
use super::{ApiError, ApiState, CanIngest, CanRead};

/// The filters of `GET /events`, parsed once; a bad or unknown key is a 400 naming it.
pub struct ApiListQuery(pub ListQuery);

impl<S: Send + Sync> FromRequestParts<S> for ApiListQuery {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        let (query, rest) =
            ListQuery::from_pairs(form_pairs(parts.uri.query().unwrap_or_default()))
                .map_err(bad_filter)?;
        if let Some((key, value)) = rest.first() {
            return Err(bad_filter(FilterError::new(key, value, Rule::UnknownKey)));
        }
        Ok(ApiListQuery(query))
    }
}

fn bad_filter(e: FilterError) -> ApiError {
    ApiError::bad_request(e.to_string())
}

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
///
/// The common case (a well-formed body) is parsed straight into [`EventInput`]s; only when
/// that fails is the body parsed again item by item, to name the item that broke a rule.
fn items(kind: BodyKind, body: &[u8]) -> Result<Vec<EventInput>, ApiError> {
    let item_error = |i: usize, e: String| ApiError::bad_request(format!("item {i}: {e}")).at(i);
    let shape_error = |e: ShapeError| match e.index {
        Some(i) => item_error(i, e.message),
        None => ApiError::bad_request(e.message),
    };
    match kind {
        BodyKind::Json => {
            check_shape(body).map_err(shape_error)?;
            let first = body.iter().find(|b| !b.is_ascii_whitespace());
            let fast = match first {
                Some(b'[') => serde_json::from_slice::<Vec<EventInput>>(body).ok(),
                Some(b'{') => serde_json::from_slice::<EventInput>(body)
                    .ok()
                    .map(|e| vec![e]),
                _ => None,
            };
            if let Some(items) = fast {
                return Ok(items);
            }
            let values = match serde_json::from_slice::<Value>(body) {
                Ok(Value::Array(items)) => items,
                Ok(v @ Value::Object(_)) => vec![v],
                Ok(_) => {
                    return Err(ApiError::bad_request(
                        "the body must be an event object or an array of event objects",
                    ));
                }
                Err(e) => return Err(ApiError::bad_request(format!("the body is not JSON: {e}"))),
            };
            values
                .into_iter()
                .enumerate()
                .map(|(i, v)| serde_json::from_value(v).map_err(|e| item_error(i, e.to_string())))
                .collect()
        }
        BodyKind::JsonLines => body
            .split(|b| *b == b'\n')
            .filter(|line| !line.iter().all(u8::is_ascii_whitespace))
            .enumerate()
            .map(|(i, line)| {
                // Syntax errors are reported by the parse below.
                if let Err(e) = serde_json::from_slice::<StrictEvent>(line)
                    && e.is_data()
                {
                    return Err(item_error(i, e.to_string()));
                }
                serde_json::from_slice::<EventInput>(line).map_err(|e| {
                    if e.is_data() {
                        item_error(i, e.to_string())
                    } else {
                        item_error(i, format!("the line is not JSON: {e}"))
                    }
                })
            })
            .collect(),
    }
}

fn parse_timestamp(text: &str) -> Result<DateTime<Utc>, String> {
    DateTime::parse_from_rfc3339(text)
        .map(|t| t.with_timezone(&Utc).trunc_subsecs(6))
        .map_err(|_| {
            format!(
                "timestamp {:?} is not an RFC 3339 date-time",
                eventlog::filter::shorten(text)
            )
        })
}

fn to_new_event(
    state: &ApiState,
    input: EventInput,
    shared_group: &mut Option<GroupId>,
) -> Result<NewEvent, String> {
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
    state.limits.check(&event).map_err(|e| e.to_string())?;
    Ok(event)
}

/// What the server holds of the parsed events of a request at most: the events, the copy the
/// store (and mail) gets, and the store's encoding of them.
const PARSED_COPIES: usize = 3;

/// Bytes of memory a body byte costs until the request is answered, about: the body itself
/// and [`PARSED_COPIES`] of events parsed from it (an event of 1 KB of JSON holds about as
/// much parsed). Charged to the server's body budget before the body is read.
pub(super) const EXPANSION: usize = 1 + PARSED_COPIES;

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
            (Vec<EventInput> = "application/x-ndjson"),
        ),
        description = "An event, an array of events, or JSON Lines"
    ),
    responses(
        (status = 201, body = IngestResponse, description = "Committed"),
        (status = 400, body = ApiError, description = "An item broke a rule (such as the [limits] on message and data size); nothing was stored"),
        (status = 401, body = ApiError, description = "Missing, invalid or revoked token"),
        (status = 403, body = ApiError, description = "The token's scope is read: it may not record events"),
        (status = 413, body = ApiError, description = "Body larger than [api] body_limit"),
        (status = 415, body = ApiError, description = "Not JSON or JSON Lines"),
    )
)]
pub async fn ingest(
    State(state): State<ApiState>,
    _auth: CanIngest,
    headers: HeaderMap,
    extensions: Extensions,
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
    // Room for EXPANSION times the body was taken before it was read; a body whose events
    // cost more than that once parsed is charged the rest now.
    let raw = body.len();
    drop(body);
    let parsed = super::model::parsed_cost(&items);
    crate::server::admission::charge_at_least(&extensions, raw + PARSED_COPIES * parsed)
        .map_err(|e| ApiError::new(StatusCode::SERVICE_UNAVAILABLE, e.to_string()))?;
    let count = items.len() as u64;
    let mut shared_group = None;
    let mut events = Vec::with_capacity(items.len());
    for (i, item) in items.into_iter().enumerate() {
        let event = to_new_event(&state, item, &mut shared_group).map_err(|e| {
            // All or nothing: one bad item refuses every event of the request.
            eventlog::metrics::events_refused("api", count);
            ApiError::bad_request(format!("item {i}: {e}")).at(i)
        })?;
        events.push(event);
    }
    let mut groups: Vec<String> = events.iter().map(|e| e.group.to_string()).collect();
    let inserted = state.insert(events).await?;
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
    params(ListQuery),
    responses(
        (status = 200, body = ListResponse, description = "A page of events. A filter no index narrows (a `data.KEY` condition on a key not in `[database] indexed_data_keys`) is answered within a fixed budget: `scan` says how many events were looked through, and when `scan.complete` is false, `next_cursor` keeps scanning from where it stopped"),
        (status = 400, body = ApiError, description = "A query parameter is invalid"),
        (status = 401, body = ApiError),
        (status = 403, body = ApiError, description = "The token's scope is ingest: it may not read"),
    )
)]
pub async fn list(
    State(state): State<ApiState>,
    _auth: CanRead,
    ApiListQuery(q): ApiListQuery,
) -> Result<Json<ListResponse>, ApiError> {
    q.check_types(&state.types, state.reads.as_ref())
        .await
        .map_err(|e| match e {
            TypeCheckError::Filter(e) => bad_filter(e),
            TypeCheckError::Store(e) => e.into(),
        })?;
    let bounded = state
        .reads
        .list_bounded(
            &q.filter(),
            q.order,
            q.cursor.as_ref(),
            q.limit(),
            &state.scan_budget,
        )
        .await?;
    let scan = bounded.scan.map(|scan| ScanReport {
        scanned: scan.events,
        elapsed_ms: u64::try_from(scan.elapsed.as_millis()).unwrap_or(u64::MAX),
        complete: !scan.stopped,
        hint: SCAN_HINT.to_owned(),
    });
    Ok(Json(ListResponse {
        events: bounded.page.items.into_iter().map(ApiEvent::from).collect(),
        next_cursor: bounded.page.next.map(|c| c.to_string()),
        scan,
    }))
}

/// One event, by its numeric id or by its uuid.
#[utoipa::path(
    get,
    path = "/events/{id}",
    tag = "events",
    params(("id" = String, Path, description = "Numeric id or uuid",
        pattern = r"^([0-9]{1,18}|[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12})$")),
    responses(
        (status = 200, body = ApiEvent),
        (status = 400, body = ApiError, description = "Neither a numeric id nor a uuid"),
        (status = 401, body = ApiError),
        (status = 403, body = ApiError, description = "The token's scope is ingest: it may not read"),
        (status = 404, body = ApiError, description = "No such event"),
    )
)]
pub async fn get_one(
    State(state): State<ApiState>,
    _auth: CanRead,
    Path(id): Path<String>,
) -> Result<Json<ApiEvent>, ApiError> {
    let event = if let Ok(n) = id.parse::<i64>() {
        state.reads.get(n).await?
    } else if let Ok(uuid) = id.parse::<Uuid>() {
        state.reads.get_by_uuid(uuid).await?
    } else {
        return Err(ApiError::bad_request(format!(
            "{id:?} is neither an event id nor a uuid"
        )));
    };
    event
        .map(|e| Json(ApiEvent::from(e)))
        .ok_or_else(|| ApiError::new(StatusCode::NOT_FOUND, format!("no event {id}")))
}
