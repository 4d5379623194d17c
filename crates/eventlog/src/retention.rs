//! Retention: delete events older than a configured age, per type if wanted.
//!
//! ```toml
//! [retention]
//! default = "90d"      # every type without its own setting; leave out to keep forever
//! interval = "1h"      # how often `eventlog serve` applies it (default 1h)
//! [retention.types]
//! info = "7d"
//! critical = "2y"
//! ```
//!
//! Durations are written like `90d`, `12h`, `30m`, `1y 2d` (units `s`, `m`, `h`, `d`, `w`,
//! `M` = 30.44 days, `y` = 365.25 days). Deletion goes through
//! [`WriteStore::purge`](crate::store::WriteStore::purge), in bounded batches.

use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

pub use crate::error::AgeError;
use crate::error::{ConfigError, Error};
use crate::event_type::EventTypes;
use crate::store::{EventFilter, Store};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// Parses a duration like `90d`, `12h`, `30m` or `1d 12h`; zero is refused.
pub fn parse_duration(text: &str) -> Result<Duration, AgeError> {
    let d = humantime::parse_duration(text.trim()).map_err(|e| AgeError::NotADuration {
        text: text.to_owned(),
        reason: e.to_string(),
    })?;
    if d.is_zero() {
        return Err(AgeError::Zero {
            text: text.to_owned(),
        });
    }
    Ok(d)
}

/// A positive duration of the retention settings (`90d`, `12h`, `1d 12h`), parsed once when
/// the configuration is read and kept with its text as written.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(into = "String")]
pub struct Age {
    text: String,
    duration: Duration,
}

impl Age {
    /// The duration.
    pub fn duration(&self) -> Duration {
        self.duration
    }

    /// The text as written.
    pub fn as_str(&self) -> &str {
        &self.text
    }
}

impl FromStr for Age {
    type Err = AgeError;

    fn from_str(text: &str) -> Result<Age, AgeError> {
        Ok(Age {
            duration: parse_duration(text)?,
            text: text.to_owned(),
        })
    }
}

impl From<Age> for String {
    fn from(age: Age) -> String {
        age.text
    }
}

impl fmt::Display for Age {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

impl PartialEq<&str> for Age {
    fn eq(&self, other: &&str) -> bool {
        self.text == *other
    }
}

/// `[retention]` of `eventlog.toml`. Every duration is parsed when the configuration is read;
/// a bad one is refused then, naming its key (`retention.types.info`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "RawRetention", into = "RawRetention")]
pub struct RetentionConfig {
    /// Age after which events of types without their own setting are deleted; `None` keeps
    /// them forever.
    pub default: Option<Age>,
    /// Per-type ages, overriding `default`.
    pub types: BTreeMap<String, Age>,
    /// How often the server applies the policy.
    pub interval: Age,
}

/// `[retention]` as written, before its durations are parsed.
#[derive(Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
struct RawRetention {
    default: Option<String>,
    types: BTreeMap<String, String>,
    interval: String,
}

impl Default for RawRetention {
    fn default() -> Self {
        RawRetention {
            default: None,
            types: BTreeMap::new(),
            interval: "1h".into(),
        }
    }
}

impl TryFrom<RawRetention> for RetentionConfig {
    type Error = ConfigError;

    fn try_from(raw: RawRetention) -> Result<Self, ConfigError> {
        let age = |key: String, text: &str| {
            text.parse::<Age>()
                .map_err(|source| ConfigError::Duration { key, source })
        };
        Ok(RetentionConfig {
            default: match &raw.default {
                Some(d) => Some(age("retention.default".into(), d)?),
                None => None,
            },
            interval: age("retention.interval".into(), &raw.interval)?,
            types: raw
                .types
                .iter()
                .map(|(t, d)| Ok((t.clone(), age(format!("retention.types.{t}"), d)?)))
                .collect::<Result<_, ConfigError>>()?,
        })
    }
}

impl From<RetentionConfig> for RawRetention {
    fn from(c: RetentionConfig) -> Self {
        RawRetention {
            default: c.default.map(String::from),
            types: c.types.into_iter().map(|(t, a)| (t, a.into())).collect(),
            interval: c.interval.into(),
        }
    }
}

impl Default for RetentionConfig {
    fn default() -> Self {
        RetentionConfig {
            default: None,
            types: BTreeMap::new(),
            interval: Age {
                text: "1h".into(),
                duration: Duration::from_secs(3600),
            },
        }
    }
}

impl RetentionConfig {
    /// Checks that every type under `[retention.types]` is a configured event type, so a typo
    /// does not silently keep that type's events forever; the message names the type and the
    /// configured ones.
    pub fn check_types(&self, configured: &EventTypes) -> Result<(), ConfigError> {
        for name in self.types.keys() {
            if configured.get(name).is_none() {
                return Err(ConfigError::RetentionType {
                    name: name.clone(),
                    configured: configured.names().collect::<Vec<_>>().join(", "),
                });
            }
        }
        Ok(())
    }

    /// Whether anything would ever be deleted.
    pub fn is_enabled(&self) -> bool {
        self.default.is_some() || !self.types.is_empty()
    }

    /// How often to apply the policy.
    pub fn interval(&self) -> Duration {
        self.interval.duration()
    }
}

/// What one application of the policy deleted.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RetentionReport {
    /// Events deleted per type.
    pub deleted: BTreeMap<String, u64>,
}

impl RetentionReport {
    /// Events deleted in all.
    pub fn total(&self) -> u64 {
        self.deleted.values().sum()
    }
}

fn cutoff(now: DateTime<Utc>, age: &Age) -> Result<DateTime<Utc>, AgeError> {
    chrono::Duration::from_std(age.duration())
        .ok()
        .and_then(|a| now.checked_sub_signed(a))
        .ok_or_else(|| AgeError::TooLong {
            text: age.as_str().to_owned(),
        })
}

/// Applies the policy once, now: deletes, per type, the events older than its age.
pub async fn apply(store: &dyn Store, config: &RetentionConfig) -> Result<RetentionReport, Error> {
    apply_at(store, config, crate::event::now()).await
}

/// [`apply`] as if it were `now` (for tests and dry runs).
///
/// With a default age, everything older than the oldest cutoff of all (the default's and every
/// type's) is past every type's age: that part goes first in one purge without a type, which on
/// PostgreSQL drops whole time partitions instead of deleting their rows one by one. What is
/// left to delete per type lies between that cutoff and each type's own.
pub async fn apply_at(
    store: &dyn Store,
    config: &RetentionConfig,
    now: DateTime<Utc>,
) -> Result<RetentionReport, Error> {
    let mut report = RetentionReport::default();
    let mut type_cutoffs = BTreeMap::new();
    for (event_type, age) in &config.types {
        let before = cutoff(now, age).map_err(|source| ConfigError::Duration {
            key: format!("retention.types.{event_type}"),
            source,
        })?;
        type_cutoffs.insert(event_type.as_str(), before);
    }
    let default_cutoff = match &config.default {
        Some(age) => Some(cutoff(now, age).map_err(|source| ConfigError::Duration {
            key: "retention.default".into(),
            source,
        })?),
        None => None,
    };
    if let Some(default_cutoff) = default_cutoff {
        let everything_before = type_cutoffs
            .values()
            .copied()
            .fold(default_cutoff, DateTime::min);
        // The per-type counts of what the untyped purge deletes, for the report.
        for (event_type, n) in old_events_by_type(store, everything_before).await? {
            report.deleted.insert(event_type, n);
        }
        if report.total() > 0 {
            store.purge(everything_before, None).await?;
        }
    }
    for (event_type, before) in &type_cutoffs {
        let n = store.purge(*before, Some(event_type)).await?;
        *report.deleted.entry((*event_type).to_owned()).or_default() += n;
    }
    if let Some(before) = default_cutoff {
        // Types with their own setting are left to it.
        let types: Vec<String> = old_events_by_type(store, before)
            .await?
            .into_keys()
            .filter(|t| !config.types.contains_key(t))
            .collect();
        for t in types {
            let n = store.purge(before, Some(&t)).await?;
            *report.deleted.entry(t).or_default() += n;
        }
    }
    report.deleted.retain(|_, n| *n > 0);
    Ok(report)
}

/// How many events of each type are older than `before`: one histogram bucket spanning all
/// time, so the histogram is a count per type.
async fn old_events_by_type(
    store: &dyn Store,
    before: DateTime<Utc>,
) -> Result<BTreeMap<String, u64>, Error> {
    let old = EventFilter {
        until: Some(before),
        ..EventFilter::default()
    };
    let mut counts = BTreeMap::new();
    for (_, event_type, n) in store.histogram(&old, 1 << 40).await? {
        *counts.entry(event_type).or_default() += n.max(0) as u64;
    }
    Ok(counts)
}

/// Applies the policy now and then every `interval`, on the current tokio runtime, until the
/// returned task is aborted. Failures are logged and retried at the next interval.
pub fn spawn(store: Arc<dyn Store>, config: RetentionConfig) -> tokio::task::JoinHandle<()> {
    let every = config.interval();
    tokio::spawn(async move {
        let mut ticker = tokio::time::interval(every);
        ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            ticker.tick().await;
            match apply(store.as_ref(), &config).await {
                Ok(r) if r.total() > 0 => {
                    tracing::info!(deleted = r.total(), "retention: deleted old events")
                }
                Ok(_) => {}
                Err(e) => tracing::error!(error = %e, "retention: purge failed"),
            }
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_parse_and_bad_ones_say_why() {
        assert_eq!(
            parse_duration("90d").unwrap(),
            Duration::from_secs(90 * 86_400)
        );
        assert_eq!(
            parse_duration("12h").unwrap(),
            Duration::from_secs(12 * 3_600)
        );
        assert_eq!(parse_duration("30m").unwrap(), Duration::from_secs(30 * 60));
        assert_eq!(
            parse_duration("1d 12h").unwrap(),
            Duration::from_secs(36 * 3_600)
        );
        let e = parse_duration("90 days ago").unwrap_err().to_string();
        assert!(e.contains("is not a duration"), "{e}");
        let e = parse_duration("0s").unwrap_err().to_string();
        assert!(e.contains("must be positive"), "{e}");
    }

    #[test]
    fn config_checks_name_the_key() {
        let c: crate::Config = crate::Config::from_toml(
            "[retention]\ndefault = \"90d\"\n[retention.types]\ninfo = \"7d\"\n",
        )
        .unwrap();
        assert!(c.retention.is_enabled());
        assert_eq!(c.retention.interval(), Duration::from_secs(3_600));
        let e = crate::Config::from_toml("[retention.types]\ninfo = \"soon\"\n").unwrap_err();
        assert!(
            e.to_string().contains("retention.types.info: \"soon\""),
            "{e}"
        );
        assert!(!crate::Config::from_toml("").unwrap().retention.is_enabled());
    }

    #[test]
    fn retention_for_an_unconfigured_type_is_refused_with_its_name() {
        let e = crate::Config::from_toml("[retention.types]\nnope = \"1d\"\n").unwrap_err();
        assert_eq!(
            e.to_string(),
            "configuration error: retention.types.nope: event type \"nope\" is not configured; \
             configured types are: info, warning, error, critical"
        );
        // A type added in `[types]` may have its own retention.
        let c = crate::Config::from_toml(
            "[[types.type]]\nname = \"debug\"\nlabel = \"Debug\"\n\
             [retention.types]\ndebug = \"7d\"\n",
        )
        .unwrap();
        assert_eq!(c.retention.types["debug"], "7d");
    }
}
