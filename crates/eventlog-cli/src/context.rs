//! What every subcommand needs: the configuration and the store, loaded on demand.

use std::path::PathBuf;
use std::sync::Arc;

use eventlog::Config;
use eventlog::store::{self, Backend, ConnectOptions};

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

    /// Opens the store (applying migrations) with the default pool options.
    pub async fn store(&self) -> anyhow::Result<Arc<dyn Backend>> {
        self.store_with(ConnectOptions::default()).await
    }

    /// Opens the store with the given pool options. A failure is one message naming the
    /// cause (the refused address, the missing directory or role) and what to do about it.
    pub async fn store_with(&self, options: ConnectOptions) -> anyhow::Result<Arc<dyn Backend>> {
        match store::open_with(&self.database_url, options).await {
            Ok(store) => Ok(store),
            Err(e) => {
                let (cause, hint) =
                    crate::diagnose::open_error(&self.database_url, &e, options).await;
                let mut message =
                    format!("cannot open {}: {cause}", store::redact(&self.database_url));
                if let Some(hint) = hint {
                    message.push_str("\nhint: ");
                    message.push_str(&hint);
                }
                Err(anyhow::Error::msg(message))
            }
        }
    }
}
