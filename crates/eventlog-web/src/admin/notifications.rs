//! `GET /notifications`: recent notification deliveries per channel, and `POST
//! /notifications`: "send a test" to one channel (admins only, with the session's CSRF token).
//!
//! Channels are shown by name and kind only: their URLs (Slack's and Teams' carry a token)
//! and signing secrets never reach the page.

use askama::Template;
use askama_web::WebTemplate;
use axum::extract::{RawForm, RawQuery, State};

use super::Layout;
use crate::AppState;
use crate::auth::CurrentUser;
use crate::error::AppError;

/// Deliveries listed at most.
const SHOWN: usize = 200;

/// One configured channel.
pub struct ChannelRow {
    /// Its name.
    pub name: String,
    /// `webhook`, `slack` or `teams`.
    pub kind: &'static str,
}

/// One delivery (an outbox row).
pub struct DeliveryRow {
    /// When its event was committed.
    pub created: String,
    /// The channel's name.
    pub channel: String,
    /// The event's id, for the link to its page.
    pub event_id: i64,
    /// `sent`, `retrying`, `queued` or `given up`.
    pub state: &'static str,
    /// Attempts so far.
    pub attempts: i64,
    /// Why the last attempt failed, if it did.
    pub reason: String,
}

#[derive(Template, WebTemplate)]
#[template(path = "notifications.html")]
/// The rendered page.
pub struct NotificationsPage {
    page: Layout,
    channels: Vec<ChannelRow>,
    rows: Vec<DeliveryRow>,
    /// The channel shown, or empty for all.
    channel: String,
    /// The outcome of a test just sent.
    flash: String,
    /// Whether the test failed.
    flash_error: bool,
}

fn pairs(raw: &[u8]) -> Result<Vec<(String, String)>, AppError> {
    let raw =
        std::str::from_utf8(raw).map_err(|_| AppError::BadRequest("form is not UTF-8".into()))?;
    serde_urlencoded::from_str(raw)
        .map_err(|e| AppError::BadRequest(format!("malformed form: {e}")))
}

fn value<'a>(pairs: &'a [(String, String)], key: &str) -> Option<&'a str> {
    pairs
        .iter()
        .find(|(k, _)| k == key)
        .map(|(_, v)| v.as_str())
}

fn channels(state: &AppState) -> Vec<ChannelRow> {
    #[cfg(feature = "notify")]
    if let Some(notifier) = state.notifier() {
        return notifier
            .channels()
            .into_iter()
            .map(|(name, kind)| ChannelRow {
                name,
                kind: kind.as_str(),
            })
            .collect();
    }
    let _ = state;
    Vec::new()
}

async fn render(
    state: &AppState,
    user: &CurrentUser,
    channel: String,
    flash: String,
    flash_error: bool,
) -> Result<NotificationsPage, AppError> {
    let filter = (!channel.is_empty()).then_some(channel.as_str());
    let notices = state.store().recent_notices(filter, SHOWN).await?;
    let rows = notices
        .into_iter()
        .map(|n| DeliveryRow {
            created: n.created_at.format("%Y-%m-%d %H:%M:%S UTC").to_string(),
            state: match (n.state.as_str(), n.failures) {
                ("sent", _) => "sent",
                ("queued", 0) => "queued",
                ("queued", _) => "retrying",
                _ => "given up",
            },
            channel: n.channel,
            event_id: n.event_id,
            attempts: n.attempts,
            reason: n.last_error.unwrap_or_default(),
        })
        .collect();
    Ok(NotificationsPage {
        page: Layout::new(user),
        channels: channels(state),
        rows,
        channel,
        flash,
        flash_error,
    })
}

/// The page: channels, then the newest deliveries (of `?channel=NAME`, or of all).
pub async fn page(
    State(state): State<AppState>,
    user: CurrentUser,
    RawQuery(query): RawQuery,
) -> Result<NotificationsPage, AppError> {
    user.require_admin()?;
    let query = pairs(query.unwrap_or_default().as_bytes())?;
    let channel = value(&query, "channel").unwrap_or_default().to_owned();
    if channel.len() > 40 {
        return Err(AppError::BadRequest(
            "channel names have at most 40 characters".into(),
        ));
    }
    render(&state, &user, channel, String::new(), false).await
}

/// Sends a test to the form's `channel` at once and shows the page with the outcome.
pub async fn send_test(
    State(state): State<AppState>,
    user: CurrentUser,
    RawForm(body): RawForm,
) -> Result<NotificationsPage, AppError> {
    user.require_admin()?;
    let form = pairs(&body)?;
    user.check_csrf(value(&form, "csrf"))?;
    let channel = value(&form, "channel").unwrap_or_default().to_owned();
    if !channels(&state).iter().any(|c| c.name == channel) {
        return Err(AppError::BadRequest(format!(
            "no channel named {channel:?}"
        )));
    }
    let (flash, error) = test(&state, &channel, &user.user().name).await;
    tracing::info!(user = %user.user().name, channel, error, "notification test sent from the admin");
    render(&state, &user, channel, flash, error).await
}

#[cfg(feature = "notify")]
async fn test(state: &AppState, channel: &str, user: &str) -> (String, bool) {
    let Some(notifier) = state.notifier() else {
        return ("this server sends no notifications".into(), true);
    };
    match notifier
        .send_test(channel, &format!("admin user {user}"))
        .await
    {
        Ok(status) => (
            format!("Test sent to {channel}: the receiver answered {status}."),
            false,
        ),
        Err(reason) => (format!("Test to {channel} failed: {reason}."), true),
    }
}

#[cfg(not(feature = "notify"))]
async fn test(_: &AppState, _: &str, _: &str) -> (String, bool) {
    ("this server was built without notifications".into(), true)
}
