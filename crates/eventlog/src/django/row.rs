//! One django-eventlog row: how it becomes an event, and the uuid derived from it.

use chrono::{DateTime, NaiveDateTime, SubsecRound, Utc};
use sha2::{Digest, Sha256};
use uuid::Uuid;

use super::RowProblem;
use crate::event::{GroupId, NewEvent};

/// Namespace of the uuids derived from django-eventlog rows (a fixed random value: it only has
/// to differ from every other use of name-based uuids).
const UUID_NAMESPACE: Uuid = Uuid::from_u128(0x5d1c_5a2e_8f0b_4c57_9a43_6e1f_d2b8_7c90);

/// The uuid of the event imported from one django-eventlog row: a name-based UUIDv8 (SHA-256,
/// as RFC 9562 describes) of the row's id, timestamp, group and type.
///
/// These fields never change once django-eventlog wrote a row, so importing the same database
/// again, whether from the same path, a moved file, a renamed host or a restored backup, gives
/// the same uuids and stores nothing new. Two different databases would need a row with the
/// same id at the same microsecond in the same group to collide: events of separate projects
/// stay separate, while a copy of one database (for example a Django project moved from SQLite
/// to PostgreSQL with its primary keys) is recognised as the same events.
pub fn event_uuid(id: i64, timestamp: DateTime<Utc>, group: &str, event_type: &str) -> Uuid {
    let mut h = Sha256::new();
    h.update(UUID_NAMESPACE.as_bytes());
    h.update(id.to_be_bytes());
    h.update(timestamp.timestamp_micros().to_be_bytes());
    // Lengths first, so that no two (group, type) pairs concatenate to the same bytes.
    h.update((group.len() as u64).to_be_bytes());
    h.update(group.as_bytes());
    h.update(event_type.as_bytes());
    let digest = h.finalize();
    let mut bytes = [0u8; 16];
    bytes.copy_from_slice(&digest[..16]);
    uuid::Builder::from_custom_bytes(bytes).into_uuid()
}

/// One row as read, before it is checked.
pub(super) struct RawRow {
    pub(super) id: i64,
    pub(super) event_type: Option<String>,
    pub(super) group: Option<String>,
    pub(super) timestamp: Result<Option<DateTime<Utc>>, RowProblem>,
    pub(super) message: Option<String>,
    pub(super) initiator: Option<String>,
    pub(super) data: Option<String>,
}

impl RawRow {
    /// The event this row becomes, or why it cannot.
    pub(super) fn into_event(self) -> Result<NewEvent, RowProblem> {
        let event_type = self.event_type.ok_or(RowProblem::Null("type"))?;
        let group = self.group.ok_or(RowProblem::Null("group"))?;
        let timestamp = self.timestamp?.ok_or(RowProblem::Null("timestamp"))?;
        let message = self.message.ok_or(RowProblem::Null("message"))?;
        let data = match self.data {
            None => None,
            Some(text) => match serde_json::from_str(&text) {
                // JSON null is what Django writes for `data=None` in some versions: no data.
                Ok(serde_json::Value::Null) => None,
                Ok(v) => Some(v),
                Err(e) => return Err(RowProblem::Data(e.to_string())),
            },
        };
        let uuid = event_uuid(self.id, timestamp, &group, &event_type);
        let event = NewEvent {
            uuid,
            event_type,
            group: GroupId::named(group)?,
            timestamp,
            message,
            data,
            initiator: self.initiator,
            send_mail: None,
            notify: None,
        };
        event.validate()?;
        Ok(event)
    }
}

/// Parses a timestamp as Django's SQLite backend writes it: `YYYY-MM-DD HH:MM:SS[.ffffff]` in
/// UTC (no fraction when the microseconds are 0), also accepting a `T` separator and an offset.
#[cfg_attr(not(feature = "sqlite"), allow(dead_code))]
pub(super) fn parse_sqlite_timestamp(text: &str) -> Result<DateTime<Utc>, RowProblem> {
    let t = text.trim();
    for format in ["%Y-%m-%d %H:%M:%S%.f", "%Y-%m-%dT%H:%M:%S%.f"] {
        if let Ok(naive) = NaiveDateTime::parse_from_str(t, format) {
            return Ok(naive.and_utc().trunc_subsecs(6));
        }
    }
    for format in ["%Y-%m-%d %H:%M:%S%.f%#z", "%Y-%m-%dT%H:%M:%S%.f%#z"] {
        if let Ok(dt) = DateTime::parse_from_str(t, format) {
            return Ok(dt.with_timezone(&Utc).trunc_subsecs(6));
        }
    }
    Err(RowProblem::Timestamp(text.to_owned()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ts(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    #[test]
    fn sqlite_timestamps_as_django_writes_them() {
        assert_eq!(
            parse_sqlite_timestamp("2026-11-27 09:39:22.593846").unwrap(),
            ts("2026-11-27T09:39:22.593846Z")
        );
        // Django leaves the fraction out when the microseconds are zero.
        assert_eq!(
            parse_sqlite_timestamp("2025-11-01 10:00:00").unwrap(),
            ts("2025-11-01T10:00:00Z")
        );
        assert_eq!(
            parse_sqlite_timestamp("2025-11-01T10:00:00.5+02:00").unwrap(),
            ts("2025-11-01T08:00:00.5Z")
        );
        assert_eq!(
            parse_sqlite_timestamp("yesterday"),
            Err(RowProblem::Timestamp("yesterday".into()))
        );
    }

    #[test]
    fn uuids_are_stable_and_differ_per_row_field() {
        let t = ts("2026-11-27T09:39:22.593846Z");
        let a = event_uuid(1, t, "g", "info");
        assert_eq!(a, event_uuid(1, t, "g", "info"));
        assert_eq!(a.get_version_num(), 8);
        assert_ne!(a, event_uuid(2, t, "g", "info"));
        assert_ne!(
            a,
            event_uuid(1, t + chrono::Duration::microseconds(1), "g", "info")
        );
        assert_ne!(a, event_uuid(1, t, "h", "info"));
        assert_ne!(a, event_uuid(1, t, "g", "error"));
        // The group/type boundary is part of the name.
        assert_ne!(event_uuid(1, t, "ab", "c"), event_uuid(1, t, "a", "bc"));
    }
}
