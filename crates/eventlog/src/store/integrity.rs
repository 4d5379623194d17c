//! Whether the stored data is damaged: what `eventlog check` reports.

/// The outcome of [`WriteStore::check_integrity`](super::WriteStore::check_integrity).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Integrity {
    /// Every check passed; each entry names one (`SQLite integrity_check`).
    Sound {
        /// What was checked.
        checked: Vec<&'static str>,
    },
    /// Damage was found: each entry is one problem, as the database described it.
    Damaged {
        /// What is wrong, at most [`MAX_PROBLEMS`] entries.
        problems: Vec<String>,
    },
    /// This backend checks its own storage; the text says how to run that check.
    NotOurs {
        /// What to run instead.
        advice: &'static str,
    },
}

/// How many problems a check reports at most: a badly damaged file has thousands.
pub const MAX_PROBLEMS: usize = 100;
