//! One module per subcommand.

pub mod check;
pub mod demo;
pub mod export;
pub mod filter_args;
pub mod import;
pub mod import_django;
pub mod log;
pub mod mail;
pub mod migrate;
pub mod partition;
pub mod purge;
pub mod serve;
pub mod tail;
pub mod token;
pub mod types;
pub mod user;
