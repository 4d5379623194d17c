//! Declared data keys on SQLite: one expression index per key, on the value as a filter
//! compares it (see [`SqliteSql::data_key_text`]) and then the time, so that a page of one
//! value's events newest first is one range of the index.

use sqlx::{Sqlite, pool::PoolConnection};

use super::SqliteStore;
use super::read::SqliteSql;
use crate::error::StoreError;
use crate::store::data_keys::{self, DataKey, DataKeysApplied};
use crate::store::sql::Dialect;

impl SqliteStore {
    /// Creates the indexes of `declared` keys that have none and drops those of keys no
    /// longer declared, in one write transaction.
    pub(super) async fn apply_data_keys(
        &self,
        declared: &[DataKey],
    ) -> Result<DataKeysApplied, StoreError> {
        let mut conn = self.begin_write().await?;
        let work = apply_in(&mut conn, declared).await;
        self.finish(conn, work).await
    }
}

async fn apply_in(
    conn: &mut PoolConnection<Sqlite>,
    declared: &[DataKey],
) -> Result<DataKeysApplied, StoreError> {
    let existing: Vec<(String, String)> =
        sqlx::query_as("SELECT path, index_name FROM eventlog_data_keys ORDER BY path")
            .fetch_all(&mut **conn)
            .await?;
    let (_, drop) = data_keys::changes(declared, &existing);
    let mut applied = DataKeysApplied::default();
    for (path, index) in drop {
        // The name comes from the bookkeeping table, which only ever holds names made by
        // `DataKey::index_name`; checked again so that nothing else is ever spliced.
        if !data_keys::safe_index_name(&index) {
            return Err(StoreError::Corrupt(format!(
                "eventlog_data_keys names the index {index:?}"
            )));
        }
        sqlx::query(sqlx::AssertSqlSafe(format!("DROP INDEX IF EXISTS {index}")))
            .execute(&mut **conn)
            .await?;
        sqlx::query("DELETE FROM eventlog_data_keys WHERE path = ?")
            .bind(&path)
            .execute(&mut **conn)
            .await?;
        applied.dropped.push(path);
    }
    for key in declared {
        let index = key.index_name();
        // By the catalog, not the bookkeeping: an index lost some other way is made again.
        let exists: Option<i64> =
            sqlx::query_scalar("SELECT 1 FROM sqlite_master WHERE type = 'index' AND name = ?")
                .bind(&index)
                .fetch_optional(&mut **conn)
                .await?;
        if exists.is_some() {
            continue;
        }
        // The key is a path of plain names (checked by `DataKey::parse`): safe as a literal.
        let sql = format!(
            "CREATE INDEX IF NOT EXISTS {index} ON events ({}, ts)",
            SqliteSql::data_key_text(key)
        );
        sqlx::query(sqlx::AssertSqlSafe(sql))
            .execute(&mut **conn)
            .await?;
        sqlx::query(
            "INSERT INTO eventlog_data_keys (path, index_name) VALUES (?, ?) \
             ON CONFLICT (path) DO UPDATE SET index_name = excluded.index_name",
        )
        .bind(key.as_str())
        .bind(&index)
        .execute(&mut **conn)
        .await?;
        applied.created.push(key.as_str().to_owned());
    }
    Ok(applied)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)] // A test: a panic is the failure report.

    use super::*;
    use crate::store::sql::list_query;
    use crate::store::{DataMatch, EventFilter, Order, WriteStore};

    /// The plan SQLite makes of the page query of `data.PATH=3`.
    async fn plan(store: &SqliteStore, path: &str) -> String {
        let filter = EventFilter {
            data: vec![DataMatch {
                path: path.split('.').map(str::to_owned).collect(),
                value: "3".into(),
            }],
            ..Default::default()
        };
        let qb = list_query::<SqliteSql>(&filter, Order::Desc, None, 100, None);
        let sql = format!("EXPLAIN QUERY PLAN {}", qb.sql().as_str());
        // An EXPLAIN reads no table, so it never notices that another connection changed the
        // schema: a statement that reads one first makes this connection load the new schema.
        let mut conn = store.pool().acquire().await.unwrap();
        sqlx::query("SELECT count(*) FROM sqlite_master")
            .execute(&mut *conn)
            .await
            .unwrap();
        let rows: Vec<(i64, i64, i64, String)> = sqlx::query_as(sqlx::AssertSqlSafe(sql))
            .persistent(false)
            .bind("3")
            .bind("3")
            .bind(101_i64)
            .fetch_all(&mut *conn)
            .await
            .unwrap();
        let plan = rows.into_iter().map(|r| r.3).collect::<Vec<_>>().join("\n");
        format!("{plan}\n{}", qb.sql().as_str())
    }

    #[tokio::test]
    async fn a_declared_key_filter_is_read_through_its_index() {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}", dir.path().join("keys.db").display());
        let store = SqliteStore::connect(&url).await.unwrap();
        store.migrate().await.unwrap();
        let key = DataKey::parse("customer.id").unwrap();
        let before = plan(&store, "customer.id").await;
        assert!(!before.contains("events_data_"), "{before}");
        store
            .index_data_keys(std::slice::from_ref(&key))
            .await
            .unwrap();
        let after = plan(&store, "customer.id").await;
        // One range of the index, in the page's order: no sort of the matches.
        assert!(
            after.contains(&format!("SEARCH events USING INDEX {}", key.index_name())),
            "{after}"
        );
        assert!(!after.contains("TEMP B-TREE"), "{after}");
        store.index_data_keys(&[]).await.unwrap();
        assert!(!plan(&store, "customer.id").await.contains("events_data_"));
    }
}
