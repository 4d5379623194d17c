//! The dataset shape of the volume benches (`dataset`, and `scale10m` in eventlog-web): groups
//! of 20 events with random (32-hex) ids, plus one named group of 5,000 events spread over the
//! whole run; messages of about 60 characters, ~3% with the word `timeout` and one in 100,000
//! with the rare word `quokka`; 40% with a small JSON object as data; initiators like
//! `user:12345`; timestamps evenly spread over the span asked for.

#![allow(dead_code)] // each bench uses a different part

use chrono::{TimeDelta, Utc};
use eventlog::{GroupId, NewEvent};
use serde_json::json;

/// The named group of 5,000 events.
pub const BIG_GROUP: &str = "nightly-reindex";
pub const BIG_GROUP_EVENTS: usize = 5_000;
pub const BATCH: usize = 5_000;

/// A small deterministic generator (splitmix64): the same dataset on every run.
pub struct Rng(u64);

impl Rng {
    pub fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    pub fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
    pub fn pick<'a>(&mut self, items: &[&'a str]) -> &'a str {
        items[self.below(items.len() as u64) as usize]
    }
}

const VERBS: &[&str] = &[
    "Created",
    "Updated",
    "Shipped",
    "Cancelled",
    "Refunded",
    "Exported",
    "Imported",
    "Synced",
];
const THINGS: &[&str] = &[
    "order", "invoice", "customer", "shipment", "payment", "report", "account", "ticket",
];
const CHANNELS: &[&str] = &["web", "api", "batch", "mobile", "admin", "partner"];
/// The type of every 10,000th event (0.01 %).
pub const RARE_TYPE: &str = "audit";
const TYPES: &[&str] = &[
    "info", "info", "info", "info", "info", "info", "info", "info", "info", "info", "info", "info",
    "info", "info", "info", "info", "warning", "warning", "error", "debug",
];

/// All events of the dataset, in time order, in batches.
pub struct Dataset {
    pub rng: Rng,
    pub total: usize,
    pub made: usize,
    pub start: chrono::DateTime<Utc>,
    pub step: TimeDelta,
    pub big: GroupId,
    pub big_every: usize,
    pub group: GroupId,
    pub in_group: usize,
    /// Group ids handed out, for the searches.
    pub sample_group: Option<String>,
}

impl Dataset {
    /// `total` events over the last 30 days (`EVENTLOG_BENCH_DAYS` days if set: a year of
    /// history for an import, say).
    pub fn new(total: usize) -> Self {
        let days = std::env::var("EVENTLOG_BENCH_DAYS")
            .ok()
            .and_then(|d| d.parse().ok())
            .unwrap_or(30);
        Self::starting(
            total,
            42,
            Utc::now() - TimeDelta::days(days),
            TimeDelta::days(days),
        )
    }

    /// `total` events from `start` over `span`, from generator seed `seed`.
    pub fn starting(
        total: usize,
        seed: u64,
        start: chrono::DateTime<Utc>,
        span: TimeDelta,
    ) -> Self {
        Dataset {
            rng: Rng(seed),
            total,
            made: 0,
            start,
            step: span / total.max(1) as i32,
            big: GroupId::named(BIG_GROUP).expect("valid name"),
            big_every: (total / BIG_GROUP_EVENTS).max(1),
            group: GroupId::random(),
            in_group: 0,
            sample_group: None,
        }
    }

    pub fn event(&mut self) -> NewEvent {
        let i = self.made;
        self.made += 1;
        let rng = &mut self.rng;
        let group = if i.is_multiple_of(self.big_every) && i / self.big_every < BIG_GROUP_EVENTS {
            self.big.clone()
        } else {
            if self.in_group == 20 {
                self.group = GroupId::random();
                self.in_group = 0;
            }
            self.in_group += 1;
            if i >= self.total / 2 && self.sample_group.is_none() {
                self.sample_group = Some(self.group.as_str().to_owned());
            }
            self.group.clone()
        };
        let n = rng.below(1_000_000);
        let message = if rng.below(100) < 3 {
            format!(
                "Gateway timeout after {} ms calling {} service for {} {n}",
                rng.below(30_000),
                rng.pick(CHANNELS),
                rng.pick(THINGS)
            )
        } else if i % 100_000 == 7 {
            format!(
                "Unusual quokka sighting reported by the {} team",
                rng.pick(CHANNELS)
            )
        } else {
            format!(
                "{} {} {n} via {} in {} ms for region eu-west-{}",
                rng.pick(VERBS),
                rng.pick(THINGS),
                rng.pick(CHANNELS),
                rng.below(2_000),
                rng.below(4)
            )
        };
        // Every 10,000th event is of a rare type spread thinly over the whole run (one in
        // every ~7 hours at 1M events); the generator draws a type for it all the same, so
        // every other event is as it was.
        let ty = rng.pick(TYPES);
        let ty = if i % 10_000 == 5_003 { RARE_TYPE } else { ty };
        let mut e = NewEvent::new(ty, group, message);
        e.timestamp = self.start + self.step * i as i32;
        e.initiator = Some(format!("user:{}", rng.below(50_000)));
        if rng.below(10) < 4 {
            e.data =
                Some(json!({"id": n, "amount": rng.below(100_000) as f64 / 100.0, "ok": true}));
        }
        e
    }

    pub fn batch(&mut self) -> Vec<NewEvent> {
        let n = BATCH.min(self.total - self.made);
        (0..n).map(|_| self.event()).collect()
    }
}
