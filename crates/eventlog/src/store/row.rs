//! Reading a stored row's columns the same way on both backends, so that the mapping of rows
//! to events, group summaries, users, sessions and tokens is written once: only the SQL
//! differs per backend. Times are `TIMESTAMPTZ` in PostgreSQL and microseconds since the Unix
//! epoch (UTC) in SQLite; `data` is `JSONB` in PostgreSQL and JSON text in SQLite; a list of
//! texts is an array in PostgreSQL and comma-separated (`group_concat`) in SQLite.

use chrono::{DateTime, Utc};
use sqlx::Row as _;

use crate::error::StoreError;
use crate::event::Event;
use crate::store::GroupSummary;

/// A time as SQLite stores it: microseconds since the Unix epoch (UTC).
#[cfg(feature = "sqlite")]
pub(crate) fn time_to_micros(time: DateTime<Utc>) -> i64 {
    time.timestamp_micros()
}

/// A time SQLite stored (microseconds since the Unix epoch, UTC); out of range is corrupt data.
#[cfg(feature = "sqlite")]
pub(crate) fn micros_to_time(micros: i64) -> Result<DateTime<Utc>, StoreError> {
    DateTime::from_timestamp_micros(micros)
        .ok_or_else(|| StoreError::Corrupt(format!("timestamp {micros} out of range")))
}

/// The columns of a row, by name.
pub(crate) trait StoredRow {
    /// A text column.
    fn text(&self, column: &str) -> Result<String, StoreError>;
    /// A text column that may be NULL.
    fn opt_text(&self, column: &str) -> Result<Option<String>, StoreError>;
    /// A JSON column that may be NULL.
    fn json(&self, column: &str) -> Result<Option<serde_json::Value>, StoreError>;
    /// A list of texts (NULL: none).
    fn text_list(&self, column: &str) -> Result<Vec<String>, StoreError>;
    /// An integer column.
    fn int(&self, column: &str) -> Result<i64, StoreError>;
    /// A time column.
    fn time(&self, column: &str) -> Result<DateTime<Utc>, StoreError>;
    /// A time column that may be NULL.
    fn opt_time(&self, column: &str) -> Result<Option<DateTime<Utc>>, StoreError>;
    /// A uuid column.
    fn uuid(&self, column: &str) -> Result<uuid::Uuid, StoreError>;
}

/// [`StoredRow`] methods for columns the driver decodes into the wanted type as they are.
macro_rules! decoded_as_stored {
    ($($method:ident: $ty:ty),+ $(,)?) => {
        $(
            fn $method(&self, column: &str) -> Result<$ty, StoreError> {
                Ok(self.try_get(column)?)
            }
        )+
    };
}

#[cfg(feature = "sqlite")]
impl StoredRow for sqlx::sqlite::SqliteRow {
    decoded_as_stored!(text: String, opt_text: Option<String>, int: i64, uuid: uuid::Uuid);

    fn json(&self, column: &str) -> Result<Option<serde_json::Value>, StoreError> {
        self.try_get::<Option<String>, _>(column)?
            .map(|text| {
                serde_json::from_str(&text)
                    .map_err(|e| StoreError::Corrupt(format!("{column} is not JSON: {e}")))
            })
            .transpose()
    }
    fn text_list(&self, column: &str) -> Result<Vec<String>, StoreError> {
        Ok(self
            .try_get::<Option<String>, _>(column)?
            .map(|t| {
                t.split(',')
                    .filter(|s| !s.is_empty())
                    .map(str::to_owned)
                    .collect()
            })
            .unwrap_or_default())
    }
    fn time(&self, column: &str) -> Result<DateTime<Utc>, StoreError> {
        micros_to_time(self.try_get(column)?)
    }
    fn opt_time(&self, column: &str) -> Result<Option<DateTime<Utc>>, StoreError> {
        self.try_get::<Option<i64>, _>(column)?
            .map(micros_to_time)
            .transpose()
    }
}

// PostgreSQL has the types themselves: TIMESTAMPTZ, JSONB, text arrays.
#[cfg(feature = "postgres")]
impl StoredRow for sqlx::postgres::PgRow {
    decoded_as_stored!(
        text: String,
        opt_text: Option<String>,
        int: i64,
        uuid: uuid::Uuid,
        json: Option<serde_json::Value>,
        text_list: Vec<String>,
        time: DateTime<Utc>,
        opt_time: Option<DateTime<Utc>>,
    );
}

/// An event from a row with the columns of [`crate::store::sql::EVENT_COLUMNS`].
pub(crate) fn event_from_row(row: &impl StoredRow) -> Result<Event, StoreError> {
    Ok(Event {
        id: row.int("id")?,
        uuid: row.uuid("uuid")?,
        event_type: row.text("event_type")?,
        group: row.text("group_id")?,
        timestamp: row.time("ts")?,
        message: row.text("message")?,
        data: row.json("data")?,
        initiator: row.opt_text("initiator")?,
        send_mail: row.opt_text("send_mail")?,
    })
}

/// A group's summary from a row with the columns of a dialect's `GROUP_COLUMNS`.
pub(crate) fn group_from_row(row: &impl StoredRow) -> Result<GroupSummary, StoreError> {
    Ok(GroupSummary {
        group: row.text("group_id")?,
        first_at: row.time("first_at")?,
        last_at: row.time("last_at")?,
        event_count: row.int("event_count")?,
        types: row.text_list("types")?,
    })
}
