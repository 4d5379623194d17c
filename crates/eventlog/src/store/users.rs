//! Admin users and their sessions (issue: admin UI). Implemented by every backend.

use async_trait::async_trait;

/// Storage of admin users and login sessions.
#[async_trait]
pub trait UserStore: Send + Sync + 'static {}
