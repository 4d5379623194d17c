//! What every subcommand needs: the configuration and the store, loaded on demand.

use std::path::PathBuf;
use std::sync::Arc;

use anyhow::Context as _;
use eventlog::Config;
use eventlog::store::{self, Backend};

/// Global options, resolved.
pub struct Context {
    database_url: String,
    config_path: PathBuf,
}

impl Context {
    pub fn new(database_url: String, config_path: PathBuf) -> Self {
        Context {
            database_url,
            config_path,
        }
    }

    /// The configuration: the file if it exists; defaults if the default path is absent.
    pub fn config(&self) -> anyhow::Result<Config> {
        if self.config_path.exists() {
            Ok(Config::load(&self.config_path)?)
        } else if self.config_path.as_os_str() == "eventlog.toml" {
            Ok(Config::default())
        } else {
            anyhow::bail!(
                "configuration file {} not found",
                self.config_path.display()
            )
        }
    }

    /// The database URL given on the command line or in the environment.
    #[allow(dead_code)] // For the subcommands still to come (serve, export).
    pub fn database_url(&self) -> &str {
        &self.database_url
    }

    /// Opens the store (applying migrations).
    pub async fn store(&self) -> anyhow::Result<Arc<dyn Backend>> {
        store::open(&self.database_url)
            .await
            .with_context(|| format!("cannot open {}", store::redact(&self.database_url)))
    }
}
