//! API tokens in PostgreSQL.

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use super::PostgresStore;
use crate::error::StoreError;
use crate::store::TokenStore;
use crate::store::tokens::{
    TokenInfo, TokenScope, VerifiedToken, token_info_from_row, token_needs_touch, verified_from_row,
};

#[async_trait]
impl TokenStore for PostgresStore {
    async fn insert_token_hash(
        &self,
        name: &str,
        hash: &str,
        scope: TokenScope,
        created_at: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        let done = sqlx::query(
            "INSERT INTO api_tokens (name, token_hash, scope, created_at) VALUES ($1, $2, $3, $4) \
             ON CONFLICT (name) DO NOTHING",
        )
        .bind(name)
        .bind(hash)
        .bind(scope.as_str())
        .bind(created_at)
        .execute(self.pool())
        .await?;
        Ok(done.rows_affected() == 1)
    }

    async fn list_tokens(&self) -> Result<Vec<TokenInfo>, StoreError> {
        let rows = sqlx::query(
            "SELECT name, scope, created_at, last_used_at FROM api_tokens ORDER BY name",
        )
        .fetch_all(self.pool())
        .await?;
        rows.iter().map(token_info_from_row).collect()
    }

    async fn revoke_token(&self, name: &str) -> Result<bool, StoreError> {
        let done = sqlx::query("DELETE FROM api_tokens WHERE name = $1")
            .bind(name)
            .execute(self.pool())
            .await?;
        Ok(done.rows_affected() > 0)
    }

    async fn token_by_hash(
        &self,
        hash: &str,
        now: DateTime<Utc>,
    ) -> Result<Option<VerifiedToken>, StoreError> {
        let row =
            sqlx::query("SELECT name, scope, last_used_at FROM api_tokens WHERE token_hash = $1")
                .bind(hash)
                .fetch_optional(self.pool())
                .await?;
        let Some(row) = row else { return Ok(None) };
        let (token, last_used) = verified_from_row(&row)?;
        if token_needs_touch(last_used, now) {
            sqlx::query("UPDATE api_tokens SET last_used_at = $1 WHERE token_hash = $2")
                .bind(now)
                .bind(hash)
                .execute(self.pool())
                .await?;
        }
        Ok(Some(token))
    }
}
