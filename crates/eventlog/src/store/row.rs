//! Reading a stored row's columns the same way on both backends, so that the mapping of rows
//! to users, sessions and tokens is written once: only the SQL differs per backend. Times are
//! `TIMESTAMPTZ` in PostgreSQL and microseconds since the Unix epoch (UTC) in SQLite.

use chrono::{DateTime, Utc};
use sqlx::Row as _;

use crate::error::StoreError;

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
    /// An integer column.
    fn int(&self, column: &str) -> Result<i64, StoreError>;
    /// A time column.
    fn time(&self, column: &str) -> Result<DateTime<Utc>, StoreError>;
    /// A time column that may be NULL.
    fn opt_time(&self, column: &str) -> Result<Option<DateTime<Utc>>, StoreError>;
    /// A uuid column.
    fn uuid(&self, column: &str) -> Result<uuid::Uuid, StoreError>;
}

#[cfg(feature = "sqlite")]
impl StoredRow for sqlx::sqlite::SqliteRow {
    fn text(&self, column: &str) -> Result<String, StoreError> {
        Ok(self.try_get(column)?)
    }
    fn int(&self, column: &str) -> Result<i64, StoreError> {
        Ok(self.try_get(column)?)
    }
    fn time(&self, column: &str) -> Result<DateTime<Utc>, StoreError> {
        micros_to_time(self.try_get(column)?)
    }
    fn opt_time(&self, column: &str) -> Result<Option<DateTime<Utc>>, StoreError> {
        self.try_get::<Option<i64>, _>(column)?
            .map(micros_to_time)
            .transpose()
    }
    fn uuid(&self, column: &str) -> Result<uuid::Uuid, StoreError> {
        Ok(self.try_get(column)?)
    }
}

#[cfg(feature = "postgres")]
impl StoredRow for sqlx::postgres::PgRow {
    fn text(&self, column: &str) -> Result<String, StoreError> {
        Ok(self.try_get(column)?)
    }
    fn int(&self, column: &str) -> Result<i64, StoreError> {
        Ok(self.try_get(column)?)
    }
    fn time(&self, column: &str) -> Result<DateTime<Utc>, StoreError> {
        Ok(self.try_get(column)?)
    }
    fn opt_time(&self, column: &str) -> Result<Option<DateTime<Utc>>, StoreError> {
        Ok(self.try_get(column)?)
    }
    fn uuid(&self, column: &str) -> Result<uuid::Uuid, StoreError> {
        Ok(self.try_get(column)?)
    }
}
