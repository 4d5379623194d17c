//! `GET /events/{id}`: the "Event Group Overview", the group as a timeline, and "This Event".
//!
//! A group can hold thousands of events, so the overview shows a window of them: by default
//! [`AROUND`] before and after the viewed event, with links that page through the rest
//! (`?before=CURSOR`, `?after=CURSOR`, `?at=first`, `?at=last`). Each window is two keyset
//! lookups on the group's time index, so the page stays small and fast whatever the group's
//! size.

use askama::Template;
use askama_web::WebTemplate;
use axum::extract::{Path, RawQuery, State};
use chrono::Datelike;
use eventlog::Event;
use eventlog::store::{Cursor, EventFilter, Order};

use super::{Layout, enc};
use crate::AppState;
use crate::auth::CurrentUser;
use crate::error::AppError;
use crate::format::{self, TypeLabel};

/// Events shown on each side of the viewed one.
pub const AROUND: usize = 50;
/// Events in a window paged to with `before`, `after` or `at`.
pub const WINDOW: usize = 2 * AROUND + 1;

/// One row of the group overview.
pub struct GroupRow {
    /// Event id.
    pub id: i64,
    /// The first row shown: date and time; later rows: the delay since the row before.
    pub when: String,
    /// Time, for the `datetime` attribute and the hover.
    pub time: format::TimeText,
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

/// A link to another window of the group.
pub struct PageLink {
    /// Where it goes.
    pub href: String,
    /// What it says.
    pub text: String,
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
    time: format::TimeText,
    data: String,
    rows: Vec<GroupRow>,
    dots: Vec<Dot>,
    /// Events in the whole group, with separators.
    total: String,
    /// Whether only part of the group is shown.
    partial: bool,
    /// How long the group took (`over 2h 5m`, or `at the same time`); empty for one event.
    span: String,
    earlier: Vec<PageLink>,
    later: Vec<PageLink>,
}

/// Which window of the group to show.
enum Window {
    Around,
    Before(Cursor),
    After(Cursor),
    First,
    Last,
}

fn bad(key: &str, value: &str, rule: &str) -> AppError {
    AppError::BadRequest(format!("{key}={value:?}: {rule}"))
}

fn cursor(key: &str, value: &str) -> Result<Cursor, AppError> {
    let c: Cursor = value
        .parse()
        .map_err(|_| bad(key, value, "not a position in the group"))?;
    if !(1..=9999).contains(&c.timestamp.year()) {
        return Err(bad(key, value, "the year must be from 0001 to 9999"));
    }
    Ok(c)
}

fn window(query: Option<&str>) -> Result<Window, AppError> {
    let mut w = Window::Around;
    for (key, value) in form_urlencoded::parse(query.unwrap_or_default().as_bytes()) {
        w = match key.as_ref() {
            "before" => Window::Before(cursor(&key, &value)?),
            "after" => Window::After(cursor(&key, &value)?),
            "at" => match value.as_ref() {
                "first" => Window::First,
                "last" => Window::Last,
                _ => return Err(bad(&key, &value, "not one of: first, last")),
            },
            _ => continue,
        };
    }
    Ok(w)
}

fn cursor_of(e: &Event) -> Cursor {
    Cursor {
        timestamp: e.timestamp,
        id: e.id,
    }
}

/// The event page.
pub async fn page(
    State(state): State<AppState>,
    user: CurrentUser,
    Path(id): Path<String>,
    RawQuery(query): RawQuery,
) -> Result<EventPage, AppError> {
    let id: i64 = id.parse().map_err(|_| AppError::NotFound)?;
    let which = window(query.as_deref())?;
    let store = state.reads();
    let event = store.get(id).await?.ok_or(AppError::NotFound)?;
    let in_group = EventFilter {
        group: Some(event.group.clone()),
        ..EventFilter::default()
    };
    // `before` rows come newest first; each side asks for one more to know if there is more.
    let (mut before, after) = match &which {
        Window::Around => {
            let at = cursor_of(&event);
            let b = store
                .list(&in_group, Order::Desc, Some(&at), AROUND + 1)
                .await?;
            let a = store
                .list(&in_group, Order::Asc, Some(&at), AROUND + 1)
                .await?;
            let mut after = vec![event.clone()];
            after.extend(a.items);
            (b.items, after)
        }
        Window::Before(c) => {
            let b = store
                .list(&in_group, Order::Desc, Some(c), WINDOW + 1)
                .await?;
            let a = store.list(&in_group, Order::Asc, Some(c), 1).await?;
            (b.items, a.items)
        }
        Window::After(c) => {
            let b = store.list(&in_group, Order::Desc, Some(c), 1).await?;
            let a = store
                .list(&in_group, Order::Asc, Some(c), WINDOW + 1)
                .await?;
            (b.items, a.items)
        }
        Window::First => {
            let a = store.list(&in_group, Order::Asc, None, WINDOW + 1).await?;
            (Vec::new(), a.items)
        }
        Window::Last => {
            let b = store.list(&in_group, Order::Desc, None, WINDOW + 1).await?;
            (b.items, Vec::new())
        }
    };
    // Trim to the window; what is left over says whether there is more on that side.
    let (keep_before, keep_after) = match which {
        Window::Around => (AROUND, AROUND + 1),
        Window::Before(_) | Window::Last => (WINDOW, 0),
        Window::After(_) | Window::First => (0, WINDOW),
    };
    let more_before = before.len() > keep_before;
    let more_after = after.len() > keep_after;
    before.truncate(keep_before);
    before.reverse();
    let mut shown = before;
    shown.extend(after.into_iter().take(keep_after));

    let summary = store.group_summary(&event.group).await?;
    let (first, last, total) = match &summary {
        Some(s) => (s.first_at, s.last_at, s.event_count.max(0) as u64),
        None => (event.timestamp, event.timestamp, 1),
    };
    let now = eventlog::event::now();
    let types = state.types();
    let mut rows = Vec::with_capacity(shown.len());
    let mut prev: Option<&Event> = None;
    for e in &shown {
        rows.push(GroupRow {
            id: e.id,
            when: match prev {
                None => format::absolute(e.timestamp),
                Some(p) => format::delay(p.timestamp, e.timestamp),
            },
            time: format::TimeText::new(e.timestamp, now),
            label: TypeLabel::new(types, &e.event_type),
            message: e.message.clone(),
            initiator: e.initiator.clone().unwrap_or_default(),
            current: e.id == event.id,
        });
        prev = Some(e);
    }
    let width = (last - first).num_milliseconds().max(1) as f64;
    let dots = shown
        .iter()
        .map(|e| {
            let t = types.display(&e.event_type);
            Dot {
                x: format!(
                    "{:.1}",
                    1.0 + (e.timestamp - first).num_milliseconds().max(0) as f64 / width * 98.0
                ),
                fill: state.chart_color(&e.event_type).to_owned(),
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
    let here = format!("{base}/events/{}", event.id);
    let mut earlier = Vec::new();
    let mut later = Vec::new();
    if let (true, Some(f)) = (more_before, shown.first()) {
        earlier.push(PageLink {
            href: format!("{here}?at=first"),
            text: "« First events".to_owned(),
        });
        earlier.push(PageLink {
            href: format!("{here}?before={}", cursor_of(f)),
            text: format!("‹ {WINDOW} earlier"),
        });
    }
    if let (true, Some(l)) = (more_after, shown.last()) {
        later.push(PageLink {
            href: format!("{here}?after={}", cursor_of(l)),
            text: format!("{WINDOW} later ›"),
        });
        later.push(PageLink {
            href: format!("{here}?at=last"),
            text: "Last events »".to_owned(),
        });
    }
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
        time: format::TimeText::new(event.timestamp, now),
        span: if total > 1 {
            match format::Delay::between(first, last) {
                // Every event of the group in the same second.
                d if d.is_zero() => "at the same time".to_owned(),
                d => format!("over {d}"),
            }
        } else {
            String::new()
        },
        partial: (rows.len() as u64) < total,
        total: format::count(total, u64::MAX, "event"),
        data,
        rows,
        dots,
        earlier,
        later,
        event,
        page: Layout::new(&user),
    })
}
