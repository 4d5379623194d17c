//! Durations in the configuration, written like `10s`, `500ms` or `2m` (serde `with`).

use std::time::Duration;

use serde::{Deserialize, Deserializer, Serializer};

/// Writes a duration like `10s` or `1h 30m`.
pub fn serialize<S: Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
    s.collect_str(&humantime::format_duration(*d))
}

/// Reads a duration written like `10s`, `500ms` or `2m`.
pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
    let text = String::deserialize(d)?;
    humantime::parse_duration(text.trim()).map_err(|e| {
        serde::de::Error::custom(format!(
            "{text:?} is not a duration ({e}); write it like 10s, 500ms or 2m"
        ))
    })
}
