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
