//! Which database a store keeps its data in.

/// The database behind a [`Store`](super::Store), for the few places that must know it (SQL
/// dialect tests, group commit, messages). Compare with `==`, print with `{}`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum BackendKind {
    /// An SQLite file (`sqlite://PATH`) or in-memory database.
    Sqlite,
    /// A PostgreSQL server (`postgres://…`).
    Postgres,
}

impl BackendKind {
    /// The backend a database URL names by its scheme (`sqlite:`, `postgres:`, `postgresql:`).
    pub fn from_url(url: &str) -> Option<BackendKind> {
        match url.split(':').next().unwrap_or_default() {
            "postgresql" => Some(BackendKind::Postgres),
            scheme => BackendKind::from_word(scheme),
        }
    }
}

crate::enum_words::enum_words! {
    /// Its name, which is also the name of its cargo feature: `sqlite` or `postgres`.
    pub fn name for BackendKind {
        Sqlite => "sqlite",
        Postgres => "postgres",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_scheme_names_the_backend() {
        assert_eq!(
            BackendKind::from_url("sqlite://x.db"),
            Some(BackendKind::Sqlite)
        );
        assert_eq!(
            BackendKind::from_url("sqlite::memory:"),
            Some(BackendKind::Sqlite)
        );
        assert_eq!(
            BackendKind::from_url("postgresql://u@h/db"),
            Some(BackendKind::Postgres)
        );
        assert_eq!(BackendKind::from_url("mysql://u@h/db"), None);
        assert_eq!(BackendKind::Postgres.to_string(), "postgres");
    }
}
