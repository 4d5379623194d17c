//! What every subcommand needs: the configuration and the store, loaded on demand.

use std::path::PathBuf;
use std::sync::Arc;

use eventlog::store::{self, Backend, ConnectOptions};
use eventlog_web::config::WebConfig as Config;

/// The database URL when neither `--database-url`, `EVENTLOG_DATABASE_URL` nor the
/// configuration file's `database_url` gives one.
pub const DEFAULT_DATABASE_URL: &str = "sqlite://eventlog.db";

/// Global options, resolved with one precedence for every setting: command-line flag, then
/// environment variable, then configuration file, then default.
pub struct Context {
    /// `--database-url` or `EVENTLOG_DATABASE_URL` (clap prefers the flag).
    database_url: Option<String>,
    config_path: PathBuf,
    /// Loaded once, on first use.
    config: std::sync::OnceLock<Result<Config, String>>,
}

impl Context {
    pub fn new(database_url: Option<String>, config_path: PathBuf) -> Self {
        Context {
            database_url,
            config_path,
            config: std::sync::OnceLock::new(),
        }
    }

    /// The configuration: the file if it exists (defaults if the default path is absent),
    /// each key overridden by its `EVENTLOG_SECTION__KEY` environment variable.
    pub fn config(&self) -> anyhow::Result<Config> {
        self.config
            .get_or_init(|| self.load_config().map_err(|e| crate::voice::report(&e)))
            .clone()
            .map_err(anyhow::Error::msg)
    }

    fn load_config(&self) -> anyhow::Result<Config> {
        // Variables that are not UTF-8 cannot name a key or hold a value we read.
        let vars = std::env::vars_os()
            .filter_map(|(k, v)| Some((k.into_string().ok()?, v.into_string().ok()?)));
        if self.config_path.exists() {
            Ok(Config::load_with_env(Some(&self.config_path), vars)?)
        } else if self.config_path.as_os_str() == "eventlog.toml" {
            Ok(Config::load_with_env(None, vars)?)
        } else {
            anyhow::bail!(
                "configuration file {} not found",
                self.config_path.display()
            )
        }
    }

    /// The database URL: `--database-url`, else `EVENTLOG_DATABASE_URL`, else
    /// `database_url` in the configuration file, else `sqlite://eventlog.db`. The file is
    /// read only when neither the flag nor the variable gives the URL.
    pub fn database_url(&self) -> anyhow::Result<String> {
        if let Some(url) = &self.database_url {
            return Ok(url.clone());
        }
        Ok(self
            .config()?
            .database_url
            .unwrap_or_else(|| DEFAULT_DATABASE_URL.to_owned()))
    }

    /// Opens the store (applying migrations) with the default pool options.
    pub async fn store(&self) -> anyhow::Result<Arc<dyn Backend>> {
        self.store_with(ConnectOptions::default()).await
    }

    /// Opens the store with the given pool options. A failure is one message naming the
    /// cause (the refused address, the missing directory or role) and what to do about it.
    pub async fn store_with(&self, options: ConnectOptions) -> anyhow::Result<Arc<dyn Backend>> {
        self.open(options, true).await
    }

    /// Makes the store's indexed data keys those of `[database] indexed_data_keys` (creating
    /// and dropping indexes); says what changed, if anything.
    pub async fn apply_data_keys(&self, store: &dyn Backend) -> anyhow::Result<Option<String>> {
        let keys = self.config()?.database.data_keys()?;
        Ok(store.index_data_keys(&keys).await?.summary())
    }

    /// Connects to the store without migrating it (`eventlog migrate` does, and reports).
    pub async fn store_unmigrated(&self) -> anyhow::Result<Arc<dyn Backend>> {
        self.open(ConnectOptions::default(), false).await
    }

    async fn open(
        &self,
        options: ConnectOptions,
        migrate: bool,
    ) -> anyhow::Result<Arc<dyn Backend>> {
        let url = self.database_url()?;
        let opened = if migrate {
            store::open_with(&url, options).await
        } else {
            store::connect_with(&url, options).await
        };
        match opened {
            Ok(store) => Ok(store),
            Err(e) => Err(crate::diagnose::cannot_open(&url, &e, options).await.into()),
        }
    }
}
