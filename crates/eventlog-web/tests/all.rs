//! The integration tests of `eventlog_web`, one module per file and one test binary for all of them:
//! each binary links every dependency, so one per crate builds in a fraction of the time of one
//! per file. A new `tests/NAME.rs` must be declared here (`mod NAME;`), or it is neither built
//! nor run: `scripts/test` refuses a test file this list does not name.

mod common;

mod admin_http;
mod api;
mod browser;
mod browser_pages;
mod django_fixture_admin;
mod first_hour;
mod host_auth;
mod hostile_queries;
mod hostile_routes;
mod live_tail;
mod login_attacks;
mod one_pool;
mod scan_budget;
mod security_headers;
mod socket;
