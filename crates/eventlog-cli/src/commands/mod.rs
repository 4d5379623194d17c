//! One module per subcommand.

pub mod log;
pub mod migrate;
pub mod token;
pub mod types;
pub mod export;
pub mod filter_args;
pub mod import;
pub mod purge;
pub mod tail;
