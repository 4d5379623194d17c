//! The demo's sample history: two weeks of a small shop's events, made the same way on
//! every run (a fixed seed) so that the uuids repeat and a second run stores nothing new.

use chrono::{DateTime, Utc};
use eventlog::NewEvent;
use serde_json::json;

use super::history::{At, DAY, DAYS, History, MINUTE, named};
use super::stories::{
    backup, deploy, incidents, mailer, nightly_import, one_instant, orders, reindex,
};

/// The four types every configuration starts from; other configured types get a few events
/// of their own so that each shows in the chart and the filters.
const BUILT_IN: [&str; 4] = ["info", "warning", "error", "critical"];

/// The sample history ending at `end`, oldest first within each story. `extra_types` are
/// configured types beyond the built-in four.
pub fn sample(end: DateTime<Utc>, extra_types: &[String]) -> Vec<NewEvent> {
    let mut h = History::new(end);
    for day in 0..DAYS {
        orders(&mut h, day);
        mailer(&mut h, day);
        nightly_import(&mut h, day);
        backup(&mut h, day);
        if day % 3 == 1 {
            deploy(&mut h, day);
        }
    }
    reindex(&mut h);
    incidents(&mut h);
    one_instant(&mut h);
    for name in extra_types
        .iter()
        .filter(|t| !BUILT_IN.contains(&t.as_str()))
    {
        let group = named(format!("Sample {name}"));
        for n in 0..3 {
            let offset = (DAYS - 1) * DAY + n * 17 * MINUTE;
            h.add(At {
                group: &group,
                offset,
                event_type: name,
                message: format!("A sample event of the configured type {name} ({})", n + 1),
                initiator: "eventlog demo",
                data: Some(json!({ "sample": n + 1 })),
            });
        }
    }
    h.into_events()
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::Duration;

    #[test]
    fn the_same_events_get_the_same_uuids_on_every_run() {
        let first = sample(Utc::now(), &[]);
        let later = sample(Utc::now() + Duration::hours(30), &[]);
        assert!(first.len() > 3_000, "{} events", first.len());
        let uuids = |events: &[NewEvent]| events.iter().map(|e| e.uuid).collect::<Vec<_>>();
        assert_eq!(uuids(&first), uuids(&later));
        let distinct: std::collections::HashSet<_> = first.iter().map(|e| e.uuid).collect();
        assert_eq!(distinct.len(), first.len());
    }

    #[test]
    fn the_history_covers_every_type_delay_and_a_long_group() {
        let end = Utc::now();
        let events = sample(end, &["mail_sent".to_owned()]);
        for t in ["info", "warning", "error", "critical", "mail_sent"] {
            assert!(events.iter().any(|e| e.event_type == t), "no {t}");
        }
        assert!(events.iter().all(|e| e.timestamp <= end));
        assert!(events.iter().all(|e| e.validate().is_ok()));
        let oldest = events.iter().map(|e| e.timestamp).min();
        assert_eq!(oldest.map(|t| (end - t).num_days() >= DAYS - 1), Some(true));
        let reindex: Vec<_> = events
            .iter()
            .filter(|e| e.group.as_str() == "Reindex search catalogue")
            .map(|e| e.timestamp)
            .collect();
        let span = *reindex.iter().max().unwrap() - *reindex.iter().min().unwrap();
        assert!(span.num_days() >= 7, "{span}");
    }
}
