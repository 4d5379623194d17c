//! Opening a django-eventlog database (SQLite or PostgreSQL, read-only) and reading its rows a
//! page at a time.

use std::path::Path;

use chrono::{DateTime, Utc};

use super::row::RawRow;
#[cfg(feature = "sqlite")]
use super::row::parse_sqlite_timestamp;
use super::{DjangoImportError, DjangoSource, RowProblem};

/// Columns every django-eventlog version has.
const REQUIRED_COLUMNS: [&str; 6] = ["id", "type", "group", "timestamp", "message", "initiator"];

pub(super) enum Source {
    #[cfg(feature = "sqlite")]
    Sqlite(sqlx::SqlitePool),
    #[cfg(feature = "postgres")]
    Postgres(sqlx::PgPool),
}

impl DjangoSource {
    #[cfg(feature = "sqlite")]
    pub(super) async fn open_sqlite(
        url: &str,
        path: Option<&Path>,
        redacted: String,
    ) -> Result<Self, DjangoImportError> {
        use std::str::FromStr;

        use sqlx::sqlite::{SqliteConnectOptions, SqlitePoolOptions};

        let open_err = |source: sqlx::Error| DjangoImportError::Open {
            url: redacted.clone(),
            source: source.into(),
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
    pub(super) async fn open_sqlite(
        _: &str,
        _: Option<&Path>,
        _: String,
    ) -> Result<Self, DjangoImportError> {
        Err(DjangoImportError::BackendDisabled(
            crate::store::BackendKind::Sqlite,
        ))
    }

    #[cfg(feature = "postgres")]
    pub(super) async fn open_postgres(
        url: &str,
        redacted: String,
    ) -> Result<Self, DjangoImportError> {
        use std::str::FromStr;

        use sqlx::postgres::{PgConnectOptions, PgPoolOptions};

        let open_err = |source: sqlx::Error| DjangoImportError::Open {
            url: redacted.clone(),
            source: source.into(),
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
    pub(super) async fn open_postgres(_: &str, _: String) -> Result<Self, DjangoImportError> {
        Err(DjangoImportError::BackendDisabled(
            crate::store::BackendKind::Postgres,
        ))
    }

    /// Up to `limit` rows with an id above `after_id`, in id order.
    pub(super) async fn page(
        &self,
        after_id: i64,
        limit: usize,
    ) -> Result<Vec<RawRow>, DjangoImportError> {
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        let sql = sqlx::AssertSqlSafe(self.page_sql.as_str());
        let read = |source: sqlx::Error| DjangoImportError::Read {
            after_id,
            source: source.into(),
        };
        match &self.source {
            // SQLite gives the timestamp as Django wrote it (text), PostgreSQL as a time.
            #[cfg(feature = "sqlite")]
            Source::Sqlite(pool) => {
                let rows: Vec<PageRow<String>> = sqlx::query_as(sql)
                    .bind(after_id)
                    .bind(limit)
                    .fetch_all(pool)
                    .await
                    .map_err(read)?;
                Ok(raw_rows(rows, |ts| parse_sqlite_timestamp(&ts)))
            }
            #[cfg(feature = "postgres")]
            Source::Postgres(pool) => {
                let rows: Vec<PageRow<DateTime<Utc>>> = sqlx::query_as(sql)
                    .bind(after_id)
                    .bind(limit)
                    .fetch_all(pool)
                    .await
                    .map_err(read)?;
                Ok(raw_rows(rows, Ok))
            }
        }
    }
}

/// A row of a page as read: id, type, group, timestamp (as the backend gives it), message,
/// initiator, data.
type PageRow<T> = (
    i64,
    Option<String>,
    Option<String>,
    Option<T>,
    Option<String>,
    Option<String>,
    Option<String>,
);

/// The rows of a page, their timestamps read by `timestamp`.
fn raw_rows<T>(
    rows: Vec<PageRow<T>>,
    timestamp: impl Fn(T) -> Result<DateTime<Utc>, RowProblem>,
) -> Vec<RawRow> {
    rows.into_iter()
        .map(|(id, t, g, ts, m, i, d)| RawRow {
            id,
            event_type: t,
            group: g,
            timestamp: ts.map(&timestamp).transpose(),
            message: m,
            initiator: i,
            data: d,
        })
        .collect()
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
