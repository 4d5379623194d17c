//! Error types of the library.

use thiserror::Error;

use crate::store::backend_kind::BackendKind;

/// A value that breaks one of the rules of the event model: a group id of 1 to 40 printable
/// characters, a type name matching `^[A-Za-z_][A-Za-z0-9_]{0,49}$` that is configured, an
/// initiator of at most 500 characters, a message with a visible character.
///
/// Every variant names the offending value and the rule it broke, so the message can be shown to
/// whoever supplied it as is.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum ValidationError {
    /// A group id that is empty or longer than 40 characters.
    #[error("group id {value:?} is {len} characters long; a group id must be 1 to 40 characters")]
    GroupLength {
        /// The rejected group id.
        value: String,
        /// Its length in characters.
        len: usize,
    },
    /// A group id with a control character (NUL, ESC, newline, …).
    #[error("group id {value:?} contains a control character; a group id is printable text")]
    GroupControl {
        /// The rejected group id.
        value: String,
    },
    /// A group id of only spaces.
    #[error("group id {value:?} is only spaces; a group id needs a visible character")]
    BlankGroup {
        /// The rejected group id.
        value: String,
    },
    /// An event type name that does not match `^[A-Za-z_][A-Za-z0-9_]{0,49}$`.
    #[error(
        "event type name {name:?} is invalid: a type name must match ^[A-Za-z_][A-Za-z0-9_]{{0,49}}$"
    )]
    TypeName {
        /// The rejected name.
        name: String,
    },
    /// A type name that is valid but not configured.
    #[error("event type {name:?} is not configured; configured types are: {configured}")]
    UnknownType {
        /// The type that was asked for.
        name: String,
        /// The configured type names, comma separated.
        configured: String,
    },
    /// An initiator longer than 500 characters.
    #[error("initiator is {len} characters long; an initiator must be at most 500 characters")]
    InitiatorLength {
        /// Its length in characters.
        len: usize,
    },
    /// A message longer than `[limits] message_bytes`.
    #[error(
        "message is {bytes} bytes long; [limits] message_bytes allows at most {limit} bytes (UTF-8)"
    )]
    MessageBytes {
        /// The message's length in bytes.
        bytes: usize,
        /// The configured cap.
        limit: usize,
    },
    /// Structured data longer than `[limits] data_bytes` as JSON.
    #[error("data is {bytes} bytes long as JSON; [limits] data_bytes allows at most {limit} bytes")]
    DataBytes {
        /// The data's length in bytes, written as compact JSON.
        bytes: usize,
        /// The configured cap.
        limit: usize,
    },
    /// An empty message.
    #[error("message is empty; every event needs a message")]
    EmptyMessage,
    /// A message of only spaces or control characters.
    #[error("message has only spaces or control characters; every event needs a visible message")]
    BlankMessage,
    /// An e-mail recipient that is not a plausible address.
    #[error("e-mail recipient {value:?} is not an e-mail address (expected local@domain)")]
    MailRecipient {
        /// The rejected address.
        value: String,
    },
    /// A notification channel name that cannot be one (1-40 letters, digits, `-`, `_`), or
    /// more than 10 of them on one event.
    #[error(
        "notify channel {value:?} is not a channel name (1-40 letters, digits, '-' or '_'; at most 10 per event)"
    )]
    NotifyChannel {
        /// The rejected name.
        value: String,
    },
    /// A colour of an event type that is not a CSS colour.
    #[error(
        "colour {value:?} of event type {type_name:?} is not a CSS colour ({reason}): use a colour name like red, #rgb/#rrggbb, rgb(), hsl(), hwb(), lab(), lch(), oklab() or oklch()"
    )]
    Color {
        /// The type whose colour was rejected.
        type_name: String,
        /// The rejected value.
        value: String,
        /// Why it was rejected.
        reason: String,
    },
    /// The same event type configured twice.
    #[error("event type {name:?} is configured twice; type names must be unique")]
    DuplicateType {
        /// The repeated name.
        name: String,
    },
    /// No event type configured at all.
    #[error("no event type is configured; at least one is needed")]
    NoTypes,
}

/// An error of the storage layer.
///
/// Database error text stays in here (and in logs); the web layer never shows it to clients.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum StoreError {
    /// The database URL has a scheme no backend handles.
    #[error("unsupported database URL {url:?}: expected sqlite://PATH or postgres://USER@HOST/DB")]
    UnsupportedUrl {
        /// The URL as given (credentials are not included).
        url: String,
    },
    /// A backend compiled out by cargo features.
    #[error("the {0} backend is not compiled in; enable the cargo feature \"{0}\"")]
    BackendDisabled(BackendKind),
    /// A pagination cursor that does not decode.
    #[error("invalid pagination cursor {0:?}")]
    InvalidCursor(String),
    /// An error from the database driver.
    #[error("database error: {0}")]
    Database(#[from] DatabaseError),
    /// A schema migration that failed.
    #[error("schema migration failed: {0}")]
    Migrate(#[source] Box<dyn std::error::Error + Send + Sync>),
    /// A stored row that could not be read back.
    #[error("corrupt row in the store: {0}")]
    Corrupt(String),
    /// The operating system gave no random bytes (for a token).
    #[error("no randomness from the operating system: {reason}")]
    Randomness {
        /// What the operating system said.
        reason: String,
    },
    /// The error of a transaction shared by several callers (group commit).
    #[error(transparent)]
    Shared(std::sync::Arc<StoreError>),
}

/// An error of the database driver. The driver's own type stays inside, so the driver can
/// change without changing this API; ask it what callers act on instead.
#[derive(Debug, Error)]
#[error(transparent)]
pub struct DatabaseError(sqlx::Error);

impl DatabaseError {
    /// The error code the database server gave: a PostgreSQL SQLSTATE (`28P01`, `3D000`) or
    /// an SQLite result code (`5`, `14`). `None` when the server did not answer with an error.
    pub fn code(&self) -> Option<String> {
        match &self.0 {
            sqlx::Error::Database(db) => db.code().map(|c| c.into_owned()),
            _ => None,
        }
    }

    /// The database server's message, when it answered with an error.
    pub fn server_message(&self) -> Option<&str> {
        match &self.0 {
            sqlx::Error::Database(db) => Some(db.message()),
            _ => None,
        }
    }

    /// The constraint a constraint-violation error names (PostgreSQL gives it; SQLite
    /// does not).
    pub fn constraint(&self) -> Option<&str> {
        match &self.0 {
            sqlx::Error::Database(db) => db.constraint(),
            _ => None,
        }
    }

    /// The input/output error, when the connection or file could not be used.
    pub fn io(&self) -> Option<&std::io::Error> {
        match &self.0 {
            sqlx::Error::Io(e) => Some(e),
            _ => None,
        }
    }

    /// Whether no pooled connection became free (or could be opened) in time.
    pub fn is_pool_timeout(&self) -> bool {
        matches!(self.0, sqlx::Error::PoolTimedOut)
    }

    /// Whether the error is likely to go away by retrying: see [`StoreError::is_transient`].
    pub fn is_transient(&self) -> bool {
        match &self.0 {
            sqlx::Error::Io(_)
            | sqlx::Error::Tls(_)
            | sqlx::Error::Protocol(_)
            | sqlx::Error::PoolTimedOut
            | sqlx::Error::PoolClosed
            | sqlx::Error::WorkerCrashed => true,
            sqlx::Error::Database(_) => {
                // PostgreSQL: class 08 (connection), 57P (operator intervention: shutdown,
                // restart), 53 (insufficient resources), 40001/40P01 (serialization,
                // deadlock). SQLite: BUSY (5), LOCKED (6) and FULL (13):
                // a full disk frees up, and the events must wait for it.
                let code = self.code().unwrap_or_default();
                code.starts_with("08")
                    || code.starts_with("57P")
                    || code.starts_with("53")
                    || code == "40001"
                    || code == "40P01"
                    || (code == "XX000"
                        && self.server_message().is_some_and(|m| {
                            CITUS_WORKER_LOST.iter().any(|lost| m.starts_with(lost))
                        }))
                    || code == "5"
                    || code == "6"
                    || code == "517"
                    || code == "261"
                    || code == "13"
            }
            _ => false,
        }
    }
}

/// How a Citus coordinator reports, without an error code (`XX000`), a worker lost in the
/// middle of a transaction (a worker restarting or stopped): the transaction was rolled back
/// on every node, and running it again later succeeds. (Its other connection errors carry
/// class 08.)
const CITUS_WORKER_LOST: [&str; 4] = [
    "failure on connection marked as essential",
    "terminating connection due to administrator command",
    "server closed the connection unexpectedly",
    "connection not open",
];

/// Whether an error code says the stored data is damaged: SQLite `SQLITE_CORRUPT` (11, with
/// its extended codes such as 267 for a search index) and `SQLITE_NOTADB` (26); PostgreSQL
/// class XX001 `data_corrupted` and XX002 `index_corrupted`.
pub(crate) fn is_damage_code(code: &str) -> bool {
    match code.parse::<u32>() {
        // SQLite: the primary result code is the low byte of an extended one.
        Ok(n) => matches!(n & 0xff, 11 | 26),
        Err(_) => code == "XX001" || code == "XX002",
    }
}

impl From<sqlx::Error> for DatabaseError {
    fn from(e: sqlx::Error) -> Self {
        DatabaseError(e)
    }
}

impl From<sqlx::Error> for StoreError {
    fn from(e: sqlx::Error) -> Self {
        StoreError::Database(DatabaseError(e))
    }
}

impl From<sqlx::migrate::MigrateError> for StoreError {
    fn from(e: sqlx::migrate::MigrateError) -> Self {
        StoreError::Migrate(Box::new(e))
    }
}

impl StoreError {
    /// Whether the error is likely to go away by retrying (connection lost, server restarting,
    /// pool exhausted, database locked) rather than caused by the data itself.
    pub fn is_transient(&self) -> bool {
        match self {
            StoreError::Shared(e) => e.is_transient(),
            StoreError::Database(e) => e.is_transient(),
            _ => false,
        }
    }

    /// Whether the stored data is damaged (a corrupt page or index): retrying will not help,
    /// and `eventlog check` says what is wrong.
    pub fn is_damaged(&self) -> bool {
        match self {
            StoreError::Shared(e) => e.is_damaged(),
            StoreError::Database(e) => e.code().is_some_and(|c| is_damage_code(&c)),
            _ => false,
        }
    }

    /// Whether the database or its disk is full (SQLite `SQLITE_FULL`, PostgreSQL class 53100
    /// `disk_full`): transient, the write succeeds once space is freed.
    pub fn is_full(&self) -> bool {
        match self {
            StoreError::Shared(e) => e.is_full(),
            StoreError::Database(e) => matches!(e.code().as_deref(), Some("13") | Some("53100")),
            _ => false,
        }
    }
}

/// A configuration file or value that cannot be used. Every variant names the key at fault
/// (`retention.types.info`, `mail.timeout_secs`) or the file.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// The configuration file could not be read.
    #[error("cannot read {}: {source}", path.display())]
    Read {
        /// The file.
        path: std::path::PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// An error in the named file.
    #[error("{}: {source}", path.display())]
    InFile {
        /// The file.
        path: std::path::PathBuf,
        /// The error in it.
        #[source]
        source: Box<ConfigError>,
    },
    /// Not valid TOML, or a key or value of the wrong kind (the parser's message names the
    /// line and the key).
    #[error("{message}")]
    Syntax {
        /// The parser's message.
        message: String,
    },
    /// A duration that is not one, or is zero where it must be positive.
    #[error("{key}: {source}")]
    Duration {
        /// The key (`retention.default`, `retention.types.info`, `--older-than`).
        key: String,
        /// What is wrong with it.
        #[source]
        source: AgeError,
    },
    /// A value that breaks a rule.
    #[error("{message}")]
    Value {
        /// The key at fault (`mail.timeout_secs`), or the first of several that go together.
        key: &'static str,
        /// The rule it broke, with the key and value.
        message: String,
    },
    /// An environment variable that overrides a key but cannot be used.
    #[error("{message}")]
    Env {
        /// The variable (`EVENTLOG_SERVER__BIND`).
        var: String,
        /// What is wrong, naming the variable and the key.
        message: String,
    },
    /// A retention age for a type that is not configured.
    #[error(
        "retention.types.{name}: event type {name:?} is not configured; configured types are: {configured}"
    )]
    RetentionType {
        /// The type.
        name: String,
        /// The configured type names, comma separated.
        configured: String,
    },
    /// A mail template that does not parse.
    #[error("{message}")]
    Template {
        /// `mail.subject` or `mail.body`.
        key: String,
        /// What is wrong, naming the key.
        message: String,
    },
}

impl ConfigError {
    /// A value breaking a rule: `key` names it, `message` says the rule (with the key).
    pub fn value(key: &'static str, message: impl Into<String>) -> Self {
        ConfigError::Value {
            key,
            message: message.into(),
        }
    }
}

/// A duration text that cannot be a retention age or interval.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum AgeError {
    /// Not a duration.
    #[error("{text:?} is not a duration ({reason}); write it like 90d, 12h or 30m")]
    NotADuration {
        /// The text as written.
        text: String,
        /// What the parser said.
        reason: String,
    },
    /// Zero.
    #[error("{text:?} is zero; a retention age must be positive")]
    Zero {
        /// The text as written.
        text: String,
    },
    /// An age reaching before the earliest time the stores hold.
    #[error("retention age {text:?} is too long")]
    TooLong {
        /// The text as written.
        text: String,
    },
}

/// Any error the library returns.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum Error {
    /// Input that breaks a rule of the event model.
    #[error(transparent)]
    Invalid(#[from] ValidationError),
    /// A storage failure.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// A configuration file or value that cannot be used.
    #[error("configuration error: {0}")]
    Config(#[from] ConfigError),
    /// A background thread (the writer, the mail sender) or its runtime could not be started.
    #[error("cannot start the {what}: {source}")]
    Spawn {
        /// What: `writer thread`, `mail runtime`, …
        what: &'static str,
        /// The operating system's error.
        #[source]
        source: std::io::Error,
    },
    /// The database could not be opened when the event log started.
    #[error("cannot open the database: {source}")]
    Connect {
        /// Why.
        #[source]
        source: StoreError,
    },
    /// The event log was shut down; nothing more can be recorded.
    #[error("the event log is closed")]
    Closed,
}

/// At most 100 characters of `value` (with `…` when cut), for quoting a value in an error:
/// a rejected 7 MiB value is not echoed whole.
pub fn shorten(value: &str) -> String {
    match value.char_indices().nth(100) {
        Some((at, _)) => format!("{}…", &value[..at]),
        None => value.to_owned(),
    }
}
