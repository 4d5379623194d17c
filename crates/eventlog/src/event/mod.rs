//! The event model: group ids, new events as recorded, and events as stored.

use std::fmt;
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use chrono::{DateTime, SubsecRound, Utc};
use serde::{Deserialize, Serialize};
use uuid::{ClockSequence, ContextV7, Uuid};

use crate::error::ValidationError;

/// Longest group id, in characters.
pub const MAX_GROUP_LEN: usize = 40;
/// Longest initiator, in characters.
pub const MAX_INITIATOR_LEN: usize = 500;

/// The id that ties the events of one piece of work together.
///
/// Either random (a UUIDv4 as 32 lowercase hex digits) or a name the caller chose, such as
/// `"Order 1234"`, 1 to 40 characters. The same name from any thread, process or machine is the
/// same group.
///
/// Cloning is cheap (the text is shared): every event of a group carries its group's id.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct GroupId(Arc<str>);

impl GroupId {
    /// A fresh random group id.
    pub fn random() -> Self {
        let mut buf = [0u8; uuid::fmt::Simple::LENGTH];
        GroupId(Arc::from(&*Uuid::new_v4().simple().encode_lower(&mut buf)))
    }

    /// A chosen group name; 1 to 40 characters, not only spaces, no control characters (a
    /// name is shown in pages and terminals, and PostgreSQL cannot store NUL).
    pub fn named(name: impl Into<String>) -> Result<Self, ValidationError> {
        let name = name.into();
        let len = name.chars().count();
        if !(1..=MAX_GROUP_LEN).contains(&len) {
            Err(ValidationError::GroupLength {
                value: crate::error::shorten(&name),
                len,
            })
        } else if name.chars().any(char::is_control) {
            Err(ValidationError::GroupControl { value: name })
        } else if name.trim().is_empty() {
            Err(ValidationError::BlankGroup { value: name })
        } else {
            Ok(GroupId(name.into()))
        }
    }

    /// The id as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Whether this looks like a random id (32 lowercase hex digits), which the admin shortens.
    pub fn is_random(&self) -> bool {
        is_random_group(&self.0)
    }
}

/// Whether a group id looks random (32 lowercase hex digits) rather than chosen.
pub fn is_random_group(group: &str) -> bool {
    group.len() == 32
        && group
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

impl fmt::Display for GroupId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl TryFrom<String> for GroupId {
    type Error = ValidationError;
    fn try_from(value: String) -> Result<Self, Self::Error> {
        GroupId::named(value)
    }
}

impl From<GroupId> for String {
    fn from(g: GroupId) -> String {
        g.0.as_ref().to_owned()
    }
}

impl AsRef<str> for GroupId {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

/// Checks an initiator: at most 500 characters.
pub fn validate_initiator(initiator: &str) -> Result<(), ValidationError> {
    let len = initiator.chars().count();
    if len > MAX_INITIATOR_LEN {
        Err(ValidationError::InitiatorLength { len })
    } else {
        Ok(())
    }
}

/// Checks a message: not empty, and not only spaces or control characters.
pub fn validate_message(message: &str) -> Result<(), ValidationError> {
    if message.is_empty() {
        Err(ValidationError::EmptyMessage)
    } else if message.chars().all(|c| c.is_whitespace() || c.is_control()) {
        Err(ValidationError::BlankMessage)
    } else {
        Ok(())
    }
}

/// Checks an e-mail recipient: `local@domain`, no spaces or angle brackets, at most 254
/// characters.
pub fn validate_mail_recipient(addr: &str) -> Result<(), ValidationError> {
    let plausible = addr.chars().count() <= 254
        && addr.split_once('@').is_some_and(|(local, domain)| {
            !local.is_empty() && !domain.is_empty() && !domain.contains('@')
        })
        && !addr
            .chars()
            .any(|c| c.is_whitespace() || c.is_control() || "<>,;\"".contains(c));
    if plausible {
        Ok(())
    } else {
        Err(ValidationError::MailRecipient {
            value: crate::error::shorten(addr),
        })
    }
}

/// The current time as stored: UTC, truncated to microseconds.
pub fn now() -> DateTime<Utc> {
    Utc::now().trunc_subsecs(6)
}

thread_local! {
    /// Each thread keeps its own UUIDv7 counter: `Uuid::now_v7()` shares one behind a
    /// process-wide mutex (contended when many threads record) and asks the OS for 16 random
    /// bytes on every call (a system call). This context reseeds its counter from the OS once
    /// per millisecond; the rest of the randomness comes from the thread's own generator
    /// (`rand`'s thread-local ChaCha, seeded from the OS).
    static UUID_CONTEXT: ContextV7 = const { ContextV7::new() };
}

/// A new event's uuid and time, from one reading of the clock: a UUIDv7 and the time
/// truncated to microseconds.
///
/// The UUIDv7 follows RFC 9562's "fixed-length dedicated counter" method: 48 bits of
/// milliseconds since the epoch, a 42-bit counter (randomly seeded each millisecond,
/// incremented within it), 32 random bits. So UUIDs made by one thread strictly increase, and
/// those of different threads and processes differ by their random seeds.
pub(crate) fn stamp() -> (Uuid, DateTime<Utc>) {
    let since_epoch = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default();
    let (secs, nanos) = (since_epoch.as_secs(), since_epoch.subsec_nanos());
    // The context may move its time past the clock's (when its counter runs out within a
    // millisecond), so the uuid uses the time it returns.
    let (counter, uuid_secs, uuid_nanos) =
        UUID_CONTEXT.with(|context| context.generate_timestamp_sequence(secs, nanos));
    let uuid_millis = uuid_secs.saturating_mul(1_000) + u64::from(uuid_nanos / 1_000_000);
    let timestamp = i64::try_from(secs)
        .ok()
        .and_then(|secs| DateTime::from_timestamp(secs, nanos / 1_000 * 1_000))
        .unwrap_or_else(now);
    (uuid_v7(uuid_millis, counter, rand::random()), timestamp)
}

/// Lays out a UUIDv7 from milliseconds, a 42-bit counter and 32 random bits. The counter goes
/// into the bits right after the time that the version and variant leave free (4 + 8 + 6 + 24
/// bits), most significant first, so a larger counter sorts later.
fn uuid_v7(millis: u64, c: u64, random: u32) -> Uuid {
    let r = random.to_be_bytes();
    let bytes = [
        (c >> 38) as u8 & 0x0F,
        (c >> 30) as u8,
        (c >> 24) as u8 & 0x3F,
        (c >> 16) as u8,
        (c >> 8) as u8,
        c as u8,
        r[0],
        r[1],
        r[2],
        r[3],
    ];
    uuid::Builder::from_unix_timestamp_millis(millis, &bytes).into_uuid()
}

/// An event about to be stored. Build one through [`crate::EventLog`] or [`NewEvent::new`] and
/// check it with [`NewEvent::validate`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NewEvent {
    /// Globally unique id of this event, also the idempotency key: storing the same uuid twice
    /// stores one event.
    pub uuid: Uuid,
    /// Name of the event type.
    #[serde(rename = "type")]
    pub event_type: String,
    /// The group the event belongs to.
    pub group: GroupId,
    /// When it happened (UTC, microseconds).
    pub timestamp: DateTime<Utc>,
    /// What happened.
    pub message: String,
    /// Structured details.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub data: Option<serde_json::Value>,
    /// Who or what caused it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub initiator: Option<String>,
    /// Address to notify by e-mail about this event.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub send_mail: Option<String>,
}

impl NewEvent {
    /// An event of `event_type` in `group`, now, with a fresh uuid and no optional fields.
    pub fn new(event_type: impl Into<String>, group: GroupId, message: impl Into<String>) -> Self {
        let (uuid, timestamp) = stamp();
        NewEvent {
            uuid,
            event_type: event_type.into(),
            group,
            timestamp,
            message: message.into(),
            data: None,
            initiator: None,
            send_mail: None,
        }
    }

    /// Checks every field rule except whether the type is configured (see
    /// [`crate::EventTypes::require`]).
    pub fn validate(&self) -> Result<(), ValidationError> {
        crate::event_type::validate_type_name(&self.event_type)?;
        self.validate_fields()
    }

    /// Checks the rules of message, initiator and mail recipient.
    pub(crate) fn validate_fields(&self) -> Result<(), ValidationError> {
        validate_message(&self.message)?;
        if let Some(i) = &self.initiator {
            validate_initiator(i)?;
        }
        if let Some(to) = &self.send_mail {
            validate_mail_recipient(to)?;
        }
        Ok(())
    }
}

/// An event as stored.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Event {
    /// Store-assigned id, increasing in insertion order within one store.
    pub id: i64,
    /// Globally unique id (the idempotency key).
    pub uuid: Uuid,
    /// Name of the event type (may no longer be configured).
    #[serde(rename = "type")]
    pub event_type: String,
    /// The group id.
    pub group: String,
    /// When it happened (UTC, microseconds).
    pub timestamp: DateTime<Utc>,
    /// What happened.
    pub message: String,
    /// Structured details.
    pub data: Option<serde_json::Value>,
    /// Who or what caused it.
    pub initiator: Option<String>,
    /// Address notified by e-mail about this event.
    pub send_mail: Option<String>,
}

/// The stored form of `e`, just inserted with `id`.
pub fn stored_event(e: &NewEvent, id: i64) -> Event {
    Event {
        id,
        uuid: e.uuid,
        event_type: e.event_type.clone(),
        group: e.group.as_str().to_owned(),
        timestamp: e.timestamp,
        message: e.message.clone(),
        data: e.data.clone(),
        initiator: e.initiator.clone(),
        send_mail: e.send_mail.clone(),
    }
}

/// Told about newly stored events after their transaction committed: by the background
/// writer for recorded events and by the HTTP API for posted ones.
///
/// The contract: called once per committed batch, only with events that were created by it
/// (an event whose uuid was already stored is left out), never before the commit. Called on
/// the committing thread or task: implementations must hand work off and return quickly.
/// E-mail does not depend on it for delivery (the outbox row is written in the event's own
/// transaction); the mail sender uses it only to wake up at once instead of at its next poll.
pub trait CommitObserver: Send + Sync + 'static {
    /// `events` are the newly stored events of one batch (duplicates left out).
    fn committed(&self, events: &[Event]);
}

/// Tells `observer` about the created events of one committed batch: `created` yields each
/// newly stored event with its id. Does nothing when none was created. The one place that
/// turns a committed batch into observer calls, for the writer and the HTTP API alike.
pub fn notify_committed<'a>(
    observer: &dyn CommitObserver,
    created: impl IntoIterator<Item = (&'a NewEvent, i64)>,
) {
    let events: Vec<Event> = created
        .into_iter()
        .map(|(e, id)| stored_event(e, id))
        .collect();
    if !events.is_empty() {
        observer.committed(&events);
    }
}

/// Warns once, the first time an event with a `send_mail` recipient is committed in a process
/// that sends no mail (no `[mail]` section, or the `mail` feature off). The event is stored and
/// its mail queued in the outbox, where a process with `[mail]` (such as `eventlog serve`) sends
/// it; but a silently unsent mail is a surprise, so it is said once.
#[derive(Debug, Default)]
pub struct UnsentMailWarning(std::sync::atomic::AtomicBool);

impl CommitObserver for UnsentMailWarning {
    fn committed(&self, events: &[Event]) {
        if let Some(to) = events.iter().find_map(|e| e.send_mail.as_deref())
            && !self.0.swap(true, std::sync::atomic::Ordering::Relaxed)
        {
            tracing::warn!(
                to,
                "eventlog: an event asks for a mail but this process has no [mail] \
                 configuration; the mail stays queued until a process with [mail] sends it"
            );
        }
    }
}

#[cfg(test)]
mod tests;
