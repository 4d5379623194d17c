//! Importing a django-eventlog database: the `eventlog_event` table of a Django project.
//!
//! django-eventlog (the Python package eventlog follows) keeps its events in one Django model,
//! table `eventlog_event`: `id`, `type`, `group`, `timestamp`, `message`, `initiator`, and from
//! version 2.0 on `data` (JSON). [`DjangoSource`] reads that table from a SQLite file or a
//! PostgreSQL database, read-only, in pages of rows in id order, and stores every row as an
//! event through [`Store::import_batch`] (no mail is queued for imported events):
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

use std::path::{Path, PathBuf};

use chrono::{DateTime, NaiveDateTime, SubsecRound, Utc};
use sha2::{Digest, Sha256};
use thiserror::Error;
use uuid::Uuid;

use crate::error::{StoreError, ValidationError};
use crate::event::{GroupId, NewEvent};
use crate::store::Store;

/// The table django-eventlog's `Event` model lives in.
pub const TABLE: &str = "eventlog_event";

/// Columns every django-eventlog version has.
const REQUIRED_COLUMNS: [&str; 6] = ["id", "type", "group", "timestamp", "message", "initiator"];

/// Namespace of the uuids derived from django-eventlog rows (a fixed random value: it only has
/// to differ from every other use of name-based uuids).
const UUID_NAMESPACE: Uuid = Uuid::from_u128(0x5d1c_5a2e_8f0b_4c57_9a43_6e1f_d2b8_7c90);

/// An error that stops an import.
#[derive(Debug, Error)]
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
    #[error("the {0} backend is not compiled in; enable the cargo feature {0:?}")]
    BackendDisabled(&'static str),
    /// The source database could not be opened or asked about its tables.
    #[error("cannot open the django-eventlog database {url}: {source}")]
    Open {
        /// The source (without a password).
        url: String,
        /// The driver's error.
        source: sqlx::Error,
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
        source: sqlx::Error,
    },
    /// Storing the events failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Why one source row was not imported.
#[derive(Debug, Clone, PartialEq, Error)]
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
struct RawRow {
    id: i64,
    event_type: Option<String>,
    group: Option<String>,
    timestamp: Result<Option<DateTime<Utc>>, RowProblem>,
    message: Option<String>,
    initiator: Option<String>,
    data: Option<String>,
}

impl RawRow {
    /// The event this row becomes, or why it cannot.
    fn into_event(self) -> Result<NewEvent, RowProblem> {
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
        };
        event.validate()?;
        Ok(event)
    }
}

/// Parses a timestamp as Django's SQLite backend writes it: `YYYY-MM-DD HH:MM:SS[.ffffff]` in
/// UTC (no fraction when the microseconds are 0), also accepting a `T` separator and an offset.
#[cfg_attr(not(feature = "sqlite"), allow(dead_code))]
fn parse_sqlite_timestamp(text: &str) -> Result<DateTime<Utc>, RowProblem> {
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

enum Source {
    #[cfg(feature = "sqlite")]
    Sqlite(sqlx::SqlitePool),
    #[cfg(feature = "postgres")]
    Postgres(sqlx::PgPool),
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

    #[cfg(feature = "sqlite")]
    async fn open_sqlite(
        url: &str,
        path: Option<&Path>,
        redacted: String,
    ) -> Result<Self, DjangoImportError> {
        use std::str::FromStr;

        use sqlx::sqlite::{SqliteConnectOptions, SqlitePoolOptions};

        let open_err = |source| DjangoImportError::Open {
            url: redacted.clone(),
            source,
        };
        let options = match path {
            Some(path) => {
                if !path.is_file() {
                    return Err(DjangoImportError::NoSuchFile {
                        path: path.to_owned(),
                    });
                }
                SqliteConnectOptions::new().filename(path)
            }
            None => SqliteConnectOptions::from_str(url).map_err(open_err)?,
        }
        // Read-only: the import never changes the Django project's database.
        .read_only(true)
        .create_if_missing(false);
        let pool = SqlitePoolOptions::new()
            .max_connections(1)
            .connect_with(options)
            .await
            .map_err(open_err)?;
        let columns: Vec<String> =
            sqlx::query_scalar("SELECT name FROM pragma_table_info('eventlog_event')")
                .fetch_all(&pool)
                .await
                .map_err(open_err)?;
        let has_data = check_columns(&columns, &redacted)?;
        // CAST: SQLite columns take any value; text is what eventlog stores.
        let data = if has_data {
            "CAST(data AS TEXT)"
        } else {
            "NULL"
        };
        let page_sql = format!(
            "SELECT id, CAST(type AS TEXT), CAST(\"group\" AS TEXT), CAST(\"timestamp\" AS TEXT), \
             CAST(message AS TEXT), CAST(initiator AS TEXT), {data} \
             FROM eventlog_event WHERE id > ?1 ORDER BY id LIMIT ?2"
        );
        Ok(DjangoSource {
            source: Source::Sqlite(pool),
            page_sql,
            has_data,
        })
    }

    #[cfg(not(feature = "sqlite"))]
    async fn open_sqlite(_: &str, _: Option<&Path>, _: String) -> Result<Self, DjangoImportError> {
        Err(DjangoImportError::BackendDisabled("sqlite"))
    }

    #[cfg(feature = "postgres")]
    async fn open_postgres(url: &str, redacted: String) -> Result<Self, DjangoImportError> {
        use std::str::FromStr;

        use sqlx::postgres::{PgConnectOptions, PgPoolOptions};

        let open_err = |source| DjangoImportError::Open {
            url: redacted.clone(),
            source,
        };
        let options = PgConnectOptions::from_str(url)
            .map_err(open_err)?
            .application_name("eventlog import --from-django");
        let pool = PgPoolOptions::new()
            .max_connections(1)
            // The import only reads; a read-only session makes sure of it.
            .after_connect(|conn, _| {
                Box::pin(async move {
                    sqlx::raw_sql("SET SESSION CHARACTERISTICS AS TRANSACTION READ ONLY")
                        .execute(conn)
                        .await
                        .map(|_| ())
                })
            })
            .connect_with(options)
            .await
            .map_err(open_err)?;
        let columns: Vec<(String, String)> = sqlx::query_as(
            "SELECT column_name::text, data_type::text FROM information_schema.columns \
             WHERE table_name = 'eventlog_event' AND table_schema = current_schema()",
        )
        .fetch_all(&pool)
        .await
        .map_err(open_err)?;
        let names: Vec<String> = columns.iter().map(|(n, _)| n.clone()).collect();
        let has_data = check_columns(&names, &redacted)?;
        // A project with USE_TZ = False has a column without time zone holding UTC-less
        // times; read them as UTC like the SQLite ones.
        let naive = columns
            .iter()
            .any(|(n, t)| n == "timestamp" && t == "timestamp without time zone");
        let ts = if naive {
            "(\"timestamp\" AT TIME ZONE 'UTC')"
        } else {
            "\"timestamp\""
        };
        let data = if has_data { "data::text" } else { "NULL::text" };
        let page_sql = format!(
            "SELECT id::bigint, type::text, \"group\"::text, {ts}, message::text, \
             initiator::text, {data} FROM eventlog_event WHERE id > $1 ORDER BY id LIMIT $2"
        );
        Ok(DjangoSource {
            source: Source::Postgres(pool),
            page_sql,
            has_data,
        })
    }

    #[cfg(not(feature = "postgres"))]
    async fn open_postgres(_: &str, _: String) -> Result<Self, DjangoImportError> {
        Err(DjangoImportError::BackendDisabled("postgres"))
    }

    /// Number of rows in the table.
    pub async fn count(&self) -> Result<u64, DjangoImportError> {
        let sql = "SELECT COUNT(*) FROM eventlog_event";
        let read = |source| DjangoImportError::Read {
            after_id: 0,
            source,
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

    /// Up to `limit` rows with an id above `after_id`, in id order.
    async fn page(&self, after_id: i64, limit: usize) -> Result<Vec<RawRow>, DjangoImportError> {
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        let sql = sqlx::AssertSqlSafe(self.page_sql.as_str());
        let read = |source| DjangoImportError::Read { after_id, source };
        match &self.source {
            #[cfg(feature = "sqlite")]
            Source::Sqlite(pool) => {
                type Row = (
                    i64,
                    Option<String>,
                    Option<String>,
                    Option<String>,
                    Option<String>,
                    Option<String>,
                    Option<String>,
                );
                let rows: Vec<Row> = sqlx::query_as(sql)
                    .bind(after_id)
                    .bind(limit)
                    .fetch_all(pool)
                    .await
                    .map_err(read)?;
                Ok(rows
                    .into_iter()
                    .map(|(id, t, g, ts, m, i, d)| RawRow {
                        id,
                        event_type: t,
                        group: g,
                        timestamp: ts.map(|ts| parse_sqlite_timestamp(&ts)).transpose(),
                        message: m,
                        initiator: i,
                        data: d,
                    })
                    .collect())
            }
            #[cfg(feature = "postgres")]
            Source::Postgres(pool) => {
                type Row = (
                    i64,
                    Option<String>,
                    Option<String>,
                    Option<DateTime<Utc>>,
                    Option<String>,
                    Option<String>,
                    Option<String>,
                );
                let rows: Vec<Row> = sqlx::query_as(sql)
                    .bind(after_id)
                    .bind(limit)
                    .fetch_all(pool)
                    .await
                    .map_err(read)?;
                Ok(rows
                    .into_iter()
                    .map(|(id, t, g, ts, m, i, d)| RawRow {
                        id,
                        event_type: t,
                        group: g,
                        timestamp: Ok(ts),
                        message: m,
                        initiator: i,
                        data: d,
                    })
                    .collect())
            }
        }
    }

    /// Reads every row in id order, `batch` rows at a time, and stores them in `target`, one
    /// [`Store::import_batch`] per page (memory stays bounded by two pages: the next page is
    /// read while the current one is stored). No mail is queued for imported events.
    /// `progress` is called after each page with the totals so far. Rows already imported are
    /// counted in [`ImportSummary::already_present`]; rows breaking eventlog's rules in
    /// [`ImportSummary::skipped`].
    ///
    /// On an error, the pages before it are stored; running the import again continues
    /// safely, since stored rows are recognised by their uuid.
    pub async fn import_into(
        &self,
        target: &dyn Store,
        batch: usize,
        mut progress: impl FnMut(&ImportSummary),
    ) -> Result<ImportSummary, DjangoImportError> {
        let batch = batch.max(1);
        let mut summary = ImportSummary::default();
        let mut rows = self.page(0, batch).await?;
        loop {
            let Some(last) = rows.last() else {
                break;
            };
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

/// Checks the table's columns; returns whether it has `data` (django-eventlog 2.x).
fn check_columns(found: &[String], url: &str) -> Result<bool, DjangoImportError> {
    if found.is_empty() {
        return Err(DjangoImportError::MissingTable {
            url: url.to_owned(),
        });
    }
    let missing: Vec<String> = REQUIRED_COLUMNS
        .iter()
        .filter(|c| !found.iter().any(|f| f == *c))
        .map(|c| (*c).to_owned())
        .collect();
    if !missing.is_empty() {
        return Err(DjangoImportError::Columns {
            missing,
            found: found.to_vec(),
        });
    }
    Ok(found.iter().any(|f| f == "data"))
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

    #[test]
    fn columns_missing_or_table_missing_are_named() {
        let none: Vec<String> = vec![];
        assert!(matches!(
            check_columns(&none, "x"),
            Err(DjangoImportError::MissingTable { .. })
        ));
        let cols: Vec<String> = ["id", "type", "group", "timestamp", "message"]
            .map(String::from)
            .to_vec();
        let err = check_columns(&cols, "x").unwrap_err();
        assert!(err.to_string().contains("has no column initiator"), "{err}");
        let mut v1 = cols.clone();
        v1.push("initiator".into());
        assert!(!check_columns(&v1, "x").unwrap());
        v1.push("data".into());
        assert!(check_columns(&v1, "x").unwrap());
    }
}
