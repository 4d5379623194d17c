//! Importing a django-eventlog database: the `eventlog_event` table of a Django project.
//!
//! django-eventlog (the Python package eventlog follows) keeps its events in one Django model,
//! table `eventlog_event`: `id`, `type`, `group`, `timestamp`, `message`, `initiator`, and from
//! version 2.0 on `data` (JSON). [`DjangoSource`] reads that table from a SQLite file or a
//! PostgreSQL database, read-only, in pages of rows in id order, and stores every row as an
//! event through [`WriteStore::import_batch`] (no mail is queued for imported events):
//!
//! - types are kept as they are, configured or not: a type no longer configured (a legacy
//!   type) displays as its name in title case, as in django-eventlog's admin;
//! - the timestamp is kept to the microsecond (Django stores UTC; a SQLite database of a
//!   project with `USE_TZ = False` holds local times, which are read as UTC);
//! - `data` is kept as the JSON value it is. django-eventlog stored data that was not
//!   JSON-serializable as a JSON *string* of its Python repr; that string stays a string;
//! - each event's uuid is derived from the row ([`event_uuid`]), so importing the same database
//!   twice stores nothing new.
//!
//! Rows that break eventlog's rules (a group over 40 characters or empty, an empty message, an
//! initiator over 500 characters, a type name eventlog cannot store, an unreadable timestamp or
//! data) can only exist when something other than django-eventlog wrote them (SQLite does not
//! enforce column lengths). They are not stored; each is reported in
//! [`ImportSummary::skipped`] with its row id and the rule, and the rest is imported.
//!
//! ```no_run
//! # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
//! use eventlog::django::DjangoSource;
//!
//! let target = eventlog::store::open("sqlite://events.db").await?;
//! let source = DjangoSource::open("/srv/shop/db.sqlite3").await?;
//! let summary = source.import_into(target.as_ref(), 5_000, |_progress| {}).await?;
//! println!("{} new, {} already present", summary.created, summary.already_present);
//! # Ok(()) }
//! ```

mod row;
mod source;

use std::path::{Path, PathBuf};

use thiserror::Error;

pub use row::event_uuid;
use source::Source;

use crate::error::{StoreError, ValidationError};
use crate::store::WriteStore;

/// The table django-eventlog's `Event` model lives in.
pub const TABLE: &str = "eventlog_event";

/// An error that stops an import.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum DjangoImportError {
    /// A source that is neither a SQLite file nor a PostgreSQL URL.
    #[error(
        "unsupported django-eventlog source {url:?}: expected a SQLite file path, sqlite://PATH or postgres://USER@HOST/DB"
    )]
    UnsupportedUrl {
        /// The source as given (without a password).
        url: String,
    },
    /// A SQLite path that names no file.
    #[error("SQLite database {} does not exist", path.display())]
    NoSuchFile {
        /// The path as given.
        path: PathBuf,
    },
    /// A backend compiled out by cargo features.
    #[error("the {0} backend is not compiled in; enable the cargo feature \"{0}\"")]
    BackendDisabled(crate::store::BackendKind),
    /// The source database could not be opened or asked about its tables.
    #[error("cannot open the django-eventlog database {url}: {source}")]
    Open {
        /// The source (without a password).
        url: String,
        /// The driver's error.
        source: crate::error::DatabaseError,
    },
    /// The source has no `eventlog_event` table.
    #[error(
        "{url} has no table {TABLE}: is it the database of a Django project with django-eventlog installed and migrated?"
    )]
    MissingTable {
        /// The source (without a password).
        url: String,
    },
    /// The table lacks columns django-eventlog's model has.
    #[error(
        "table {TABLE} has no column {}: it is not a django-eventlog table (expected id, type, group, timestamp, message, initiator and, from django-eventlog 2.0 on, data; found {})",
        missing.join(", "),
        found.join(", ")
    )]
    Columns {
        /// The required columns it lacks.
        missing: Vec<String>,
        /// The columns it has.
        found: Vec<String>,
    },
    /// Reading rows from the source failed.
    #[error("reading {TABLE} failed after row id {after_id}: {source}")]
    Read {
        /// The last row id read before the failure (0: none).
        after_id: i64,
        /// The driver's error.
        source: crate::error::DatabaseError,
    },
    /// Storing the events failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Why one source row was not imported.
#[derive(Debug, Clone, PartialEq, Error)]
#[non_exhaustive]
pub enum RowProblem {
    /// A column eventlog needs is NULL.
    #[error("column {0} is NULL")]
    Null(&'static str),
    /// The timestamp text is not a date and time.
    #[error("timestamp {0:?} is not a date and time (expected YYYY-MM-DD HH:MM:SS[.ffffff])")]
    Timestamp(String),
    /// The data column holds text that is not JSON.
    #[error("data is not JSON: {0}")]
    Data(String),
    /// A field breaks one of eventlog's rules.
    #[error(transparent)]
    Invalid(#[from] ValidationError),
}

/// A source row that was not imported, and why.
#[derive(Debug, Clone, PartialEq)]
pub struct SkippedRow {
    /// Its `id` in the source table.
    pub id: i64,
    /// The rule it broke.
    pub problem: RowProblem,
}

/// What an import did so far (passed to the progress callback) or in all.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ImportSummary {
    /// Source rows read.
    pub read: u64,
    /// Events stored by this import.
    pub created: u64,
    /// Rows whose event was already stored (by an earlier import of the same rows).
    pub already_present: u64,
    /// Rows not imported, in id order.
    pub skipped: Vec<SkippedRow>,
}

/// An open django-eventlog database whose `eventlog_event` table has the expected columns.
pub struct DjangoSource {
    source: Source,
    /// The page query, built once for the table's columns.
    page_sql: String,
    has_data: bool,
}

impl std::fmt::Debug for DjangoSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DjangoSource")
            .field("has_data", &self.has_data)
            .finish_non_exhaustive()
    }
}

impl DjangoSource {
    /// Opens a django-eventlog database, read-only, and checks its `eventlog_event` table.
    ///
    /// `url` is a SQLite file path, `sqlite://PATH`, or `postgres://…` / `postgresql://…`.
    pub async fn open(url: &str) -> Result<Self, DjangoImportError> {
        let redacted = crate::store::redact(url);
        let scheme = url.split_once("://").map(|(s, _)| s);
        match scheme {
            Some("postgres" | "postgresql") => Self::open_postgres(url, redacted).await,
            Some("sqlite") => Self::open_sqlite(url, None, redacted).await,
            Some(_) => Err(DjangoImportError::UnsupportedUrl { url: redacted }),
            None if url.starts_with("sqlite:") => Self::open_sqlite(url, None, redacted).await,
            None => Self::open_sqlite(url, Some(Path::new(url)), redacted).await,
        }
    }

    /// Whether the table has django-eventlog 2.x's `data` column (1.x has none).
    pub fn has_data(&self) -> bool {
        self.has_data
    }

    /// Number of rows in the table.
    pub async fn count(&self) -> Result<u64, DjangoImportError> {
        let sql = "SELECT COUNT(*) FROM eventlog_event";
        let read = |source: sqlx::Error| DjangoImportError::Read {
            after_id: 0,
            source: source.into(),
        };
        let n: i64 = match &self.source {
            #[cfg(feature = "sqlite")]
            Source::Sqlite(pool) => sqlx::query_scalar(sql).fetch_one(pool).await,
            #[cfg(feature = "postgres")]
            Source::Postgres(pool) => sqlx::query_scalar(sql).fetch_one(pool).await,
        }
        .map_err(read)?;
        Ok(u64::try_from(n).unwrap_or(0))
    }

    /// Reads every row in id order, `batch` rows at a time, and stores them in `target`, one
    /// [`WriteStore::import_batch`] per page (memory stays bounded by two pages: the next page is
    /// read while the current one is stored). No mail is queued for imported events.
    /// `progress` is called after each page with the totals so far. Rows already imported are
    /// counted in [`ImportSummary::already_present`]; rows breaking eventlog's rules in
    /// [`ImportSummary::skipped`].
    ///
    /// On an error, the pages before it are stored; running the import again continues
    /// safely, since stored rows are recognised by their uuid.
    pub async fn import_into(
        &self,
        target: &dyn WriteStore,
        batch: usize,
        mut progress: impl FnMut(&ImportSummary),
    ) -> Result<ImportSummary, DjangoImportError> {
        let batch = batch.max(1);
        let mut summary = ImportSummary::default();
        let mut rows = self.page(0, batch).await?;
        while let Some(last) = rows.last() {
            let after_id = last.id;
            let full_page = rows.len() == batch;
            let mut events = Vec::with_capacity(rows.len());
            for row in rows {
                summary.read += 1;
                let id = row.id;
                match row.into_event() {
                    Ok(e) => events.push(e),
                    Err(problem) => summary.skipped.push(SkippedRow { id, problem }),
                }
            }
            let store = async {
                if events.is_empty() {
                    Ok(Vec::new())
                } else {
                    target.import_batch(&events).await
                }
            };
            let next = async {
                if full_page {
                    self.page(after_id, batch).await
                } else {
                    Ok(Vec::new())
                }
            };
            let (stored, next) = tokio::join!(store, next);
            for r in stored? {
                if r.created {
                    summary.created += 1;
                } else {
                    summary.already_present += 1;
                }
            }
            progress(&summary);
            rows = next?;
        }
        Ok(summary)
    }

    /// Closes the connection to the source.
    pub async fn close(self) {
        match self.source {
            #[cfg(feature = "sqlite")]
            Source::Sqlite(pool) => pool.close().await,
            #[cfg(feature = "postgres")]
            Source::Postgres(pool) => pool.close().await,
        }
    }
}
