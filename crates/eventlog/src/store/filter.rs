//! What to select: the admin list's filters, shared by every backend.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

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
    /// Search words: an event matches when every word of this text (a run of letters and
    /// digits) starts a word of its message or initiator, or every word starts a word of its
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

/// The words of a search text as the search indexes see them: runs of letters and digits,
/// lowercased; everything else separates words. At most [`MAX_SEARCH_WORDS`].
pub fn search_words(text: &str) -> Vec<String> {
    text.split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .take(MAX_SEARCH_WORDS)
        .map(str::to_lowercase)
        .collect()
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
    }

    #[test]
    fn like_patterns_escape_wildcards() {
        assert_eq!(like_pattern("50%_off\\"), "%50\\%\\_off\\\\%");
    }
}
