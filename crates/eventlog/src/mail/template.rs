//! Subject and body templates: text with `{placeholder}`s, filled in from one event as plain
//! text or as escaped HTML.

use crate::error::{ConfigError, Error};
use crate::event::Event;
use crate::event_type::EventTypes;

/// Default subject template.
pub const DEFAULT_SUBJECT: &str = "Event Log: {type}";
/// Default body template.
pub const DEFAULT_BODY: &str = "The Event was {type} on {date}\n\n{message}\n\n-- {initiator}";
/// The placeholders a template may use.
pub const PLACEHOLDERS: [&str; 5] = ["type", "date", "message", "data", "initiator"];

/// One value a template can show.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Field {
    Type,
    Date,
    Message,
    Data,
    Initiator,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Segment {
    Text(String),
    Field(Field),
}

/// A parsed subject or body template: text with `{placeholder}`s.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Template {
    segments: Vec<Segment>,
}

impl Template {
    /// Parses `source`; `key` names it in errors (`mail.subject`). Unknown placeholders and stray
    /// `{` are rejected.
    pub fn parse(source: &str, key: &str) -> Result<Self, Error> {
        let mut segments = Vec::new();
        let mut text = String::new();
        let mut rest = source;
        while let Some(pos) = rest.find(['{', '}']) {
            text.push_str(&rest[..pos]);
            let tail = &rest[pos..];
            if tail.starts_with("{{") || tail.starts_with("}}") {
                text.push_str(&tail[..1]);
                rest = &tail[2..];
            } else if let Some(after) = tail.strip_prefix('}') {
                text.push('}');
                rest = after;
            } else {
                let Some(end) = tail.find('}') else {
                    return Err(ConfigError::Template {
                        key: key.to_owned(),
                        message: format!("unclosed '{{' in {key}; write {{{{ for a literal brace"),
                    }
                    .into());
                };
                let name = &tail[1..end];
                let field = match name {
                    "type" => Field::Type,
                    "date" => Field::Date,
                    "message" => Field::Message,
                    "data" => Field::Data,
                    "initiator" => Field::Initiator,
                    _ => {
                        let known = PLACEHOLDERS.map(|p| format!("{{{p}}}")).join(", ");
                        return Err(ConfigError::Template {
                            key: key.to_owned(),
                            message: format!(
                                "unknown placeholder {{{name}}} in {key}; known: {known}"
                            ),
                        }
                        .into());
                    }
                };
                if !text.is_empty() {
                    segments.push(Segment::Text(std::mem::take(&mut text)));
                }
                segments.push(Segment::Field(field));
                rest = &tail[end + 1..];
            }
        }
        text.push_str(rest);
        if !text.is_empty() {
            segments.push(Segment::Text(text));
        }
        Ok(Template { segments })
    }

    /// The template filled in as plain text.
    pub fn render_text(&self, event: &Event, types: &EventTypes) -> String {
        let mut out = String::new();
        for seg in &self.segments {
            match seg {
                Segment::Text(t) => out.push_str(t),
                Segment::Field(f) => out.push_str(&field_value(*f, event, types)),
            }
        }
        out
    }

    /// The template filled in as an HTML fragment: everything escaped, line breaks as `<br>`,
    /// `{data}` as a `<pre>` block.
    pub fn render_html(&self, event: &Event, types: &EventTypes) -> String {
        let mut out = String::new();
        for seg in &self.segments {
            match seg {
                Segment::Text(t) => push_html_text(&mut out, t),
                Segment::Field(Field::Data) => {
                    let data = field_value(Field::Data, event, types);
                    if !data.is_empty() {
                        out.push_str("<pre>");
                        out.push_str(&escape_html(&data));
                        out.push_str("</pre>");
                    }
                }
                Segment::Field(f) => push_html_text(&mut out, &field_value(*f, event, types)),
            }
        }
        out
    }
}

fn field_value(field: Field, event: &Event, types: &EventTypes) -> String {
    match field {
        Field::Type => types.display(&event.event_type).label,
        Field::Date => event.timestamp.format("%Y-%m-%d %H:%M:%S UTC").to_string(),
        Field::Message => event.message.clone(),
        Field::Data => event
            .data
            .as_ref()
            .map(|d| serde_json::to_string_pretty(d).unwrap_or_else(|_| d.to_string()))
            .unwrap_or_default(),
        Field::Initiator => event.initiator.clone().unwrap_or_default(),
    }
}

fn push_html_text(out: &mut String, text: &str) {
    let mut lines = text.split('\n');
    if let Some(first) = lines.next() {
        out.push_str(&escape_html(first));
    }
    for line in lines {
        out.push_str("<br>\n");
        out.push_str(&escape_html(line));
    }
}

/// Escapes `& < > " '` (and `/`) for HTML text and quoted attribute values, with the
/// `html-escape` crate.
pub fn escape_html(s: &str) -> String {
    html_escape::encode_safe(s).into_owned()
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn template_errors_name_the_problem() {
        let err = Template::parse("Hi {foo}", "mail.subject").unwrap_err();
        assert_eq!(
            err.to_string(),
            "configuration error: unknown placeholder {foo} in mail.subject; known: {type}, {date}, {message}, {data}, {initiator}"
        );
        let err = Template::parse("Hi {type", "mail.body").unwrap_err();
        assert!(
            err.to_string().contains("unclosed '{' in mail.body"),
            "{err}"
        );
    }
}
