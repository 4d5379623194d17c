//! The integration tests of `eventlog_cli`, one module per file and one test binary for all of them:
//! each binary links every dependency, so one per crate builds in a fraction of the time of one
//! per file. A new `tests/NAME.rs` must be declared here (`mod NAME;`), or it is neither built
//! nor run: `scripts/test` refuses a test file this list does not name.

mod support;

mod citus_carry_over;
mod citus_faults;
mod cli;
mod cli_errors;
mod cli_log;
mod cli_user;
mod damaged_database;
mod data_keys;
mod demo;
mod django_import;
mod docs_output;
mod env_config;
mod filter_table;
mod first_hour;
mod hostile_budget;
mod hostile_full_disk;
mod hostile_headers;
mod hostile_output;
mod hostile_peers;
mod live_tail;
mod login_flood;
mod mail_e2e;
mod many_writers;
mod metrics;
mod notify_e2e;
mod parallel_import;
mod partition;
mod proxy_auth;
mod python_client;
mod read_replica;
mod serve_faults;
mod serve_limits;
mod sessions;
mod size_limits;
mod token_scopes;
