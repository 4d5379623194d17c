//! What the demo's history is made with: a seeded random source, and the history that places
//! events by their offset from its start, each with a uuid that is the same on every run.

use chrono::{DateTime, Duration, Utc};
use eventlog::{GroupId, NewEvent};
use serde_json::Value;

use uuid::Uuid;

/// How far back the history reaches from the moment it is made.
pub const DAYS: i64 = 14;

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
    /// An empty history of [`DAYS`] days ending at `end`, with the seeds every run uses.
    pub(super) fn new(end: DateTime<Utc>) -> History {
        History {
            rng: Rng(0x6576_656e_746c_6f67),
            uuid_seed: 0x6465_6d6f_0000_0000,
            start: end - Duration::days(DAYS),
            events: Vec::with_capacity(8_000),
        }
    }

    /// The events placed, in the order they were added.
    pub(super) fn into_events(self) -> Vec<NewEvent> {
        self.events
    }

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
