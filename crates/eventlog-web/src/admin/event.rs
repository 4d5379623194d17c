//! `GET /events/{id}`: the "Event Group Overview", the group as a timeline, and "This Event".

use askama::Template;
use askama_web::WebTemplate;
use axum::extract::{Path, State};
use eventlog::Event;

use super::{Layout, enc};
use crate::AppState;
use crate::auth::CurrentUser;
use crate::error::AppError;
use crate::format::{self, TypeLabel};

/// At most this many events of a group are shown.
pub const GROUP_LIMIT: usize = 10_000;

/// One row of the group overview.
pub struct GroupRow {
    /// Event id.
    pub id: i64,
    /// The first row: date and time; later rows: the delay since the row before.
    pub when: String,
    /// Absolute time (hover).
    pub abs: String,
    /// Type label.
    pub label: TypeLabel,
    /// Message.
    pub message: String,
    /// Initiator.
    pub initiator: String,
    /// The viewed event.
    pub current: bool,
}

/// One dot on the timeline.
pub struct Dot {
    /// Position, in percent of the width.
    pub x: String,
    /// Colour.
    pub fill: String,
    /// Radius.
    pub r: u8,
    /// Tooltip.
    pub title: String,
}

#[derive(Template, WebTemplate)]
#[template(path = "event.html")]
/// The rendered page.
pub struct EventPage {
    page: Layout,
    event: Event,
    label: TypeLabel,
    group_url: String,
    initiator_url: String,
    time: String,
    rel: String,
    data: String,
    rows: Vec<GroupRow>,
    dots: Vec<Dot>,
    truncated: bool,
    span: String,
}

/// The event page.
pub async fn page(
    State(state): State<AppState>,
    user: CurrentUser,
    Path(id): Path<String>,
) -> Result<EventPage, AppError> {
    let id: i64 = id.parse().map_err(|_| AppError::NotFound)?;
    let event = state.reads().get(id).await?.ok_or(AppError::NotFound)?;
    let group = state
        .reads()
        .group_events(&event.group, GROUP_LIMIT)
        .await?;
    let now = eventlog::event::now();
    let types = state.types();
    let mut rows = Vec::with_capacity(group.len());
    let mut prev: Option<&Event> = None;
    for e in &group {
        rows.push(GroupRow {
            id: e.id,
            when: match prev {
                None => format::absolute(e.timestamp),
                Some(p) => format::delay(p.timestamp, e.timestamp),
            },
            abs: format::absolute(e.timestamp),
            label: TypeLabel::new(types, &e.event_type),
            message: e.message.clone(),
            initiator: e.initiator.clone().unwrap_or_default(),
            current: e.id == event.id,
        });
        prev = Some(e);
    }
    let (first, last) = match (group.first(), group.last()) {
        (Some(f), Some(l)) => (f.timestamp, l.timestamp),
        _ => (event.timestamp, event.timestamp),
    };
    let total = (last - first).num_milliseconds().max(1) as f64;
    let dots = group
        .iter()
        .map(|e| {
            let t = types.display(&e.event_type);
            Dot {
                x: format!(
                    "{:.1}",
                    1.0 + (e.timestamp - first).num_milliseconds() as f64 / total * 98.0
                ),
                fill: t
                    .bgcolor
                    .or(t.color)
                    .unwrap_or_else(|| "#4e79a7".to_owned()),
                r: if e.id == event.id { 7 } else { 4 },
                title: format!(
                    "{} · {} · {}",
                    format::absolute(e.timestamp),
                    t.label,
                    e.message
                ),
            }
        })
        .collect();
    let base = user.base.path();
    let data = match &event.data {
        Some(v) => {
            serde_json::to_string_pretty(v).map_err(|e| AppError::Internal(e.to_string()))?
        }
        None => String::new(),
    };
    Ok(EventPage {
        label: TypeLabel::new(types, &event.event_type),
        group_url: format!("{base}/events?group={}", enc(&event.group)),
        initiator_url: format!(
            "{base}/events?initiator={}",
            enc(event.initiator.as_deref().unwrap_or_default())
        ),
        time: format::absolute(event.timestamp),
        rel: format::relative(event.timestamp, now),
        span: if group.len() > 1 {
            format::delay(first, last).replace(" later", "")
        } else {
            String::new()
        },
        truncated: group.len() >= GROUP_LIMIT,
        data,
        rows,
        dots,
        event,
        page: Layout::new(&user),
    })
}
