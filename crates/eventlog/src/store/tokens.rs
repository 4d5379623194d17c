//! API tokens (issue: HTTP API). Implemented by every backend.

use async_trait::async_trait;

/// Storage of API tokens (only their hashes).
#[async_trait]
pub trait TokenStore: Send + Sync + 'static {}
