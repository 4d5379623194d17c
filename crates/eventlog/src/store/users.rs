//! Admin users and their sessions (issue: admin UI). Implemented by every backend.
//!
//! The store keeps what it is given: password hashes are made (Argon2) and checked by the web
//! layer, and session tokens arrive already hashed, so a leaked database holds no usable
//! password or session.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::error::StoreError;
use crate::store::pool::{HasSqlPool, mark_seen, on_pool};
use crate::store::row::StoredRow;

/// A session's last-seen time is refreshed at most this often (or a quarter of the idle
/// timeout, if that is shorter), so that a busy session costs a read, not a write, per request.
const SEEN_RESOLUTION_SECS: i64 = 60;

/// Whether a session last marked as seen at `seen` is to be marked again at `now`, for an idle
/// timeout of `idle`: often enough that a session in use never times out, rarely enough that
/// most requests do not write.
pub(crate) fn session_needs_touch(
    seen: DateTime<Utc>,
    now: DateTime<Utc>,
    idle: chrono::Duration,
) -> bool {
    now - seen >= chrono::Duration::seconds(SEEN_RESOLUTION_SECS).min(idle / 4)
}

/// What a user may do in the admin.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// Read and delete.
    Admin,
    /// Read only.
    Viewer,
}

crate::enum_words::enum_words! {
    /// `"admin"` or `"viewer"`, as stored.
    pub fn as_str for Role {
        Admin => "admin",
        Viewer => "viewer",
    }
    FromStr: StoreError = |unknown| StoreError::Corrupt(format!(
        "unknown role {unknown:?}: expected admin or viewer"
    ))
}

/// An admin user.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct User {
    /// Row id.
    pub id: i64,
    /// Login name, unique.
    pub name: String,
    /// What the user may do.
    pub role: Role,
    /// When the user was created.
    pub created_at: DateTime<Utc>,
}

/// A live login session, with the user it belongs to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Session {
    /// The user logged in.
    pub user: User,
    /// The per-session CSRF token every POST form must carry.
    pub csrf_token: String,
    /// When the session stops being valid.
    pub expires_at: DateTime<Utc>,
}

/// A user from a row with the columns `id`, `name`, `role`, `created_at`.
pub(crate) fn user_from_row(row: &impl StoredRow) -> Result<User, StoreError> {
    Ok(User {
        id: row.int("id")?,
        name: row.text("name")?,
        role: row.text("role")?.parse()?,
        created_at: row.time("created_at")?,
    })
}

/// A session, and when it was last marked as seen, from a row with the user's columns and
/// `csrf_token`, `expires_at`, `last_seen_at`.
pub(crate) fn session_from_row(
    row: &impl StoredRow,
) -> Result<(Session, DateTime<Utc>), StoreError> {
    let session = Session {
        user: user_from_row(row)?,
        csrf_token: row.text("csrf_token")?,
        expires_at: row.time("expires_at")?,
    };
    Ok((session, row.time("last_seen_at")?))
}

/// Ends the sessions of the user with this name (`$1`).
const DELETE_SESSIONS_OF: &str =
    "DELETE FROM sessions WHERE user_id IN (SELECT id FROM users WHERE name = $1)";

/// Storage of admin users and login sessions, written once for every backend: the same
/// statements on each backend's pool.
#[async_trait]
pub trait UserStore: HasSqlPool {
    /// Creates a user; `None` when the name is taken.
    async fn create_user(
        &self,
        name: &str,
        password_hash: &str,
        role: Role,
    ) -> Result<Option<User>, StoreError> {
        on_pool!(self, |pool, time| {
            let row = sqlx::query(
                "INSERT INTO users (name, password_hash, role, created_at) \
                 VALUES ($1, $2, $3, $4) \
                 ON CONFLICT (name) DO NOTHING RETURNING id, name, role, created_at",
            )
            .bind(name)
            .bind(password_hash)
            .bind(role.as_str())
            .bind(time(crate::event::now()))
            .fetch_optional(pool)
            .await?;
            row.as_ref().map(user_from_row).transpose()
        })
    }

    /// A user and their password hash, by name.
    async fn user_by_name(&self, name: &str) -> Result<Option<(User, String)>, StoreError> {
        on_pool!(self, |pool| {
            let row = sqlx::query(
                "SELECT id, name, role, created_at, password_hash FROM users \
                 WHERE name = $1",
            )
            .bind(name)
            .fetch_optional(pool)
            .await?;
            match row {
                Some(r) => Ok(Some((user_from_row(&r)?, r.text("password_hash")?))),
                None => Ok(None),
            }
        })
    }

    /// All users, by name.
    async fn users(&self) -> Result<Vec<User>, StoreError> {
        on_pool!(self, |pool| {
            let rows = sqlx::query("SELECT id, name, role, created_at FROM users ORDER BY name")
                .fetch_all(pool)
                .await?;
            rows.iter().map(user_from_row).collect()
        })
    }

    /// Whether any user exists (without counting them all).
    async fn has_users(&self) -> Result<bool, StoreError> {
        on_pool!(self, |pool| {
            let found = sqlx::query("SELECT 1 FROM users LIMIT 1")
                .fetch_optional(pool)
                .await?;
            Ok(found.is_some())
        })
    }

    /// Removes a user and their sessions; `false` when there was no such user.
    async fn remove_user(&self, name: &str) -> Result<bool, StoreError> {
        on_pool!(self, |pool| {
            let mut tx = pool.begin().await?;
            sqlx::query(DELETE_SESSIONS_OF)
                .bind(name)
                .execute(&mut *tx)
                .await?;
            let n = sqlx::query("DELETE FROM users WHERE name = $1")
                .bind(name)
                .execute(&mut *tx)
                .await?
                .rows_affected();
            tx.commit().await?;
            Ok(n > 0)
        })
    }

    /// Replaces a user's password hash and ends their sessions; `false` when there was no
    /// such user.
    async fn set_password(&self, name: &str, password_hash: &str) -> Result<bool, StoreError> {
        on_pool!(self, |pool| {
            let mut tx = pool.begin().await?;
            let n = sqlx::query("UPDATE users SET password_hash = $1 WHERE name = $2")
                .bind(password_hash)
                .bind(name)
                .execute(&mut *tx)
                .await?
                .rows_affected();
            sqlx::query(DELETE_SESSIONS_OF)
                .bind(name)
                .execute(&mut *tx)
                .await?;
            tx.commit().await?;
            Ok(n > 0)
        })
    }

    /// Stores a session under the hash of its token.
    async fn create_session(
        &self,
        token_hash: &str,
        user_id: i64,
        csrf_token: &str,
        expires_at: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        on_pool!(self, |pool, time| {
            sqlx::query(
                "INSERT INTO sessions \
                 (token_hash, user_id, csrf_token, expires_at, last_seen_at) \
                 VALUES ($1, $2, $3, $4, $5)",
            )
            .bind(token_hash)
            .bind(user_id)
            .bind(csrf_token)
            .bind(time(expires_at))
            .bind(time(crate::event::now()))
            .execute(pool)
            .await?;
            Ok(())
        })
    }

    /// The session stored under `token_hash`, if at `now` it has neither expired nor been
    /// idle (no request) for `idle` or longer. Marks it as seen at `now` (at most once a
    /// minute, so that a busy session costs a read, not a write, per request).
    async fn session(
        &self,
        token_hash: &str,
        now: DateTime<Utc>,
        idle: chrono::Duration,
    ) -> Result<Option<Session>, StoreError> {
        on_pool!(self, |pool, time| {
            let row = sqlx::query(
                "SELECT u.id, u.name, u.role, u.created_at, s.csrf_token, \
                 s.expires_at, s.last_seen_at FROM sessions s \
                 JOIN users u ON u.id = s.user_id \
                 WHERE s.token_hash = $1 AND s.expires_at > $2 AND s.last_seen_at > $3",
            )
            .bind(token_hash)
            .bind(time(now))
            .bind(time(now - idle))
            .fetch_optional(pool)
            .await?;
            let Some(r) = row else { return Ok(None) };
            let (session, seen) = session_from_row(&r)?;
            if session_needs_touch(seen, now, idle) {
                let sql = "UPDATE sessions SET last_seen_at = $1 WHERE token_hash = $2";
                mark_seen(pool, sql, time(now), token_hash).await;
            }
            Ok(Some(session))
        })
    }

    /// Deletes every session that at `now` has expired or been idle for `idle` or longer;
    /// returns how many.
    async fn purge_sessions(
        &self,
        now: DateTime<Utc>,
        idle: chrono::Duration,
    ) -> Result<u64, StoreError> {
        on_pool!(self, |pool, time| {
            let done =
                sqlx::query("DELETE FROM sessions WHERE expires_at <= $1 OR last_seen_at <= $2")
                    .bind(time(now))
                    .bind(time(now - idle))
                    .execute(pool)
                    .await?;
            Ok(done.rows_affected())
        })
    }

    /// Ends a session (logout). Also drops every session that has expired before `now`.
    async fn delete_session(&self, token_hash: &str, now: DateTime<Utc>) -> Result<(), StoreError> {
        on_pool!(self, |pool, time| {
            sqlx::query("DELETE FROM sessions WHERE token_hash = $1 OR expires_at <= $2")
                .bind(token_hash)
                .bind(time(now))
                .execute(pool)
                .await?;
            Ok(())
        })
    }
}

/// Every store with an SQL pool (every backend) keeps its users and sessions this way.
impl<S: HasSqlPool> UserStore for S {}
