//! The mail for one event: sender, subject, a plain-text and an HTML part.

use lettre::Message;
use lettre::message::{Mailbox, MultiPart};

use super::config::MailConfig;
use super::template::{Template, escape_html};
use crate::error::Error;
use crate::event::Event;
use crate::event_type::EventTypes;

/// Builds the mail for one event from the configuration.
#[derive(Debug, Clone)]
pub struct MailRenderer {
    from: Mailbox,
    subject: Template,
    body: Template,
    types: EventTypes,
}

impl MailRenderer {
    /// Checks the templates and sender of `config`.
    pub fn new(config: &MailConfig, types: EventTypes) -> Result<Self, Error> {
        Ok(MailRenderer {
            from: config.sender()?,
            subject: Template::parse(&config.subject, "mail.subject")?,
            body: Template::parse(&config.body, "mail.body")?,
            types,
        })
    }

    /// The subject line (control characters such as line breaks become spaces).
    pub fn subject(&self, event: &Event) -> String {
        self.subject
            .render_text(event, &self.types)
            .chars()
            .map(|c| if c.is_control() { ' ' } else { c })
            .collect()
    }

    /// The plain-text part.
    pub fn text(&self, event: &Event) -> String {
        self.body.render_text(event, &self.types)
    }

    /// The HTML part: a whole document around the escaped body.
    pub fn html(&self, event: &Event) -> String {
        format!(
            "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>{}</title></head>\n\
             <body style=\"font-family: sans-serif\">\n{}\n</body></html>\n",
            escape_html(&self.subject(event)),
            self.body.render_html(event, &self.types)
        )
    }

    /// The mail for `event` to `to`, with the Message-ID of [`message_id`].
    pub fn message(&self, event: &Event, to: &str) -> Result<Message, String> {
        let message_id = message_id(event.uuid, to, self.from.email.domain());
        let to: Mailbox = to
            .parse()
            .map_err(|e| format!("recipient {to:?} is not an e-mail address: {e}"))?;
        Message::builder()
            .message_id(Some(message_id))
            .from(self.from.clone())
            .to(to)
            .subject(self.subject(event))
            .multipart(MultiPart::alternative_plain_html(
                self.text(event),
                self.html(event),
            ))
            .map_err(|e| format!("cannot build the mail: {e}"))
    }
}

/// The Message-ID of the mail about event `uuid` to `recipient`:
/// `<UUID.HASH@DOMAIN>`, where HASH is the first 16 hex digits of the SHA-256 of the
/// recipient in lower case and DOMAIN the sender's domain. The same event and recipient always
/// give the same id, so a mail sent twice (a crash after the server accepted it and before the
/// outbox recorded that) is one message to the receiving side.
pub fn message_id(uuid: uuid::Uuid, recipient: &str, domain: &str) -> String {
    use sha2::Digest as _;
    let digest = sha2::Sha256::digest(recipient.trim().to_lowercase().as_bytes());
    let hash: String = digest[..8].iter().map(|b| format!("{b:02x}")).collect();
    format!("<{uuid}.{hash}@{domain}>")
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn event() -> Event {
        Event {
            id: 1,
            uuid: uuid::Uuid::nil(),
            event_type: "error".into(),
            group: "g".into(),
            timestamp: chrono::Utc
                .with_ymd_and_hms(2026, 11, 27, 1, 2, 3)
                .single()
                .expect("valid date"),
            message: "Disk <full> & \"hot\"".into(),
            data: Some(serde_json::json!({"k": "<b>"})),
            initiator: Some("ops's <script>".into()),
            send_mail: Some("a@example.com".into()),
        }
    }

    #[test]
    fn message_ids_depend_on_event_and_recipient_only() {
        let a = uuid::Uuid::now_v7();
        let b = uuid::Uuid::now_v7();
        let id = message_id(a, "Ops@Example.com", "example.com");
        assert!(id.starts_with(&format!("<{a}.")), "{id}");
        assert!(id.ends_with("@example.com>"), "{id}");
        assert_eq!(id, message_id(a, "ops@example.com", "example.com"));
        assert_ne!(id, message_id(a, "dev@example.com", "example.com"));
        assert_ne!(id, message_id(b, "ops@example.com", "example.com"));
    }

    /// A renderer of the default configuration changed by `change`, with the default types.
    fn renderer(change: impl FnOnce(&mut MailConfig)) -> MailRenderer {
        let mut cfg = MailConfig::default();
        change(&mut cfg);
        MailRenderer::new(&cfg, EventTypes::default()).unwrap()
    }

    #[test]
    fn default_templates_render_every_placeholder() {
        let r = renderer(|_| {});
        assert_eq!(r.subject(&event()), "Event Log: Error");
        assert_eq!(
            r.text(&event()),
            "The Event was Error on 2026-11-27 01:02:03 UTC\n\nDisk <full> & \"hot\"\n\n-- ops's <script>"
        );
    }

    #[test]
    fn html_escapes_every_event_value() {
        let r = renderer(|c| c.body = "{{x}} {message}\n{data}\n{initiator}".into());
        let html = r.html(&event());
        assert!(
            html.contains("{x} Disk &lt;full&gt; &amp; &quot;hot&quot;<br>\n"),
            "{html}"
        );
        assert!(
            html.contains("&quot;k&quot;: &quot;&lt;b&gt;&quot;"),
            "{html}"
        );
        assert!(html.contains("ops&#x27;s &lt;script&gt;"), "{html}");
        assert!(
            !html.contains("<script>") && !html.contains("<b>"),
            "{html}"
        );
        assert_eq!(
            r.text(&event()).lines().next(),
            Some("{x} Disk <full> & \"hot\"")
        );
    }

    #[test]
    fn missing_values_render_empty_and_unknown_types_use_legacy_label() {
        let mut e = event();
        e.data = None;
        e.initiator = None;
        e.event_type = "old_kind".into();
        let r = renderer(|c| c.body = "[{type}][{data}][{initiator}]".into());
        assert_eq!(r.text(&e), "[Old_Kind][][]");
    }

    #[test]
    fn subject_line_breaks_become_spaces() {
        let mut e = event();
        e.message = "a\r\nBcc: x@y".into();
        let r = renderer(|c| c.subject = "{message}".into());
        assert_eq!(r.subject(&e), "a  Bcc: x@y");
    }
}
