//! What a filter value can break, and the error that names the key, the value and the rule.

use std::fmt;

use thiserror::Error;

use super::{MAX_CONDITIONS, MAX_LIMIT};
use crate::error::StoreError;
pub use crate::error::shorten;

/// The rule a filter value broke.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum Rule {
    /// Not one of the accepted time forms.
    #[error(
        "not a time: use YYYY-MM-DD, YYYY-MM-DDTHH:MM, YYYY-MM-DDTHH:MM:SS or RFC 3339 (2026-01-31T12:00:00Z)"
    )]
    Time,
    /// A time outside years 0001 to 9999.
    #[error("the year must be from 0001 to 9999")]
    YearRange,
    /// `order` is not `asc` or `desc`.
    #[error("not \"asc\" or \"desc\"")]
    Order,
    /// `cursor` does not come from a previous page.
    #[error("not a cursor from a previous page")]
    Cursor,
    /// `limit` out of range.
    #[error("not a number from 1 to {MAX_LIMIT}")]
    Limit,
    /// An empty key between dots in a data path.
    #[error("a data path needs a key between every dot (data.KEY or data.KEY.SUBKEY)")]
    DataPathEmpty,
    /// A data path key with a character the stores cannot look up.
    #[error("a data path key may not contain '\"', '\\' or control characters")]
    DataPathChar,
    /// Not a valid type name.
    #[error("not a type name: a letter or '_', then letters, digits or '_', at most 50")]
    TypeName,
    /// A type that is neither configured nor found in stored events.
    #[error("unknown type: neither configured ({configured}) nor found in stored events")]
    UnknownType {
        /// The configured type names, comma-separated.
        configured: String,
    },
    /// A NUL character, which neither database can compare.
    #[error("contains a NUL character (U+0000)")]
    Nul,
    /// A key this listing does not know.
    #[error(
        "unknown parameter; known: q, type, group, initiator, since, until, data.PATH, order, cursor, limit"
    )]
    UnknownKey,
    /// A key the listing knows with a value it does not (e.g. the admin's `date`).
    #[error("not one of: {0}")]
    OneOf(&'static str),
    /// More `type` names and `data.*` conditions in one query than the stores are asked to
    /// combine.
    #[error(
        "more than {MAX_CONDITIONS} conditions in one query (type names and data.* keys together)"
    )]
    TooManyConditions,
    /// The query string is not `key=value&…`.
    #[error("not a query string of key=value pairs")]
    Malformed,
}

/// A filter value that cannot be used: which key, the value (shortened to 100 characters) and
/// the rule it broke.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FilterError {
    /// The key as given (`until`, `type`, `data.customer.email`).
    pub key: String,
    /// The value, shortened to 100 characters.
    pub value: String,
    /// What is wrong with it.
    pub rule: Rule,
}

impl FilterError {
    /// An error for `key=value`, quoting at most 100 characters of the value.
    pub fn new(key: &str, value: &str, rule: Rule) -> Self {
        FilterError {
            key: key.to_owned(),
            value: shorten(value),
            rule,
        }
    }
}

impl fmt::Display for FilterError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}={:?}: {}", self.key, self.value, self.rule)
    }
}

impl std::error::Error for FilterError {}

/// Why [`ListQuery::check_types`](super::ListQuery::check_types) refused.
#[derive(Debug, Error)]
pub enum TypeCheckError {
    /// A type that does not exist.
    #[error(transparent)]
    Filter(#[from] FilterError),
    /// The store could not be asked.
    #[error(transparent)]
    Store(#[from] StoreError),
}
