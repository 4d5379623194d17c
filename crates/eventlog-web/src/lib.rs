//! The eventlog admin UI and the `/api/v1` HTTP API as one axum [`Router`](axum::Router) that an
//! application can mount under any path, with eventlog's own users or the host's
//! authentication ([`auth::host::HostAuth`]).
//!
//! # Usage
//!
//! An application that records events with an [`EventLog`](eventlog::EventLog) builds the
//! admin's state from it, so both share one connection pool:
//!
//! ```no_run
//! # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
//! use eventlog_web::{AppState, app};
//!
//! let log = eventlog::EventLog::open("sqlite://events.db").await?;
//! let state = AppState::from_log(&log);
//! // Standalone: `app(state)`; inside an application, under a prefix (`nest_service`
//! // answers both `/admin/eventlog` and `/admin/eventlog/`; `nest` only the first):
//! let router = axum::Router::new().nest_service("/admin/eventlog", app(state));
//! let listener = tokio::net::TcpListener::bind("127.0.0.1:8000").await?;
//! eventlog_web::serve(listener, router, std::future::pending()).await?;
//! // After the server has stopped: store what is still queued.
//! log.close().await?;
//! # Ok(()) }
//! ```
//!
//! Without an `EventLog` (only reading the log), open the store yourself:
//! `AppState::new(eventlog::store::open(url).await?, types)`.
//!
//! Links, redirects, cookie paths and assets follow the prefix axum's nesting strips, so no
//! configuration is needed for it.

// The pages are reached through `app()`, not called: their modules are not part of the API.
mod admin;
pub mod api;
pub mod auth;
pub mod config;
pub mod error;
mod format;
mod health;
mod http_metrics;
mod router;
mod security_headers;
pub mod server;
mod state;

pub use admin::live::{LiveTail, StreamLimits};
pub use error::AppError;
pub use router::{Base, app};
pub use security_headers::CONTENT_SECURITY_POLICY;
pub use server::{ServeOptions, serve, serve_with};
pub use state::{AppState, AppStateBuilder, SESSION_PURGE_EVERY};
