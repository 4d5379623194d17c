//! Declared data keys on PostgreSQL: one expression index per key on `events` (made on
//! every partition of a partitioned table), on the value as a filter compares it and then
//! `(ts, id)`, so that a page of one value's events newest first is one range of it.

use super::PostgresStore;
use crate::error::StoreError;
use crate::store::data_keys::{self, DataKey, DataKeysApplied};

/// The value at `key` as text: `#>>` gives strings unquoted and numbers and booleans as JSON
/// spells them. The path is an array literal of double-quoted names (plain names only, see
/// [`DataKey::parse`]; quoted, so that a key named `NULL` is that name).
pub(super) fn key_text(key: &DataKey) -> String {
    let names: Vec<String> = key.names().map(|n| format!("\"{n}\"")).collect();
    format!("(data #>> '{{{}}}')", names.join(","))
}

impl PostgresStore {
    /// Creates the indexes of `declared` keys that have none and drops those of keys no
    /// longer declared, in one transaction.
    pub(super) async fn apply_data_keys(
        &self,
        declared: &[DataKey],
    ) -> Result<DataKeysApplied, StoreError> {
        let mut tx = self.pool.begin().await?;
        // Indexing millions of events takes longer than a page's statement timeout.
        sqlx::query("SET LOCAL statement_timeout = 0")
            .execute(&mut *tx)
            .await?;
        // One process at a time: two servers starting together would both create an index.
        sqlx::query("LOCK TABLE eventlog_data_keys IN EXCLUSIVE MODE")
            .execute(&mut *tx)
            .await?;
        let existing: Vec<(String, String)> =
            sqlx::query_as("SELECT path, index_name FROM eventlog_data_keys ORDER BY path")
                .fetch_all(&mut *tx)
                .await?;
        let (_, drop) = data_keys::changes(declared, &existing);
        let mut applied = DataKeysApplied::default();
        for (path, index) in drop {
            if !data_keys::safe_index_name(&index) {
                return Err(StoreError::Corrupt(format!(
                    "eventlog_data_keys names the index {index:?}"
                )));
            }
            sqlx::query(sqlx::AssertSqlSafe(format!("DROP INDEX IF EXISTS {index}")))
                .execute(&mut *tx)
                .await?;
            sqlx::query("DELETE FROM eventlog_data_keys WHERE path = $1")
                .bind(&path)
                .execute(&mut *tx)
                .await?;
            applied.dropped.push(path);
        }
        for key in declared {
            let index = key.index_name();
            // By the catalog, not the bookkeeping: an index lost some other way (a table
            // carried over into partitions) is made again.
            let exists: bool = sqlx::query_scalar("SELECT to_regclass($1) IS NOT NULL")
                .bind(&index)
                .fetch_one(&mut *tx)
                .await?;
            if exists {
                continue;
            }
            let sql = format!("CREATE INDEX {index} ON events ({}, ts, id)", key_text(key));
            sqlx::query(sqlx::AssertSqlSafe(sql))
                .execute(&mut *tx)
                .await?;
            sqlx::query(
                "INSERT INTO eventlog_data_keys (path, index_name) VALUES ($1, $2) \
                 ON CONFLICT (path) DO UPDATE SET index_name = excluded.index_name",
            )
            .bind(key.as_str())
            .bind(&index)
            .execute(&mut *tx)
            .await?;
            applied.created.push(key.as_str().to_owned());
        }
        tx.commit().await?;
        Ok(applied)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)] // A test: a panic is the failure report.

    use super::*;
    use crate::store::postgres::read::PgSql;
    use crate::store::sql::list_query;
    use crate::store::{DataMatch, EventFilter, Order, WriteStore};

    /// The plan PostgreSQL makes of the page query of `data.order_id=3`.
    async fn plan(store: &PostgresStore) -> String {
        let filter = EventFilter {
            data: vec![DataMatch {
                path: vec!["order_id".into()],
                value: "3".into(),
            }],
            ..Default::default()
        };
        let qb = list_query::<PgSql>(&filter, Order::Desc, None, 100, None);
        let sql = format!("EXPLAIN {}", qb.sql().as_str());
        let rows: Vec<String> = sqlx::query_scalar(sqlx::AssertSqlSafe(sql))
            .bind("3")
            .bind(101_i64)
            .fetch_all(&store.pool)
            .await
            .unwrap();
        rows.join("\n")
    }

    #[tokio::test]
    async fn a_declared_key_filter_is_read_through_its_index() {
        let db = eventlog_testing::TestDb::postgres().await;
        let store = PostgresStore::connect(db.url()).await.unwrap();
        store.migrate().await.unwrap();
        // Enough events that a planner with statistics prefers an index to reading them all.
        let group = crate::GroupId::named("g").unwrap();
        let events: Vec<crate::NewEvent> = (0..5_000)
            .map(|i| {
                let mut e = crate::NewEvent::new("info", group.clone(), "m");
                e.data = Some(serde_json::json!({"order_id": i}));
                e
            })
            .collect();
        store.insert_batch(&events).await.unwrap();
        sqlx::query("ANALYZE events")
            .execute(&store.pool)
            .await
            .unwrap();
        let before = plan(&store).await;
        assert!(!before.contains("Index Cond: ((data #>>"), "{before}");
        store
            .index_data_keys(&[DataKey::parse("order_id").unwrap()])
            .await
            .unwrap();
        sqlx::query("ANALYZE events")
            .execute(&store.pool)
            .await
            .unwrap();
        let after = plan(&store).await;
        assert!(
            after.contains("Index Cond: ((data #>> '{order_id}'::text[]) = '3'::text)")
                || after.contains("Index Cond: ((data #>> '{order_id}'::text[]) = $1)"),
            "{after}"
        );
        // Only partitions without events (nothing to read) are scanned.
        assert!(
            after
                .lines()
                .filter(|l| l.contains("Seq Scan"))
                .all(|l| l.contains("cost=0.00..0.00")),
            "{after}"
        );
    }
}
