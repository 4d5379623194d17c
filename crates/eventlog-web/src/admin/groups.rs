//! `GET /groups`: one row per group with its status (the most severe type it contains).

use askama::Template;
use askama_web::WebTemplate;
use axum::extract::State;

use super::events::{TypeOption, type_options};
use super::list_query::{AdminQuery, GroupsQuery};
use super::{Layout, PAGE_SIZE, enc};
use crate::AppState;
use crate::auth::CurrentUser;
use crate::error::AppError;
use crate::format::{self, TypeLabel};

/// One group row.
pub struct GroupRow {
    /// Group id, whole.
    pub group: String,
    /// As shown.
    pub group_short: String,
    /// Link to its events.
    pub url: String,
    /// First event.
    pub first: format::TimeText,
    /// Last event.
    pub last: format::TimeText,
    /// Duration from first to last.
    pub duration: String,
    /// Number of events, with thousands separators.
    pub count: String,
    /// Most severe type.
    pub status: Option<TypeLabel>,
}

#[derive(Template, WebTemplate)]
#[template(path = "groups.html")]
/// The rendered page.
pub struct GroupsPage {
    page: Layout,
    params: AdminQuery,
    has_cursor: bool,
    type_options: Vec<TypeOption>,
    rows: Vec<GroupRow>,
    next_url: String,
}

/// The groups page.
pub async fn list(
    State(state): State<AppState>,
    user: CurrentUser,
    GroupsQuery {
        filters: params,
        cursor,
    }: GroupsQuery,
) -> Result<GroupsPage, AppError> {
    params.check_types(&state).await?;
    let now = eventlog::event::now();
    let filter = params.group_filter(now);
    let page = state
        .reads()
        .groups(&filter, cursor.as_ref(), PAGE_SIZE)
        .await?;
    let base = user.base.path().to_owned();
    let types = state.types();
    let rows = page
        .items
        .iter()
        .map(|g| GroupRow {
            group: g.group.clone(),
            group_short: format::short_group(&g.group).to_owned(),
            url: format!("{base}/events?group={}", enc(&g.group)),
            first: format::TimeText::new(g.first_at, now),
            last: format::TimeText::new(g.last_at, now),
            duration: format::Delay::between(g.first_at, g.last_at).to_string(),
            count: format::thousands(g.event_count.max(0) as u64),
            status: types
                .most_severe(g.types.iter().map(String::as_str))
                .map(|t| TypeLabel::new(types, t)),
        })
        .collect();
    let next_url = params.next_url(&format!("{base}/groups"), page.next);
    Ok(GroupsPage {
        type_options: type_options(&state, &params.list.types),
        has_cursor: cursor.is_some(),
        page: Layout::new(&user),
        params,
        rows,
        next_url,
    })
}
