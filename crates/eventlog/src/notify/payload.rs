//! The message bodies: the generic webhook's JSON, Slack's and Teams' incoming-webhook formats,
//! and the webhook's signature.

use serde_json::{Value, json};

use super::config::ChannelKind;
use crate::event::Event;
use crate::event_type::EventTypes;

/// Events listed in one message at most; a larger digest says how many it holds.
pub const MAX_LISTED: usize = 20;

/// Header: Unix time (seconds) at which the message was signed.
pub const TIMESTAMP_HEADER: &str = "X-Eventlog-Timestamp";
/// Header: `v1=` and the lowercase hex HMAC-SHA256, keyed with the channel's secret, of the
/// timestamp header's value, a `.`, and the raw body.
pub const SIGNATURE_HEADER: &str = "X-Eventlog-Signature";
/// Header: the uuid of the (first) event of the message, the same on every retry.
pub const IDEMPOTENCY_HEADER: &str = "Idempotency-Key";

/// What one message is about: the events of one group for one channel, oldest first.
#[derive(Debug, Clone)]
pub struct Notice<'a> {
    /// The events (at least one); the first gives the idempotency key.
    pub events: &'a [Event],
    /// How many events the message stands for (may exceed `events.len()`).
    pub count: usize,
    /// The admin's base URL, without a trailing slash; empty: no links.
    pub admin_url: &'a str,
    /// The configured types (labels and colours).
    pub types: &'a EventTypes,
}

impl Notice<'_> {
    fn first(&self) -> Option<&Event> {
        self.events.first()
    }

    fn event_url(&self, e: &Event) -> Option<String> {
        (!self.admin_url.is_empty()).then(|| format!("{}/events/{}", self.admin_url, e.id))
    }

    fn group_url(&self, group: &str) -> Option<String> {
        (!self.admin_url.is_empty()).then(|| {
            let enc: String = form_urlencoded::byte_serialize(group.as_bytes()).collect();
            format!("{}/events?group={enc}", self.admin_url)
        })
    }

    /// The most severe type among the events (the message's colour and label).
    fn headline_type(&self) -> String {
        self.types
            .most_severe(self.events.iter().map(|e| e.event_type.as_str()))
            .or(self.first().map(|e| e.event_type.as_str()))
            .unwrap_or_default()
            .to_owned()
    }

    fn label(&self, type_name: &str) -> String {
        self.types.display(type_name).label
    }

    /// The type's colour as `#rrggbb` (its background colour if it has one), else grey.
    fn colour(&self, type_name: &str) -> String {
        let t = self.types.display(type_name);
        t.bgcolor
            .or(t.color)
            .and_then(|c| csscolorparser::parse(&c).ok())
            .map(|c| c.to_css_hex().to_string().chars().take(7).collect())
            .unwrap_or_else(|| "#9e9e9e".into())
    }

    fn title(&self) -> String {
        let label = self.label(&self.headline_type());
        match (self.count, self.first()) {
            (1, Some(e)) => format!("{label}: {}", one_line(&e.message, 200)),
            (n, Some(e)) => format!("{label}: {n} events in group {}", e.group),
            (_, None) => label,
        }
    }
}

/// The first line of `text`, cut to `max` characters.
fn one_line(text: &str, max: usize) -> String {
    let line = text.lines().next().unwrap_or_default();
    if line.chars().count() > max {
        format!("{}…", line.chars().take(max).collect::<String>())
    } else {
        line.to_owned()
    }
}

/// The body for a channel of `kind`.
pub fn body(kind: ChannelKind, notice: &Notice<'_>) -> Value {
    match kind {
        ChannelKind::Webhook => webhook(notice),
        ChannelKind::Slack => slack(notice),
        ChannelKind::Teams => teams(notice),
    }
}

fn event_json(notice: &Notice<'_>, e: &Event) -> Value {
    json!({
        "uuid": e.uuid,
        "id": e.id,
        "type": e.event_type,
        "type_label": notice.label(&e.event_type),
        "group": e.group,
        "timestamp": e.timestamp,
        "message": e.message,
        "initiator": e.initiator,
        "data": e.data,
        "url": notice.event_url(e),
    })
}

/// The generic webhook: the first event's fields at the top, the group, and every listed
/// event of a digest under `events`.
fn webhook(notice: &Notice<'_>) -> Value {
    let Some(first) = notice.first() else {
        return json!({});
    };
    let mut body = event_json(notice, first);
    if let Value::Object(map) = &mut body {
        map.insert(
            "group".into(),
            json!({"id": first.group, "url": notice.group_url(&first.group)}),
        );
        map.insert("count".into(), json!(notice.count));
        map.insert(
            "events".into(),
            Value::Array(
                notice
                    .events
                    .iter()
                    .map(|e| event_json(notice, e))
                    .collect(),
            ),
        );
    }
    body
}

/// Slack's mrkdwn: `&`, `<` and `>` are its control characters.
fn slack_escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

/// A Slack incoming-webhook message: `text` (the notification's fallback) and one attachment
/// in the type's colour holding Block Kit blocks.
fn slack(notice: &Notice<'_>) -> Value {
    let headline = notice.headline_type();
    let mut blocks = vec![json!({
        "type": "section",
        "text": {"type": "mrkdwn", "text": format!("*{}*", slack_escape(&notice.title()))},
    })];
    for e in notice.events.iter().take(MAX_LISTED) {
        let mut line = format!(
            "*{}* {}",
            slack_escape(&notice.label(&e.event_type)),
            slack_escape(&one_line(&e.message, 300))
        );
        if let Some(url) = notice.event_url(e) {
            line.push_str(&format!(" <{url}|open>"));
        }
        blocks.push(json!({"type": "section", "text": {"type": "mrkdwn", "text": line}}));
    }
    let mut context = Vec::new();
    if let Some(first) = notice.first() {
        if let Some(i) = &first.initiator {
            context.push(format!("Initiator: {}", slack_escape(i)));
        }
        context.push(match notice.group_url(&first.group) {
            Some(url) => format!("Group: <{url}|{}>", slack_escape(&first.group)),
            None => format!("Group: {}", slack_escape(&first.group)),
        });
        if notice.count > notice.events.len().min(MAX_LISTED) {
            context.push(format!(
                "{} more not listed",
                notice.count - notice.events.len().min(MAX_LISTED)
            ));
        }
    }
    blocks.push(json!({
        "type": "context",
        "elements": context.iter().map(|t| json!({"type": "mrkdwn", "text": t})).collect::<Vec<_>>(),
    }));
    json!({
        "text": notice.title(),
        "attachments": [{
            "color": notice.colour(&headline),
            "fallback": notice.title(),
            "blocks": blocks,
        }],
    })
}

/// Adaptive Cards name colours rather than take them: the nearest of theirs to `#rrggbb`.
fn card_colour(hex: &str) -> &'static str {
    let c = csscolorparser::parse(hex).unwrap_or_default();
    let (r, g, b) = (c.r, c.g, c.b);
    if r > 0.5 && g < 0.35 && b < 0.35 {
        "Attention"
    } else if r > 0.6 && g > 0.4 && b < 0.3 {
        "Warning"
    } else if g > 0.45 && r < 0.4 && b < 0.5 {
        "Good"
    } else {
        "Default"
    }
}

/// A Teams message holding one Adaptive Card (schema 1.4): the label in the type's colour,
/// the messages, the initiator and group as facts, and a button to the group's timeline.
fn teams(notice: &Notice<'_>) -> Value {
    let headline = notice.headline_type();
    let colour = card_colour(&notice.colour(&headline));
    let mut body = vec![json!({
        "type": "TextBlock",
        "text": notice.title(),
        "weight": "Bolder",
        "size": "Medium",
        "color": colour,
        "wrap": true,
    })];
    for e in notice.events.iter().take(MAX_LISTED) {
        body.push(json!({
            "type": "TextBlock",
            "text": format!("**{}** {}", notice.label(&e.event_type), one_line(&e.message, 300)),
            "wrap": true,
        }));
    }
    let mut facts = Vec::new();
    let mut actions = Vec::new();
    if let Some(first) = notice.first() {
        if let Some(i) = &first.initiator {
            facts.push(json!({"title": "Initiator", "value": i}));
        }
        facts.push(json!({"title": "Group", "value": first.group}));
        facts.push(json!({"title": "Events", "value": notice.count.to_string()}));
        if let Some(url) = notice.group_url(&first.group) {
            actions.push(
                json!({"type": "Action.OpenUrl", "title": "Open the group's timeline", "url": url}),
            );
        }
    }
    body.push(json!({"type": "FactSet", "facts": facts}));
    json!({
        "type": "message",
        "attachments": [{
            "contentType": "application/vnd.microsoft.card.adaptive",
            "contentUrl": null,
            "content": {
                "$schema": "http://adaptivecards.io/schemas/adaptive-card.json",
                "type": "AdaptiveCard",
                "version": "1.4",
                "body": body,
                "actions": actions,
            },
        }],
    })
}

/// `v1=HEX`: the signature of `body` sent at `timestamp` (Unix seconds) under `secret`.
pub fn signature(secret: &[u8], timestamp: i64, body: &[u8]) -> String {
    use hmac::{KeyInit as _, Mac as _};
    // HMAC takes keys of any length: new_from_slice cannot fail for it.
    let mut mac = match hmac::Hmac::<sha2_hmac::Sha256>::new_from_slice(secret) {
        Ok(mac) => mac,
        Err(_) => return String::new(),
    };
    mac.update(timestamp.to_string().as_bytes());
    mac.update(b".");
    mac.update(body);
    let tag = mac.finalize().into_bytes();
    let hex: String = tag.iter().map(|b| format!("{b:02x}")).collect();
    format!("v1={hex}")
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn signature_matches_rfc_4231_hmac_sha256() {
        // The HMAC itself against RFC 4231 test case 2; the signature is that HMAC over
        // "TIMESTAMP.BODY", so "1" and "{}" give the HMAC of "1.{}".
        use hmac::{KeyInit as _, Mac as _};
        let mut mac = hmac::Hmac::<sha2_hmac::Sha256>::new_from_slice(b"Jefe").unwrap();
        mac.update(b"what do ya want for nothing?");
        let hex: String = mac
            .finalize()
            .into_bytes()
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        assert_eq!(
            hex,
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
        let a = signature(b"k", 1, b"{}");
        let mut mac = hmac::Hmac::<sha2_hmac::Sha256>::new_from_slice(b"k").unwrap();
        mac.update(b"1.{}");
        let want: String = mac
            .finalize()
            .into_bytes()
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        assert_eq!(a, format!("v1={want}"));
        assert_ne!(a, signature(b"k", 2, b"{}"));
        assert_ne!(a, signature(b"k", 1, b"{ }"));
    }

    #[test]
    fn adaptive_card_colours_follow_the_type() {
        assert_eq!(card_colour("#c40000"), "Attention");
        assert_eq!(card_colour("#ff9800"), "Warning");
        assert_eq!(card_colour("#2e7d32"), "Good");
        assert_eq!(card_colour("#9e9e9e"), "Default");
    }
}
