//! Group commit for HTTP ingest, on both backends: requests that arrive while a transaction
//! is running are stored together in the next one. The mechanism lives in the store layer
//! ([`eventlog::store::GroupCommit`]) so library and CLI callers can use it too.

pub use eventlog::store::GroupCommit;
