//! The admin pages, one module per page.

use chrono::{DateTime, Utc};
use eventlog::{Event, EventTypes};

use crate::auth::CurrentUser;
use crate::format::{self, TypeLabel};

pub mod assets;
pub mod chart;
pub mod colors;
pub mod delete;
pub mod event;
pub mod events;
pub mod export;
pub mod groups;
pub mod list_query;
pub mod listing;
pub mod live;
pub mod login;
pub mod notifications;
pub mod stream;

/// Rows per list page.
pub const PAGE_SIZE: usize = 100;

/// What the page frame needs: where the admin is mounted and who is logged in.
#[derive(Debug, Clone)]
pub struct Layout {
    /// Path prefix (`""` or `/admin/eventlog`).
    pub base: String,
    /// Logged-in user name.
    pub user: String,
    /// `admin` or `viewer`.
    pub role: String,
    /// The session's CSRF token, for POST forms.
    pub csrf: String,
    /// Whether delete controls are shown.
    pub is_admin: bool,
}

impl Layout {
    /// The frame for a logged-in user.
    pub fn new(user: &CurrentUser) -> Self {
        Layout {
            base: user.base.path().to_owned(),
            user: user.user().name.clone(),
            role: user.user().role.to_string(),
            csrf: user.session.csrf_token.clone(),
            is_admin: user.is_admin(),
        }
    }
}

/// One event as a list row.
#[derive(Debug, Clone)]
pub struct EventRow {
    /// Event id.
    pub id: i64,
    /// Full group id.
    pub group: String,
    /// Group as shown (random ids shortened).
    pub group_short: String,
    /// Type label and colours.
    pub label: TypeLabel,
    /// Relative time.
    pub rel: String,
    /// Absolute time (hover).
    pub abs: String,
    /// ISO time for scripts.
    pub iso: String,
    /// Message.
    pub message: String,
    /// Initiator, or empty.
    pub initiator: String,
}

impl EventRow {
    /// The row of `e` at `now`.
    pub fn new(types: &EventTypes, e: &Event, now: DateTime<Utc>) -> Self {
        EventRow {
            id: e.id,
            group: e.group.clone(),
            group_short: format::short_group(&e.group).to_owned(),
            label: TypeLabel::new(types, &e.event_type),
            rel: format::relative(e.timestamp, now),
            abs: format::absolute(e.timestamp),
            iso: e.timestamp.to_rfc3339(),
            message: e.message.clone(),
            initiator: e.initiator.clone().unwrap_or_default(),
        }
    }
}

/// URL-encodes one query value.
pub fn enc(value: &str) -> String {
    serde_urlencoded::to_string([("", value)])
        .map(|s| s.trim_start_matches('=').to_owned())
        .unwrap_or_default()
}
