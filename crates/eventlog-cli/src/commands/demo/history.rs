//! The demo's sample history: two weeks of a small shop's events, made the same way on
//! every run (a fixed seed) so that the uuids repeat and a second run stores nothing new.

use chrono::{DateTime, Duration, Utc};
use eventlog::{GroupId, NewEvent};
use serde_json::{Value, json};

use super::stories::{
    backup, deploy, incidents, mailer, nightly_import, one_instant, orders, reindex,
};
use uuid::Uuid;

/// How far back the history reaches from the moment it is made.
pub const DAYS: i64 = 14;

/// The four types every configuration starts from; other configured types get a few events
/// of their own so that each shows in the chart and the filters.
const BUILT_IN: [&str; 4] = ["info", "warning", "error", "critical"];

pub(super) const SECOND: i64 = 1;
pub(super) const MINUTE: i64 = 60;
pub(super) const HOUR: i64 = 3_600;
pub(super) const DAY: i64 = 86_400;

/// splitmix64: a few lines, good enough for sample data, and the same on every platform.
pub(super) struct Rng(u64);

impl Rng {
    pub(super) fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// A number in `low..=high`.
    pub(super) fn range(&mut self, low: i64, high: i64) -> i64 {
        let span = (high - low + 1).max(1) as u64;
        low + (self.next() % span) as i64
    }

    /// True with probability `percent` / 100.
    pub(super) fn chance(&mut self, percent: u64) -> bool {
        self.next() % 100 < percent
    }

    pub(super) fn pick<'a>(&mut self, items: &[&'a str]) -> &'a str {
        items[(self.next() % items.len() as u64) as usize]
    }
}

/// The history being made: events are placed by their offset in seconds from its start.
pub(super) struct History {
    pub(super) rng: Rng,
    /// Seeds the uuids apart from the content, so content may change between versions
    /// without changing which uuid the n-th event gets.
    uuid_seed: u64,
    start: DateTime<Utc>,
    events: Vec<NewEvent>,
}

/// One event to place.
pub(super) struct At<'a> {
    pub(super) group: &'a GroupId,
    pub(super) offset: i64,
    pub(super) event_type: &'a str,
    pub(super) message: String,
    pub(super) initiator: &'a str,
    pub(super) data: Option<Value>,
}

impl History {
    /// Adds the event unless its offset falls after the end of the history (a delivery
    /// still to come). Either way the uuid sequence advances, so every run numbers the
    /// same event the same.
    pub(super) fn add(&mut self, at: At<'_>) {
        let mut bytes = [0u8; 16];
        let mut seed = Rng(self.uuid_seed);
        self.uuid_seed = self.uuid_seed.wrapping_add(1);
        bytes[..8].copy_from_slice(&seed.next().to_le_bytes());
        bytes[8..].copy_from_slice(&seed.next().to_le_bytes());
        if at.offset >= DAYS * DAY || at.offset < 0 {
            return;
        }
        let mut event = NewEvent::new(at.event_type, at.group.clone(), at.message);
        event.uuid = uuid::Builder::from_random_bytes(bytes).into_uuid();
        event.timestamp = self.start + Duration::seconds(at.offset);
        event.initiator = (!at.initiator.is_empty()).then(|| at.initiator.to_owned());
        event.data = at.data;
        self.events.push(event);
    }

    /// A group id that looks random (32 hex digits) but is the same on every run.
    pub(super) fn random_group(&mut self) -> GroupId {
        let id = Uuid::from_u64_pair(self.rng.next(), self.rng.next()).simple();
        GroupId::named(id.to_string()).unwrap_or_else(|_| GroupId::random())
    }

    pub(super) fn date(&self, offset: i64) -> String {
        (self.start + Duration::seconds(offset))
            .format("%Y-%m-%d")
            .to_string()
    }
}

pub(super) fn named(name: String) -> GroupId {
    // Every name made here is short and printable, which is all a group name needs.
    GroupId::named(name).unwrap_or_else(|_| GroupId::random())
}

/// The sample history ending at `end`, oldest first within each story. `extra_types` are
/// configured types beyond the built-in four.
pub fn sample(end: DateTime<Utc>, extra_types: &[String]) -> Vec<NewEvent> {
    let mut h = History {
        rng: Rng(0x6576_656e_746c_6f67),
        uuid_seed: 0x6465_6d6f_0000_0000,
        start: end - Duration::days(DAYS),
        events: Vec::with_capacity(8_000),
    };
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
    h.events
}

#[cfg(test)]
mod tests {
    use super::*;

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
