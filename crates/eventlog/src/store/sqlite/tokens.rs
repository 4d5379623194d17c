//! API tokens in SQLite.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use sqlx::Row;

use super::{SqliteStore, micros_to_time};
use crate::error::StoreError;
use crate::store::TokenStore;
use crate::store::tokens::{LAST_USED_RESOLUTION_SECS, TokenInfo};

#[async_trait]
impl TokenStore for SqliteStore {
    async fn insert_token_hash(
        &self,
        name: &str,
        hash: &str,
        created_at: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        let done = sqlx::query(
            "INSERT INTO api_tokens (name, token_hash, created_at) VALUES (?, ?, ?) \
             ON CONFLICT (name) DO NOTHING",
        )
        .bind(name)
        .bind(hash)
        .bind(created_at.timestamp_micros())
        .execute(self.pool())
        .await?;
        Ok(done.rows_affected() == 1)
    }

    async fn list_tokens(&self) -> Result<Vec<TokenInfo>, StoreError> {
        let rows =
            sqlx::query("SELECT name, created_at, last_used_at FROM api_tokens ORDER BY name")
                .fetch_all(self.pool())
                .await?;
        rows.iter()
            .map(|r| {
                Ok(TokenInfo {
                    name: r.try_get("name")?,
                    created_at: micros_to_time(r.try_get("created_at")?)?,
                    last_used_at: r
                        .try_get::<Option<i64>, _>("last_used_at")?
                        .map(micros_to_time)
                        .transpose()?,
                })
            })
            .collect()
    }

    async fn revoke_token(&self, name: &str) -> Result<bool, StoreError> {
        let done = sqlx::query("DELETE FROM api_tokens WHERE name = ?")
            .bind(name)
            .execute(self.pool())
            .await?;
        Ok(done.rows_affected() > 0)
    }

    async fn token_name_by_hash(
        &self,
        hash: &str,
        now: DateTime<Utc>,
    ) -> Result<Option<String>, StoreError> {
        let row = sqlx::query("SELECT name, last_used_at FROM api_tokens WHERE token_hash = ?")
            .bind(hash)
            .fetch_optional(self.pool())
            .await?;
        let Some(row) = row else { return Ok(None) };
        let name: String = row.try_get("name")?;
        let last: Option<i64> = row.try_get("last_used_at")?;
        let now = now.timestamp_micros();
        // Only a stale timestamp costs a write (SQLite has one writer at a time).
        if last.is_none_or(|t| now - t >= LAST_USED_RESOLUTION_SECS * 1_000_000) {
            sqlx::query("UPDATE api_tokens SET last_used_at = ? WHERE token_hash = ?")
                .bind(now)
                .bind(hash)
                .execute(self.pool())
                .await?;
        }
        Ok(Some(name))
    }
}
