//! `GET /groups/{group}`.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use chrono::SecondsFormat;

use super::model::{ApiEvent, GroupResponse};
use super::{ApiError, ApiState, CanRead};

/// Most events returned for one group.
pub const MAX_GROUP_EVENTS: usize = 10_000;

/// One group: summary, status (its most severe type) and events in time order.
#[utoipa::path(
    get,
    path = "/groups/{group}",
    tag = "groups",
    params(("group" = String, Path, description = "Group id or name (1–40 characters)", min_length = 1, max_length = 40,
        pattern = r"^[^\x00]*$")),
    responses(
        (status = 200, body = GroupResponse),
        (status = 401, body = ApiError),
        (status = 403, body = ApiError, description = "The token's scope is ingest: it may not read"),
        (status = 404, body = ApiError, description = "No event in that group"),
    )
)]
pub async fn get_group(
    State(state): State<ApiState>,
    _auth: CanRead,
    Path(group): Path<String>,
) -> Result<Json<GroupResponse>, ApiError> {
    // Summary and events from the same database (the replica, when reads go there), so the
    // count and status describe the events listed even while the replica lags.
    let summary = state
        .reads
        .group_summary(&group)
        .await?
        .ok_or_else(|| ApiError::new(StatusCode::NOT_FOUND, format!("no group {group:?}")))?;
    let events = state.reads.group_events(&group, MAX_GROUP_EVENTS).await?;
    let status = state
        .types
        .most_severe(summary.types.iter().map(String::as_str))
        .map(str::to_owned);
    Ok(Json(GroupResponse {
        group: summary.group,
        first_at: summary
            .first_at
            .to_rfc3339_opts(SecondsFormat::Micros, true),
        last_at: summary.last_at.to_rfc3339_opts(SecondsFormat::Micros, true),
        event_count: summary.event_count,
        status,
        events: events.into_iter().map(ApiEvent::from).collect(),
    }))
}
