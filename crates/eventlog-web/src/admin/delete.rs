//! `GET /events/delete?id=…` (confirmation) and `POST /events/delete` (admins only).

use askama::Template;
use askama_web::WebTemplate;
use axum::extract::{RawForm, RawQuery, State};
use axum::response::{IntoResponse, Redirect, Response};

use super::{EventRow, Layout};
use crate::AppState;
use crate::auth::CurrentUser;
use crate::error::AppError;

/// At most this many events per delete.
const MAX_IDS: usize = 1000;

#[derive(Template, WebTemplate)]
#[template(path = "delete.html")]
/// The rendered page.
pub struct ConfirmPage {
    page: Layout,
    rows: Vec<EventRow>,
}

fn ids(pairs: &[(String, String)]) -> Result<Vec<i64>, AppError> {
    let ids: Vec<i64> = pairs
        .iter()
        .filter(|(k, _)| k == "id")
        .map(|(_, v)| {
            v.parse()
                .map_err(|_| AppError::BadRequest(format!("id={v:?} is not an event id")))
        })
        .collect::<Result<_, _>>()?;
    if ids.is_empty() {
        return Err(AppError::BadRequest(
            "no events selected: pass id=… once per event".into(),
        ));
    }
    if ids.len() > MAX_IDS {
        return Err(AppError::BadRequest(format!(
            "{} events selected; at most {MAX_IDS} per delete",
            ids.len()
        )));
    }
    Ok(ids)
}

/// The `key=value` pairs of a query string or form body, once `user` is known to be an
/// admin (deleting, and the page that confirms it, are for admins only).
fn admin_pairs(user: &CurrentUser, raw: &[u8]) -> Result<Vec<(String, String)>, AppError> {
    user.require_admin()?;
    let raw =
        std::str::from_utf8(raw).map_err(|_| AppError::BadRequest("form is not UTF-8".into()))?;
    serde_urlencoded::from_str(raw)
        .map_err(|e| AppError::BadRequest(format!("malformed form: {e}")))
}

/// The confirmation page listing what would be deleted.
pub async fn confirm(
    State(state): State<AppState>,
    user: CurrentUser,
    RawQuery(query): RawQuery,
) -> Result<ConfirmPage, AppError> {
    let query = query.unwrap_or_default();
    let ids = ids(&admin_pairs(&user, query.as_bytes())?)?;
    let now = eventlog::event::now();
    let mut rows = Vec::new();
    for id in ids {
        if let Some(e) = state.store().get(id).await? {
            rows.push(EventRow::new(state.types(), &e, now));
        }
    }
    if rows.is_empty() {
        return Err(AppError::NotFound);
    }
    Ok(ConfirmPage {
        page: Layout::new(&user),
        rows,
    })
}

/// Deletes the confirmed events and goes back to the list.
pub async fn submit(
    State(state): State<AppState>,
    user: CurrentUser,
    RawForm(body): RawForm,
) -> Result<Response, AppError> {
    let pairs = admin_pairs(&user, &body)?;
    let csrf = pairs
        .iter()
        .find(|(k, _)| k == "csrf")
        .map(|(_, v)| v.as_str());
    user.check_csrf(csrf)?;
    let ids = ids(&pairs)?;
    let n = state.store().delete(&ids).await?;
    tracing::info!(user = %user.user().name, deleted = n, "events deleted in the admin");
    Ok(Redirect::to(&format!("{}/events?deleted={n}", user.base.path())).into_response())
}
