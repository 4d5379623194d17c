//! One module per subcommand.

pub mod log;
pub mod migrate;
pub mod token;
pub mod types;
