//! eventlog
pub mod error;
pub mod event;
pub mod event_type;
pub mod store;
