//! API tokens: bearer secrets for `/api/v1`, of which the store keeps only a SHA-256 hash.
//!
//! A token is `evl_` followed by 64 hex digits (32 random bytes from the operating system). It
//! is shown once, when created; afterwards nobody, not even the database, can recover it.
//! The four storage methods run the same statements on every backend; creating and verifying
//! are built on them.
//!
//! Each token has a [`TokenScope`]: what it may do. An application that only records events
//! embeds an `ingest` token, so a leaked copy cannot read the log.

use std::fmt::Write as _;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use thiserror::Error;

use crate::error::StoreError;
use crate::store::pool::{HasSqlPool, mark_seen, on_pool};
use crate::store::row::StoredRow;

/// Every token starts with this, so leaked tokens are easy to recognise (and to scan for).
pub const TOKEN_PREFIX: &str = "evl_";
/// Longest token name, in characters.
pub const MAX_TOKEN_NAME_LEN: usize = 100;
/// `last_used_at` is refreshed at most this often, so that authenticating a busy client is a
/// read, not a write per request.
pub const LAST_USED_RESOLUTION_SECS: i64 = 60;

/// What a token may do with the API.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TokenScope {
    /// Record events (`POST /api/v1/events`), nothing else: what an application embeds.
    Ingest,
    /// Read events and groups (every `GET`), nothing else.
    Read,
    /// Both. Tokens made before scopes existed have this scope.
    All,
}

crate::enum_words::enum_words! {
    /// `"ingest"`, `"read"` or `"all"`, as stored.
    pub fn as_str for TokenScope {
        Ingest => "ingest",
        Read => "read",
        All => "all",
    }
    FromStr: StoreError = |unknown| StoreError::Corrupt(format!(
        "unknown token scope {unknown:?}: expected ingest, read or all"
    ))
}

impl TokenScope {
    /// Whether a token of this scope may record events.
    pub fn can_ingest(self) -> bool {
        matches!(self, TokenScope::Ingest | TokenScope::All)
    }

    /// Whether a token of this scope may read events and groups.
    pub fn can_read(self) -> bool {
        matches!(self, TokenScope::Read | TokenScope::All)
    }
}

/// A valid token presented by a client: whose it is and what it may do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifiedToken {
    /// The token's name.
    pub name: String,
    /// What it may do.
    pub scope: TokenScope,
}

/// A token as listed: its name, scope and dates, never the secret.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TokenInfo {
    /// The unique name given at creation ("ci", "billing-service").
    pub name: String,
    /// What it may do.
    pub scope: TokenScope,
    /// When it was created.
    pub created_at: DateTime<Utc>,
    /// When it last authenticated a request (to the minute), if ever.
    pub last_used_at: Option<DateTime<Utc>>,
}

/// Why a token could not be created.
#[derive(Debug, Error)]
pub enum TokenError {
    /// The name is empty, too long or contains whitespace or control characters.
    #[error(
        "token name {0:?} is invalid: a token name must be 1 to 100 characters without spaces or control characters"
    )]
    InvalidName(String),
    /// Another token already has the name.
    #[error("a token named {0:?} already exists; revoke it first or choose another name")]
    Exists(String),
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// The SHA-256 hash of a token, as stored (64 lowercase hex digits).
pub fn hash_token(token: &str) -> String {
    let digest = Sha256::digest(token.as_bytes());
    let mut hex = String::with_capacity(64);
    for b in digest {
        let _ = write!(hex, "{b:02x}");
    }
    hex
}

/// A fresh random token: `evl_` and 32 random bytes as hex.
pub fn generate_token() -> Result<String, StoreError> {
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes).map_err(|e| StoreError::Randomness {
        reason: e.to_string(),
    })?;
    let mut token = String::with_capacity(TOKEN_PREFIX.len() + 64);
    token.push_str(TOKEN_PREFIX);
    for b in bytes {
        let _ = write!(token, "{b:02x}");
    }
    Ok(token)
}

/// Checks a token name.
pub fn validate_token_name(name: &str) -> Result<(), TokenError> {
    let len = name.chars().count();
    if (1..=MAX_TOKEN_NAME_LEN).contains(&len)
        && !name.chars().any(|c| c.is_whitespace() || c.is_control())
    {
        Ok(())
    } else {
        Err(TokenError::InvalidName(name.to_owned()))
    }
}

/// A listed token from a row with the columns `name`, `scope`, `created_at`, `last_used_at`.
pub(crate) fn token_info_from_row(row: &impl StoredRow) -> Result<TokenInfo, StoreError> {
    Ok(TokenInfo {
        name: row.text("name")?,
        scope: row.text("scope")?.parse()?,
        created_at: row.time("created_at")?,
        last_used_at: row.opt_time("last_used_at")?,
    })
}

/// A presented token, and when it was last used, from a row with the columns `name`,
/// `scope`, `last_used_at`.
pub(crate) fn verified_from_row(
    row: &impl StoredRow,
) -> Result<(VerifiedToken, Option<DateTime<Utc>>), StoreError> {
    let token = VerifiedToken {
        name: row.text("name")?,
        scope: row.text("scope")?.parse()?,
    };
    Ok((token, row.opt_time("last_used_at")?))
}

/// Whether a token last used at `last` is to be marked as used at `now`: only a stale
/// timestamp costs a write (SQLite has one writer at a time).
pub(crate) fn token_needs_touch(last: Option<DateTime<Utc>>, now: DateTime<Utc>) -> bool {
    last.is_none_or(|t| (now - t).num_seconds() >= LAST_USED_RESOLUTION_SECS)
}

/// Storage of API tokens (only their hashes), written once for every backend: the same
/// statements on each backend's pool.
#[async_trait]
pub trait TokenStore: HasSqlPool {
    /// Stores a token hash under a name; `false` when the name is taken (nothing stored).
    async fn insert_token_hash(
        &self,
        name: &str,
        hash: &str,
        scope: TokenScope,
        created_at: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        on_pool!(self, |pool, time| {
            let done = sqlx::query(
                "INSERT INTO api_tokens (name, token_hash, scope, created_at) \
                 VALUES ($1, $2, $3, $4) ON CONFLICT (name) DO NOTHING",
            )
            .bind(name)
            .bind(hash)
            .bind(scope.as_str())
            .bind(time(created_at))
            .execute(pool)
            .await?;
            Ok(done.rows_affected() == 1)
        })
    }

    /// Every token, by name.
    async fn list_tokens(&self) -> Result<Vec<TokenInfo>, StoreError> {
        on_pool!(self, |pool| {
            let rows = sqlx::query(
                "SELECT name, scope, created_at, last_used_at FROM api_tokens \
                 ORDER BY name",
            )
            .fetch_all(pool)
            .await?;
            rows.iter().map(token_info_from_row).collect()
        })
    }

    /// Deletes the token with this name; `false` when there is none.
    async fn revoke_token(&self, name: &str) -> Result<bool, StoreError> {
        on_pool!(self, |pool| {
            let done = sqlx::query("DELETE FROM api_tokens WHERE name = $1")
                .bind(name)
                .execute(pool)
                .await?;
            Ok(done.rows_affected() > 0)
        })
    }

    /// The token with this hash, refreshing its `last_used_at` when older than
    /// [`LAST_USED_RESOLUTION_SECS`]; `None` for unknown (or revoked) tokens.
    async fn token_by_hash(
        &self,
        hash: &str,
        now: DateTime<Utc>,
    ) -> Result<Option<VerifiedToken>, StoreError> {
        on_pool!(self, |pool, time| {
            let row = sqlx::query(
                "SELECT name, scope, last_used_at FROM api_tokens WHERE token_hash = $1",
            )
            .bind(hash)
            .fetch_optional(pool)
            .await?;
            let Some(row) = row else { return Ok(None) };
            let (token, last_used) = verified_from_row(&row)?;
            if token_needs_touch(last_used, now) {
                let sql = "UPDATE api_tokens SET last_used_at = $1 WHERE token_hash = $2";
                mark_seen(pool, sql, time(now), hash).await;
            }
            Ok(Some(token))
        })
    }

    /// Creates a token named `name` that may do what `scope` allows, and returns it: the only
    /// time the secret is available.
    async fn create_token(&self, name: &str, scope: TokenScope) -> Result<String, TokenError> {
        validate_token_name(name)?;
        let token = generate_token()?;
        if self
            .insert_token_hash(name, &hash_token(&token), scope, crate::event::now())
            .await?
        {
            Ok(token)
        } else {
            Err(TokenError::Exists(name.to_owned()))
        }
    }

    /// The token's name and scope, if it is a valid, unrevoked token.
    async fn verify_token(&self, token: &str) -> Result<Option<VerifiedToken>, StoreError> {
        if !token.starts_with(TOKEN_PREFIX) {
            return Ok(None);
        }
        self.token_by_hash(&hash_token(token), crate::event::now())
            .await
    }
}

/// Every store with an SQL pool (every backend) keeps its tokens this way.
impl<S: HasSqlPool> TokenStore for S {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_prefixed_random_hex_and_hash_to_hex() {
        let a = generate_token().unwrap();
        assert!(a.starts_with("evl_"));
        assert_eq!(a.len(), 4 + 64);
        assert_ne!(a, generate_token().unwrap());
        assert_eq!(
            hash_token("abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }

    #[test]
    fn token_names_are_checked() {
        assert!(validate_token_name("ci-deploy").is_ok());
        for bad in ["", "two words", "tab\t", &"n".repeat(101)] {
            let err = validate_token_name(bad).unwrap_err();
            assert!(err.to_string().contains("is invalid"), "{bad:?}: {err}");
        }
    }
}
