//! One module per subcommand.

pub mod log;
pub mod migrate;
pub mod types;
pub mod serve;
pub mod user;
