//! What renders and posts one message: the configured channels and the HTTP client, shared
//! by the sending loop (`worker`) and the admin's "send a test" (`sender`).

use std::collections::HashMap;

use chrono::Utc;

use super::config::ChannelConfig;
use super::http::{Answer, Poster};
use super::payload::{self, IDEMPOTENCY_HEADER, Notice};
use crate::event::Event;
use crate::event_type::EventTypes;

/// A configured channel, its URL parsed.
pub(super) struct Channel {
    pub(super) config: ChannelConfig,
    pub(super) url: url::Url,
}

/// What renders and posts messages: shared by the sender's loop and [`NotifySender::send_test`].
pub(super) struct Dispatcher {
    pub(super) channels: HashMap<String, Channel>,
    pub(super) poster: Poster,
    pub(super) admin_url: String,
    pub(super) types: EventTypes,
}

impl Dispatcher {
    /// POSTs the message about `events` (`count` in all) to `channel`.
    pub(super) async fn post(
        &self,
        channel: &Channel,
        events: &[Event],
        count: usize,
    ) -> Result<Answer, String> {
        let notice = Notice {
            events,
            count,
            admin_url: &self.admin_url,
            types: &self.types,
        };
        let body = payload::body(channel.config.kind, &notice);
        let body = serde_json::to_vec(&body).map_err(|e| format!("cannot encode: {e}"))?;
        let mut headers = Vec::new();
        if let Some(first) = events.first() {
            headers.push((IDEMPOTENCY_HEADER, first.uuid.to_string()));
        }
        if let Some(secret) = &channel.config.secret {
            let now = Utc::now().timestamp();
            headers.push((payload::TIMESTAMP_HEADER, now.to_string()));
            headers.push((
                payload::SIGNATURE_HEADER,
                payload::signature(secret.as_bytes(), now, &body),
            ));
        }
        self.poster.post(&channel.url, &headers, body).await
    }
}
