//! Keyset pagination cursors, opaque strings in URLs.

use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, Utc};

use crate::error::StoreError;
use crate::store::Page;

/// The page of a keyset query that asked for `limit + 1` rows: the first `limit`, and the
/// cursor of the last one when the extra row shows that more follow.
pub(crate) fn page_after<T, C>(
    mut items: Vec<T>,
    limit: usize,
    cursor: impl Fn(&T) -> C,
) -> Page<T, C> {
    let next = if items.len() > limit {
        items.truncate(limit);
        items.last().map(cursor)
    } else {
        None
    };
    Page { items, next }
}

/// `Display` and `FromStr` of a cursor, one text form for every cursor: `MICROS_KEY`, the
/// time field in microseconds since the epoch, `_`, then the key field (which may itself hold
/// `_`: only the first one separates).
macro_rules! cursor_text {
    ($cursor:ident { $time:ident, $key:ident }) => {
        impl fmt::Display for $cursor {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "{}_{}", self.$time.timestamp_micros(), self.$key)
            }
        }

        impl FromStr for $cursor {
            type Err = StoreError;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                let bad = || StoreError::InvalidCursor(s.to_owned());
                let (micros, key) = s.split_once('_').ok_or_else(bad)?;
                let micros: i64 = micros.parse().map_err(|_| bad())?;
                Ok($cursor {
                    $time: DateTime::from_timestamp_micros(micros).ok_or_else(bad)?,
                    $key: key.parse().map_err(|_| bad())?,
                })
            }
        }
    };
}

/// Position in an event listing: the (timestamp, id) of the last row of the previous page.
/// Shown in URLs as `MICROS_ID`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cursor {
    /// Timestamp of the last row seen.
    pub timestamp: DateTime<Utc>,
    /// Id of the last row seen.
    pub id: i64,
}

cursor_text!(Cursor { timestamp, id });

/// Position in the groups listing: the (last event time, group id) of the last row seen.
/// Shown in URLs as `MICROS_GROUP`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupCursor {
    /// Last-event time of the last group seen.
    pub last_at: DateTime<Utc>,
    /// Id of the last group seen.
    pub group: String,
}

cursor_text!(GroupCursor { last_at, group });

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursors_round_trip_and_reject_garbage() {
        let c = Cursor {
            timestamp: DateTime::from_timestamp_micros(1_700_000_000_123_456).unwrap(),
            id: 42,
        };
        assert_eq!(c.to_string().parse::<Cursor>().unwrap(), c);
        let g = GroupCursor {
            last_at: c.timestamp,
            group: "Order_12 34".into(),
        };
        assert_eq!(g.to_string().parse::<GroupCursor>().unwrap(), g);
        for bad in ["", "x_1", "1_x", "123"] {
            let err = bad.parse::<Cursor>().unwrap_err();
            assert!(err.to_string().contains("invalid pagination cursor"));
        }
    }
}
