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
//! `M` = 30.44 days, `y` = 365.25 days). Deletion goes through [`Store::purge`], in bounded
//! batches.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::error::Error;
use crate::event_type::EventTypes;
use crate::store::{EventFilter, Store};

/// Parses a duration like `90d`, `12h`, `30m` or `1d 12h`.
pub fn parse_duration(text: &str) -> Result<Duration, Error> {
    let d = humantime::parse_duration(text.trim()).map_err(|e| {
        Error::Config(format!(
            "{text:?} is not a duration ({e}); write it like 90d, 12h or 30m"
        ))
    })?;
    if d.is_zero() {
        return Err(Error::Config(format!(
            "{text:?} is zero; a retention age must be positive"
        )));
    }
    Ok(d)
}

/// `[retention]` of `eventlog.toml`. Durations are kept as written and checked by
/// [`RetentionConfig::check`] (which `Config::from_toml` calls).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RetentionConfig {
    /// Age after which events of types without their own setting are deleted; `None` keeps
    /// them forever.
    pub default: Option<String>,
    /// Per-type ages, overriding `default`.
    pub types: BTreeMap<String, String>,
    /// How often the server applies the policy.
    pub interval: String,
}

impl Default for RetentionConfig {
    fn default() -> Self {
        RetentionConfig {
            default: None,
            types: BTreeMap::new(),
            interval: "1h".into(),
        }
    }
}

impl RetentionConfig {
    /// Checks every duration; the message names the key.
    pub fn check(&self) -> Result<(), Error> {
        let named = |key: String, text: &str| {
            parse_duration(text).map_err(|e| match e {
                Error::Config(m) => Error::Config(format!("retention.{key}: {m}")),
                other => other,
            })
        };
        if let Some(d) = &self.default {
            named("default".into(), d)?;
        }
        named("interval".into(), &self.interval)?;
        for (t, d) in &self.types {
            named(format!("types.{t}"), d)?;
        }
        Ok(())
    }

    /// Checks that every type under `[retention.types]` is a configured event type, so a typo
    /// does not silently keep that type's events forever; the message names the type and the
    /// configured ones.
    pub fn check_types(&self, configured: &EventTypes) -> Result<(), Error> {
        for name in self.types.keys() {
            if configured.get(name).is_none() {
                return Err(Error::Config(format!(
                    "retention.types.{name}: event type {name:?} is not configured; \
                     configured types are: {}",
                    configured.names().collect::<Vec<_>>().join(", ")
                )));
            }
        }
        Ok(())
    }

    /// Whether anything would ever be deleted.
    pub fn is_enabled(&self) -> bool {
        self.default.is_some() || !self.types.is_empty()
    }

    /// How often to apply the policy.
    pub fn interval(&self) -> Result<Duration, Error> {
        parse_duration(&self.interval)
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

fn cutoff(now: DateTime<Utc>, age: Duration) -> Result<DateTime<Utc>, Error> {
    chrono::Duration::from_std(age)
        .ok()
        .and_then(|a| now.checked_sub_signed(a))
        .ok_or_else(|| Error::Config(format!("retention age {age:?} is too long")))
}

/// Applies the policy once, now: deletes, per type, the events older than its age.
pub async fn apply(store: &dyn Store, config: &RetentionConfig) -> Result<RetentionReport, Error> {
    apply_at(store, config, crate::event::now()).await
}

/// [`apply`] as if it were `now` (for tests and dry runs).
pub async fn apply_at(
    store: &dyn Store,
    config: &RetentionConfig,
    now: DateTime<Utc>,
) -> Result<RetentionReport, Error> {
    let mut report = RetentionReport::default();
    for (event_type, age) in &config.types {
        let before = cutoff(now, parse_duration(age)?)?;
        let n = store.purge(before, Some(event_type)).await?;
        report.deleted.insert(event_type.clone(), n);
    }
    if let Some(age) = &config.default {
        let before = cutoff(now, parse_duration(age)?)?;
        // Which types have events past the default age: one bucket spanning all time, so the
        // histogram is a count per type. Types with their own setting are left to it.
        let old = EventFilter {
            until: Some(before),
            ..EventFilter::default()
        };
        let counts = store.histogram(&old, 1 << 40).await?;
        let mut types: Vec<String> = counts
            .into_iter()
            .map(|(_, t, _)| t)
            .filter(|t| !config.types.contains_key(t))
            .collect();
        types.sort();
        types.dedup();
        for t in types {
            let n = store.purge(before, Some(&t)).await?;
            *report.deleted.entry(t).or_default() += n;
        }
    }
    Ok(report)
}

/// Applies the policy now and then every `interval`, on the current tokio runtime, until the
/// returned task is aborted. Failures are logged and retried at the next interval.
pub fn spawn(
    store: Arc<dyn Store>,
    config: RetentionConfig,
) -> Result<tokio::task::JoinHandle<()>, Error> {
    config.check()?;
    let every = config.interval()?;
    Ok(tokio::spawn(async move {
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
    }))
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
        assert_eq!(c.retention.interval().unwrap(), Duration::from_secs(3_600));
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
