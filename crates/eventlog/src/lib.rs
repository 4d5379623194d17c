//! eventlog
pub mod config;
pub mod error;
pub mod event;
pub mod event_type;
#[cfg(feature = "mail")]
pub mod mail;
pub mod store;

pub use config::Config;
pub use error::{Error, StoreError, ValidationError};
pub use event::{Event, GroupId, NewEvent};
pub use event_type::{EventType, EventTypes};
