//! The integration tests of `eventlog`, one module per file and one test binary for all of them:
//! each binary links every dependency, so one per crate builds in a fraction of the time of one
//! per file. A new `tests/NAME.rs` must be declared here (`mod NAME;`), or it is neither built
//! nor run: `scripts/test` refuses a test file this list does not name.

mod blocking_calls;
mod citus;
mod mail;
mod migrations;
mod notify;
mod notify_formats;
mod notify_hostile;
mod pg_partitions;
mod pg_search;
mod read_only_bookkeeping;
mod retention;
mod sqlite_file;
mod store_suite;
mod support;
mod tokens;
#[cfg(feature = "tracing")]
mod tracing_layer;
mod writer;
