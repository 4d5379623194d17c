//! Event types: their names, labels and colours, and the configured, ordered list of them.

use serde::{Deserialize, Serialize};

use crate::error::ValidationError;

/// Checks an event type name against `^[A-Za-z_][A-Za-z0-9_]{0,49}$`.
pub fn validate_type_name(name: &str) -> Result<(), ValidationError> {
    // By hand rather than with a regex: this runs on every log call.
    let bytes = name.as_bytes();
    let valid = matches!(bytes.first(), Some(b) if b.is_ascii_alphabetic() || *b == b'_')
        && bytes.len() <= 50
        && bytes
            .iter()
            .all(|b| b.is_ascii_alphanumeric() || *b == b'_');
    if valid {
        Ok(())
    } else {
        Err(ValidationError::TypeName {
            name: crate::error::shorten(name),
        })
    }
}

/// Longest colour value accepted; real CSS colours are far shorter.
const MAX_COLOR_LEN: usize = 100;

/// Checks a colour with a real CSS colour parser (names, hex, and the colour functions), so
/// a typo like `notacolor` is refused instead of rendering as no colour at all.
fn validate_color(type_name: &str, value: &str) -> Result<(), ValidationError> {
    let reject = |reason: &str| ValidationError::Color {
        type_name: type_name.to_owned(),
        value: value.to_owned(),
        reason: reason.to_owned(),
    };
    if value.len() > MAX_COLOR_LEN {
        return Err(reject("longer than 100 characters"));
    }
    // The value is written into style attributes: besides parsing, allow only the characters
    // CSS colours are made of, so nothing the parser tolerates can end a declaration.
    if !value
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || "#(),.%/+- ".contains(c))
    {
        return Err(reject("unexpected character"));
    }
    // The parser also knows hsv(), which browsers do not.
    if value.trim_start().to_ascii_lowercase().starts_with("hsv") {
        return Err(reject("hsv() is not CSS"));
    }
    csscolorparser::parse(value).map_err(|e| reject(&e.to_string()))?;
    Ok(())
}

/// One kind of event: `info`, `warning`, `mail_sent` …
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EventType {
    /// Machine name, matching `^[A-Za-z_][A-Za-z0-9_]{0,49}$`.
    pub name: String,
    /// Human label shown in the admin and in mails.
    pub label: String,
    /// CSS text colour, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub color: Option<String>,
    /// CSS background colour, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bgcolor: Option<String>,
}

impl EventType {
    /// A type with a label and no colours.
    pub fn new(name: impl Into<String>, label: impl Into<String>) -> Self {
        EventType {
            name: name.into(),
            label: label.into(),
            color: None,
            bgcolor: None,
        }
    }

    /// Sets the text and background colours.
    pub fn with_colors(mut self, color: Option<&str>, bgcolor: Option<&str>) -> Self {
        self.color = color.map(str::to_owned);
        self.bgcolor = bgcolor.map(str::to_owned);
        self
    }

    /// The stand-in for a stored type that is no longer configured: its name in title case
    /// (`legacy_event` → `Legacy_Event`) as label, and no colours.
    pub fn legacy(name: &str) -> Self {
        EventType::new(name, title_case(name))
    }

    /// Checks the name and colours.
    pub fn validate(&self) -> Result<(), ValidationError> {
        validate_type_name(&self.name)?;
        for color in [&self.color, &self.bgcolor].into_iter().flatten() {
            validate_color(&self.name, color)?;
        }
        Ok(())
    }
}

/// Upper-cases the first letter of every run of letters/digits separated by `_` or spaces,
/// lower-cases the rest, keeping the separators (`legacy_event` → `Legacy_Event`).
pub fn title_case(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    let mut start = true;
    for c in name.chars() {
        if c.is_alphanumeric() {
            if start {
                out.extend(c.to_uppercase());
            } else {
                out.extend(c.to_lowercase());
            }
            start = false;
        } else {
            out.push(c);
            start = true;
        }
    }
    out
}

/// The red of the default `error` text and `critical` background.
const DEFAULT_RED: &str = "#c40000";

/// The configured event types, ordered from least to most severe.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EventTypes {
    types: Vec<EventType>,
}

impl Default for EventTypes {
    /// `info`, `warning`, `error` (red) and `critical` (white on red). The red is `#c40000`,
    /// dark enough for a contrast of 6.3:1 with white (WCAG AA asks for 4.5:1; pure `red`
    /// has 4.0:1).
    fn default() -> Self {
        EventTypes {
            types: vec![
                EventType::new("info", "Info"),
                EventType::new("warning", "Warning"),
                EventType::new("error", "Error").with_colors(Some(DEFAULT_RED), None),
                EventType::new("critical", "Critical")
                    .with_colors(Some("white"), Some(DEFAULT_RED)),
            ],
        }
    }
}

impl EventTypes {
    /// A list of types, ordered from least to most severe. Fails on an invalid name or colour,
    /// a repeated name, or an empty list.
    pub fn new(types: Vec<EventType>) -> Result<Self, ValidationError> {
        if types.is_empty() {
            return Err(ValidationError::NoTypes);
        }
        for (i, t) in types.iter().enumerate() {
            t.validate()?;
            if types[..i].iter().any(|other| other.name == t.name) {
                return Err(ValidationError::DuplicateType {
                    name: t.name.clone(),
                });
            }
        }
        Ok(EventTypes { types })
    }

    /// The defaults, with `extra` appended; an extra type named like a default replaces it in
    /// place (so its severity rank stays).
    pub fn defaults_with(extra: Vec<EventType>) -> Result<Self, ValidationError> {
        let mut types = EventTypes::default().types;
        let mut appended = Vec::new();
        for t in extra {
            match types.iter_mut().find(|d| d.name == t.name) {
                Some(slot) => *slot = t,
                None => appended.push(t),
            }
        }
        types.extend(appended);
        EventTypes::new(types)
    }

    /// The configured type of that name.
    pub fn get(&self, name: &str) -> Option<&EventType> {
        self.types.iter().find(|t| t.name == name)
    }

    /// The type of that name if it is configured, else an error that says whether the name is
    /// invalid or just not configured.
    pub fn require(&self, name: &str) -> Result<&EventType, ValidationError> {
        validate_type_name(name)?;
        self.get(name).ok_or_else(|| ValidationError::UnknownType {
            name: name.to_owned(),
            configured: self.names().collect::<Vec<_>>().join(", "),
        })
    }

    /// How to show a stored type: the configured one, or its legacy stand-in.
    pub fn display(&self, name: &str) -> EventType {
        self.get(name)
            .cloned()
            .unwrap_or_else(|| EventType::legacy(name))
    }

    /// Severity rank: the position in the list; unknown (legacy) types rank below all.
    pub fn severity(&self, name: &str) -> Option<usize> {
        self.types.iter().position(|t| t.name == name)
    }

    /// Of the given type names, the most severe; legacy names only when nothing else is there.
    pub fn most_severe<'a>(&self, names: impl IntoIterator<Item = &'a str>) -> Option<&'a str> {
        names
            .into_iter()
            .max_by_key(|n| self.severity(n).map_or(0, |s| s + 1))
    }

    /// The configured names, least severe first.
    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.types.iter().map(|t| t.name.as_str())
    }

    /// The configured types, least severe first.
    pub fn iter(&self) -> impl Iterator<Item = &EventType> {
        self.types.iter()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn type_names_follow_the_pattern() {
        for ok in ["info", "_x", "A1_b", &"a".repeat(50)] {
            assert!(validate_type_name(ok).is_ok(), "{ok}");
        }
        for bad in ["", "1abc", "with-dash", "space here", "é", &"a".repeat(51)] {
            let err = validate_type_name(bad).unwrap_err();
            assert!(
                err.to_string().contains("^[A-Za-z_][A-Za-z0-9_]{0,49}$"),
                "{err}"
            );
            assert!(err.to_string().contains(&format!("{bad:?}")));
        }
    }

    #[test]
    fn unknown_type_names_the_type_and_the_configured_ones() {
        let types = EventTypes::default();
        let err = types.require("mail_sent").unwrap_err();
        assert_eq!(
            err.to_string(),
            "event type \"mail_sent\" is not configured; configured types are: info, warning, error, critical"
        );
        assert!(matches!(
            types.require("bad-name"),
            Err(ValidationError::TypeName { .. })
        ));
    }

    #[test]
    fn defaults_are_ordered_and_coloured() {
        let types = EventTypes::default();
        assert_eq!(
            types.names().collect::<Vec<_>>(),
            ["info", "warning", "error", "critical"]
        );
        let critical = types.get("critical").unwrap();
        assert_eq!(critical.color.as_deref(), Some("white"));
        assert_eq!(critical.bgcolor.as_deref(), Some("#c40000"));
        assert_eq!(
            types.get("error").unwrap().color.as_deref(),
            Some("#c40000")
        );
    }

    #[test]
    fn legacy_types_display_in_title_case() {
        let t = EventTypes::default().display("legacy_event");
        assert_eq!(t.label, "Legacy_Event");
        assert_eq!(t.color, None);
        assert_eq!(title_case("MAIL run"), "Mail Run");
    }

    #[test]
    fn extending_keeps_rank_and_replaces_by_name() {
        let types = EventTypes::defaults_with(vec![
            EventType::new("info", "Information"),
            EventType::new("mail_sent", "Mail sent").with_colors(Some("#fff"), Some("green")),
        ])
        .unwrap();
        assert_eq!(types.get("info").unwrap().label, "Information");
        assert_eq!(types.severity("info"), Some(0));
        assert_eq!(types.severity("mail_sent"), Some(4));
        assert_eq!(
            types.most_severe(["legacy", "info", "warning"]),
            Some("warning")
        );
    }

    #[test]
    fn bad_lists_are_rejected() {
        assert_eq!(
            EventTypes::new(vec![]).unwrap_err(),
            ValidationError::NoTypes
        );
        let dup = EventTypes::new(vec![EventType::new("a", "A"), EventType::new("a", "B")]);
        assert!(dup.unwrap_err().to_string().contains("configured twice"));
        let css = EventType::new("x", "X").with_colors(Some("red;}</style>"), None);
        let err = EventTypes::new(vec![css]).unwrap_err();
        assert!(
            err.to_string()
                .contains("colour \"red;}</style>\" of event type \"x\""),
            "{err}"
        );
    }

    #[test]
    fn colours_are_checked_by_a_css_parser() {
        for ok in [
            "red",
            "RebeccaPurple",
            "transparent",
            "#fff",
            "#ff000080",
            "rgb(255, 0, 0)",
            "rgb(255 0 0 / 50%)",
            "hsl(120deg 100% 25%)",
            "oklch(0.7 0.1 200)",
        ] {
            let t = EventType::new("x", "X").with_colors(Some(ok), Some(ok));
            assert!(t.validate().is_ok(), "{ok} should be accepted");
        }
        for bad in ["notacolor", "#ggg", "rgb(1,2)", "hsv(0,100%,50%)", ""] {
            let t = EventType::new("x", "X").with_colors(None, Some(bad));
            let err = t.validate().unwrap_err().to_string();
            assert!(
                err.starts_with(&format!(
                    "colour {bad:?} of event type \"x\" is not a CSS colour"
                )),
                "{err}"
            );
        }
        let err = EventTypes::new(vec![
            EventType::new("x", "X").with_colors(Some("notacolor"), None),
        ])
        .unwrap_err();
        assert_eq!(
            err.to_string(),
            "colour \"notacolor\" of event type \"x\" is not a CSS colour (invalid unknown format): \
             use a colour name like red, #rgb/#rrggbb, rgb(), hsl(), hwb(), lab(), lch(), oklab() or oklch()"
        );
    }
}
