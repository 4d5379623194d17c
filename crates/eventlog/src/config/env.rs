//! Configuration keys set by environment variables (`EVENTLOG_SECTION__KEY`).

use crate::error::{ConfigError, Error};

/// Prefix of the environment variables that override configuration keys.
pub const ENV_PREFIX: &str = "EVENTLOG_";

/// Separates a section from its key in an environment variable's name
/// (`EVENTLOG_SERVER__BIND` is `[server] bind`).
pub const ENV_SEPARATOR: &str = "__";

/// One configuration key set by an environment variable.
#[derive(Debug, Clone)]
pub(super) struct EnvOverride {
    /// The variable, to name it in errors.
    pub(super) var: String,
    /// The key's path: `["server", "bind"]`.
    path: Vec<String>,
    /// The value as written.
    raw: String,
}

impl EnvOverride {
    /// The variables that name configuration keys: `EVENTLOG_DATABASE_URL` (the one
    /// top-level key) and every `EVENTLOG_SECTION__KEY[__KEY…]`. Other `EVENTLOG_` variables
    /// (`EVENTLOG_CONFIG`, `EVENTLOG_LOG`, …) are options of the command line, not keys.
    pub(super) fn from_vars(vars: impl IntoIterator<Item = (String, String)>) -> Vec<EnvOverride> {
        let mut found: Vec<EnvOverride> = vars
            .into_iter()
            .filter_map(|(var, raw)| {
                let name = var.strip_prefix(ENV_PREFIX)?;
                let path: Vec<String> = if name == "DATABASE_URL" {
                    vec!["database_url".to_owned()]
                } else if name.contains(ENV_SEPARATOR) {
                    name.split(ENV_SEPARATOR)
                        .map(|part| part.to_ascii_lowercase())
                        .collect()
                } else {
                    return None;
                };
                Some(EnvOverride { var, path, raw })
            })
            .collect();
        // Deterministic: the same environment always gives the same result and first error.
        found.sort_by(|a, b| a.var.cmp(&b.var));
        found
    }

    /// The value as TOML would read it (`8` a number, `true` a boolean, `[1, 2]` an array),
    /// and as a plain string.
    fn values(&self) -> (Option<toml::Value>, toml::Value) {
        let typed = toml::from_str::<toml::Table>(&format!("v = {}", self.raw))
            .ok()
            .and_then(|mut t| t.remove("v"))
            .filter(|v| !v.is_str());
        (typed, toml::Value::String(self.raw.clone()))
    }

    /// Sets the key in `table`, typed when the key takes the typed value, else as a string.
    /// Tried on its own first, so that an error names this variable.
    pub(super) fn apply<C: serde::de::DeserializeOwned>(
        &self,
        table: &mut toml::Table,
    ) -> Result<(), Error> {
        if self.path.iter().any(String::is_empty) {
            return Err(ConfigError::Env {
                var: self.var.clone(),
                message: format!(
                    "{}: empty section or key name (write {ENV_PREFIX}SECTION{ENV_SEPARATOR}KEY)",
                    self.var
                ),
            }
            .into());
        }
        let (typed, text) = self.values();
        let mut first_error = None;
        for value in typed.into_iter().chain([text]) {
            let mut alone = toml::Table::new();
            insert(&mut alone, &self.path, value.clone());
            match toml::Value::Table(alone).try_into::<C>() {
                Ok(_) => {
                    insert(table, &self.path, value);
                    return Ok(());
                }
                Err(e) => {
                    first_error.get_or_insert(e);
                }
            }
        }
        let e = first_error.map(|e| e.to_string()).unwrap_or_default();
        Err(Error::Config(ConfigError::Env {
            var: self.var.clone(),
            message: format!(
                "environment variable {}={:?} (key {}): {}",
                self.var,
                self.raw,
                self.path.join("."),
                e.trim()
            ),
        }))
    }
}

/// Sets `path` in `table`, creating the sections on the way (a section given as something
/// else in the file is replaced: the environment wins).
fn insert(table: &mut toml::Table, path: &[String], value: toml::Value) {
    let Some((last, sections)) = path.split_last() else {
        return;
    };
    let mut at = table;
    for section in sections {
        let entry = at
            .entry(section.clone())
            .or_insert_with(|| toml::Value::Table(toml::Table::new()));
        if !entry.is_table() {
            *entry = toml::Value::Table(toml::Table::new());
        }
        let toml::Value::Table(next) = entry else {
            return;
        };
        at = next;
    }
    at.insert(last.clone(), value);
}
