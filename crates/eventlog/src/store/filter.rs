//! What to select: the admin list's filters, shared by every backend.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::unicode61::is_separator;
use crate::event::Event;

/// Sort order of an event listing, by (timestamp, id).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Order {
    /// Newest first (the default).
    #[default]
    Desc,
    /// Oldest first.
    Asc,
}

/// A condition on a value inside `data`: the JSON value at `path` (object keys) equals `value`
/// when written as text (strings without quotes, numbers and booleans as JSON writes them).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DataMatch {
    /// Object keys from the root, e.g. `["customer", "email"]` for `data.customer.email`.
    pub path: Vec<String>,
    /// The value to compare with.
    pub value: String,
}

/// Which events to select. Empty fields select everything; set fields combine with AND.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct EventFilter {
    /// Any of these types (empty: all).
    #[serde(default)]
    pub types: Vec<String>,
    /// At or after this time.
    pub since: Option<DateTime<Utc>>,
    /// Before this time.
    pub until: Option<DateTime<Utc>>,
    /// Search words: an event matches when every word of this text (a run of letters, digits
    /// and marks) starts a word of its message or initiator, or every word starts a word of its
    /// group id; case-insensitive. See [`search_words`].
    pub text: Option<String>,
    /// Exactly this group.
    pub group: Option<String>,
    /// Exactly this initiator.
    pub initiator: Option<String>,
    /// Conditions on values inside `data`.
    #[serde(default)]
    pub data: Vec<DataMatch>,
}

impl EventFilter {
    /// Whether this filter selects by type and time only: then the number of its events per
    /// hour is kept, and a chart of hour-wide (or wider) buckets is read from those counts.
    /// A search, a group, an initiator or a data condition needs the events themselves.
    pub fn by_type_and_time(&self) -> bool {
        self.text.as_deref().is_none_or(str::is_empty)
            && self.group.is_none()
            && self.initiator.is_none()
            && self.data.is_empty()
    }

    /// Whether `event` is one this filter selects, decided in memory: the same answer as the
    /// stores' queries give (the live tail reads new events once and filters them for each
    /// viewer). Search words match as the search indexes do: each word of the search must
    /// start a word of the message or initiator, or each must start a word of the group.
    /// A `data` condition compares the value at that path of objects (strings without
    /// quotes, numbers and booleans as JSON writes them; JSON `null` never matches).
    pub fn matches(&self, event: &Event) -> bool {
        if !self.types.is_empty() && !self.types.contains(&event.event_type) {
            return false;
        }
        if self.since.is_some_and(|since| event.timestamp < since)
            || self.until.is_some_and(|until| event.timestamp >= until)
        {
            return false;
        }
        if self.group.as_ref().is_some_and(|g| *g != event.group)
            || self
                .initiator
                .as_ref()
                .is_some_and(|i| Some(i) != event.initiator.as_ref())
        {
            return false;
        }
        if let Some(text) = self.text.as_deref().filter(|t| !t.is_empty())
            && !text_matches(text, event)
        {
            return false;
        }
        self.data
            .iter()
            .all(|m| data_text(event.data.as_ref(), &m.path).is_some_and(|v| v == m.value))
    }
}

/// Whether every search word starts a word of the message or initiator, or every one starts
/// a word of the group.
fn text_matches(text: &str, event: &Event) -> bool {
    let wanted = search_words(text);
    if wanted.is_empty() {
        return false;
    }
    let all_start = |words: Vec<String>| {
        wanted
            .iter()
            .all(|w| words.iter().any(|have| have.starts_with(w.as_str())))
    };
    let mut body: Vec<String> = words(&event.message).collect();
    if let Some(i) = &event.initiator {
        body.extend(words(i));
    }
    all_start(body) || all_start(words(&event.group).collect())
}

/// The value at `path` (object keys) as the stores compare it: strings without quotes,
/// other scalars as JSON writes them, arrays and objects as compact JSON; `None` for JSON
/// `null` or a missing path.
fn data_text(data: Option<&serde_json::Value>, path: &[String]) -> Option<String> {
    let mut v = data?;
    for key in path {
        v = v.as_object()?.get(key)?;
    }
    match v {
        serde_json::Value::Null => None,
        serde_json::Value::String(s) => Some(s.clone()),
        other => Some(other.to_string()),
    }
}

/// Which groups to select on the groups page.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct GroupFilter {
    /// Groups containing at least one event of any of these types (empty: all).
    #[serde(default)]
    pub types: Vec<String>,
    /// Groups active at or after this time (last event ≥ since).
    pub since: Option<DateTime<Utc>>,
    /// Groups that started before this time (first event < until).
    pub until: Option<DateTime<Utc>>,
    /// Case-insensitive substring of the group id.
    pub text: Option<String>,
}

/// Most words of a search that are looked up; the rest are ignored (bounds the cost).
pub const MAX_SEARCH_WORDS: usize = 16;

/// From this many matching events on, a search listing (on either backend) walks its index
/// newest first and tests each row against the search instead of fetching every match and
/// sorting it: at 3 % of 1M events that is ~3,300 index entries for a page of 100, instead of
/// 30,000 rows.
pub(crate) const FREQUENT_MATCHES: i64 = 5_000;

/// The words of a search text as the search indexes see them: runs of characters that are
/// not separators, lowercased. At most [`MAX_SEARCH_WORDS`].
///
/// Separators are exactly those of SQLite's `unicode61` tokenizer (its own, Unicode 6.1-era
/// tables: punctuation, symbols, spaces, marks and controls separate; letters, digits,
/// private-use and then-unassigned code points do not), so that each word is one token to the
/// index. A word split differently there became a phrase, which an index without positions
/// refuses (a 500 for `q=asc\u{19b0}\u{2d2d}`: U+19B0 is a letter today, a mark then).
pub fn search_words(text: &str) -> Vec<String> {
    words(text).take(MAX_SEARCH_WORDS).collect()
}

/// Every word of a text as the search indexes see it: runs of non-separators, lowercased.
/// Lowercasing can add a separator (`İ` becomes `i` and a combining dot), so the lowercased
/// word is split again: no word ever holds a separator.
fn words(text: &str) -> impl Iterator<Item = String> + '_ {
    text.split(is_separator)
        .filter(|w| !w.is_empty())
        .flat_map(|w| {
            let lower = w.to_lowercase();
            if lower.contains(is_separator) {
                lower
                    .split(is_separator)
                    .filter(|w| !w.is_empty())
                    .map(str::to_owned)
                    .collect()
            } else {
                vec![lower]
            }
        })
}

/// Escapes `%`, `_` and `\` for a `LIKE … ESCAPE '\'` pattern and wraps it in `%`.
pub(crate) fn like_pattern(text: &str) -> String {
    let mut p = String::with_capacity(text.len() + 2);
    p.push('%');
    for c in text.chars() {
        if matches!(c, '%' | '_' | '\\') {
            p.push('\\');
        }
        p.push(c);
    }
    p.push('%');
    p
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn search_words_are_lowercased_runs_of_letters_and_digits() {
        assert_eq!(
            search_words("User:4242 said \"Timeout\"; café-42_x"),
            ["user", "4242", "said", "timeout", "café", "42", "x"]
        );
        assert!(search_words("%%% ... \"'").is_empty());
        assert_eq!(search_words(&"a ".repeat(100)).len(), MAX_SEARCH_WORDS);
        // U+19B0 was a mark in Unicode 6.1 (a letter now): SQLite splits there.
        assert_eq!(search_words("asc\u{19b0}\u{2d2d}"), ["asc", "\u{2d2d}"]);
        // Lowercasing İ adds a combining dot (a token character to unicode61 too).
        assert_eq!(search_words("xİy"), ["xi\u{307}y"]);
        let lowered = search_words("\u{130}\u{1e9e}\u{fb03}\u{19b0}\u{2126}");
        assert!(
            lowered.iter().all(|w| !w.contains(is_separator)),
            "{lowered:?}"
        );
    }

    fn event() -> Event {
        Event {
            id: 1,
            uuid: uuid::Uuid::nil(),
            event_type: "error".into(),
            group: "Order 1234".into(),
            timestamp: DateTime::from_timestamp(1_700_000_000, 0).unwrap_or_default(),
            message: "Mail server quit: User:4242 said \"Timeout\"".into(),
            data: Some(
                serde_json::json!({"customer": {"email": "a@b.c"}, "n": 42, "ok": true, "none": null, "price": 1.5}),
            ),
            initiator: Some("Mailer Daemon".into()),
            send_mail: None,
        }
    }

    #[test]
    fn in_memory_matching_follows_each_key() {
        let e = event();
        let t = e.timestamp;
        let f = |f: EventFilter| f.matches(&e);
        assert!(f(EventFilter::default()));
        assert!(f(EventFilter {
            types: vec!["info".into(), "error".into()],
            ..Default::default()
        }));
        assert!(!f(EventFilter {
            types: vec!["info".into()],
            ..Default::default()
        }));
        assert!(f(EventFilter {
            since: Some(t),
            until: Some(t + chrono::Duration::microseconds(1)),
            ..Default::default()
        }));
        assert!(
            !f(EventFilter {
                until: Some(t),
                ..Default::default()
            }),
            "until is exclusive"
        );
        let text = |q: &str| {
            f(EventFilter {
                text: Some(q.into()),
                ..Default::default()
            })
        };
        assert!(text("mail"));
        assert!(text("TIMEOUT user 42"), "prefixes of message words");
        assert!(text("daemon quit"), "message and initiator together");
        assert!(text("order 12"), "the group's words");
        assert!(!text("order quit"), "group and message words do not mix");
        assert!(!text("ail"), "a word must start a word");
        assert!(!text("%%%"), "no word: nothing");
        let eq = |g: Option<&str>, i: Option<&str>| {
            f(EventFilter {
                group: g.map(Into::into),
                initiator: i.map(Into::into),
                ..Default::default()
            })
        };
        assert!(eq(Some("Order 1234"), Some("Mailer Daemon")));
        assert!(!eq(Some("order 1234"), None), "exact group");
        assert!(!eq(None, Some("Mailer")), "exact initiator");
        let data = |path: &[&str], value: &str| {
            f(EventFilter {
                data: vec![DataMatch {
                    path: path.iter().map(|k| k.to_string()).collect(),
                    value: value.into(),
                }],
                ..Default::default()
            })
        };
        assert!(data(&["customer", "email"], "a@b.c"));
        assert!(data(&["n"], "42"));
        assert!(data(&["ok"], "true"));
        assert!(data(&["price"], "1.5"));
        assert!(!data(&["none"], "null"), "JSON null is SQL NULL");
        assert!(!data(&["n", "x"], "42"));
        assert!(!data(&["missing"], ""));
    }

    #[test]
    fn like_patterns_escape_wildcards() {
        assert_eq!(like_pattern("50%_off\\"), "%50\\%\\_off\\\\%");
    }
}
