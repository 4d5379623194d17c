//! One module per subcommand.

pub mod log;
pub mod migrate;
pub mod serve;
pub mod types;
pub mod user;
