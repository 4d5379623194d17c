//! Declared data keys: the paths inside `data` people filter on (`order_id`, `customer.id`),
//! each given an index on both backends so that `data.order_id=3303548` is one index lookup
//! instead of a walk over every event.
//!
//! A key is written into the index's SQL as a literal (an index on a bound parameter is no
//! index), so only paths of plain names are accepted: ASCII letters, digits, `_` and `-`,
//! separated by dots. The index's name is derived from the path by a fixed hash, so it is
//! always a safe identifier and the same in every process.

use thiserror::Error;

/// The name every data key index starts with.
pub(crate) const INDEX_PREFIX: &str = "events_data_";

/// Most dot-separated names in a declared key.
pub const MAX_KEY_DEPTH: usize = 8;

/// Longest declared key, in bytes.
pub const MAX_KEY_LEN: usize = 200;

/// A declared data key: a path of plain names inside `data`, e.g. `customer.id`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct DataKey {
    text: String,
}

/// A declared data key that is refused, and why.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error("indexed data key {key:?}: {rule}")]
pub struct DataKeyError {
    /// The key as given (shortened).
    pub key: String,
    /// The rule it breaks.
    pub rule: &'static str,
}

impl DataKey {
    /// Checks a key as written in the settings (`customer.id`, without `data.`).
    pub fn parse(text: &str) -> Result<DataKey, DataKeyError> {
        let refuse = |rule| DataKeyError {
            key: text.chars().take(100).collect(),
            rule,
        };
        if text.is_empty() {
            return Err(refuse("empty"));
        }
        if text.len() > MAX_KEY_LEN {
            return Err(refuse("longer than 200 bytes"));
        }
        let names: Vec<&str> = text.split('.').collect();
        if names.len() > MAX_KEY_DEPTH {
            return Err(refuse("more than 8 dot-separated names"));
        }
        if names.iter().any(|n| n.is_empty()) {
            return Err(refuse("a name is needed between every dot"));
        }
        let plain = |c: char| c.is_ascii_alphanumeric() || c == '_' || c == '-';
        if !text.chars().all(|c| plain(c) || c == '.') {
            return Err(refuse(
                "only ASCII letters, digits, '_' and '-' may name a key, with '.' between names",
            ));
        }
        Ok(DataKey {
            text: text.to_owned(),
        })
    }

    /// Checks a list of keys, dropping repeats.
    pub fn parse_all<S: AsRef<str>>(texts: &[S]) -> Result<Vec<DataKey>, DataKeyError> {
        let mut keys = texts
            .iter()
            .map(|t| DataKey::parse(t.as_ref()))
            .collect::<Result<Vec<_>, _>>()?;
        keys.sort();
        keys.dedup();
        Ok(keys)
    }

    /// The key a filter's path names, when it is one that can be declared.
    pub(crate) fn of_path(path: &[String]) -> Option<DataKey> {
        DataKey::parse(&path.join(".")).ok()
    }

    /// The key as written: names joined by dots.
    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// The names from the root of `data`.
    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.text.split('.')
    }

    /// The index's name: [`INDEX_PREFIX`] and a 64-bit FNV-1a hash of the key, in hex (a
    /// fixed hash, not the standard library's, which may change between builds).
    pub(crate) fn index_name(&self) -> String {
        let mut h: u64 = 0xcbf2_9ce4_8422_2325;
        for b in self.text.bytes() {
            h ^= u64::from(b);
            h = h.wrapping_mul(0x0000_0100_0000_01b3);
        }
        format!("{INDEX_PREFIX}{h:016x}")
    }
}

impl std::fmt::Display for DataKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.text)
    }
}

/// What [`crate::store::WriteStore::index_data_keys`] changed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DataKeysApplied {
    /// Keys whose index was created.
    pub created: Vec<String>,
    /// Keys no longer declared whose index was dropped.
    pub dropped: Vec<String>,
}

impl DataKeysApplied {
    /// One line for a person: what was created and dropped, or `None` when nothing changed.
    pub fn summary(&self) -> Option<String> {
        let mut parts = Vec::new();
        if !self.created.is_empty() {
            parts.push(format!("indexed data keys {}", self.created.join(", ")));
        }
        if !self.dropped.is_empty() {
            parts.push(format!(
                "dropped the indexes of data keys {}",
                self.dropped.join(", ")
            ));
        }
        (!parts.is_empty()).then(|| parts.join("; "))
    }
}

/// Whether `name` is one [`DataKey::index_name`] makes (checked before a name read back
/// from the bookkeeping table is written into a `DROP INDEX`).
pub(crate) fn safe_index_name(name: &str) -> bool {
    name.strip_prefix(INDEX_PREFIX)
        .is_some_and(|h| h.len() == 16 && h.chars().all(|c| c.is_ascii_hexdigit()))
}

/// The keys to create and to drop: `declared` against `existing` (key, index name).
pub(crate) fn changes(
    declared: &[DataKey],
    existing: &[(String, String)],
) -> (Vec<DataKey>, Vec<(String, String)>) {
    let create = declared
        .iter()
        .filter(|k| !existing.iter().any(|(have, _)| have == k.as_str()))
        .cloned()
        .collect();
    let drop = existing
        .iter()
        .filter(|(have, _)| !declared.iter().any(|k| k.as_str() == have))
        .cloned()
        .collect();
    (create, drop)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_paths_are_accepted_and_hostile_ones_refused() {
        assert_eq!(
            DataKey::parse("customer.id").unwrap().as_str(),
            "customer.id"
        );
        assert_eq!(
            DataKey::parse("a-b_C9")
                .unwrap()
                .names()
                .collect::<Vec<_>>(),
            ["a-b_C9"]
        );
        for hostile in [
            "",
            "a..b",
            ".a",
            "a.",
            "x') ; DROP TABLE events; --",
            "a\"b",
            "a'b",
            "a b",
            "a\\b",
            "ä",
            "a}b",
            "a,b",
            "a\0b",
            "a.".repeat(9).trim_end_matches('.'),
            &"x".repeat(201),
        ] {
            let err = DataKey::parse(hostile).expect_err(hostile);
            assert!(err.to_string().starts_with("indexed data key"), "{err}");
        }
    }

    #[test]
    fn index_names_are_fixed_safe_identifiers() {
        let name = DataKey::parse("order_id").unwrap().index_name();
        assert_eq!(name.len(), INDEX_PREFIX.len() + 16);
        assert!(name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_'));
        assert_eq!(name, DataKey::parse("order_id").unwrap().index_name());
        assert_ne!(name, DataKey::parse("order-id").unwrap().index_name());
        assert!(safe_index_name(&name));
        assert!(!safe_index_name("events_data_0; DROP TABLE x"));
    }

    #[test]
    fn changes_create_what_is_new_and_drop_what_was_removed() {
        let keys = DataKey::parse_all(&["b", "a", "b"]).unwrap();
        assert_eq!(keys.len(), 2);
        let existing = vec![("b".into(), "ib".into()), ("c".into(), "ic".into())];
        let (create, drop) = changes(&keys, &existing);
        assert_eq!(create, [DataKey::parse("a").unwrap()]);
        assert_eq!(drop, [("c".to_owned(), "ic".to_owned())]);
    }
}
