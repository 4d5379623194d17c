//! Each backend's migrations, embedded in the library when it is built.
//!
//! `build.rs` lists `migrations/{sqlite,postgres}/VERSION_DESCRIPTION.sql` and includes each
//! file's SQL; this module turns the list into sqlx's [`Migrator`] the way sqlx reads a
//! migrations directory: same versions, descriptions and checksums, and a file starting with
//! `-- no-transaction` runs outside a transaction. (`sqlx::migrate!` does the same at compile
//! time, but its procedural macro builds sqlx and SQLite a second time for the compiler.)

use sqlx::SqlSafeStr as _;
use sqlx::migrate::{Migration, MigrationType, Migrator};

/// `(version, description, SQL)` of each migration file, per backend.
mod files {
    include!(concat!(env!("OUT_DIR"), "/migrations.rs"));
}

/// The SQLite migrations.
#[cfg(feature = "sqlite")]
pub(crate) fn sqlite() -> Migrator {
    migrator(files::SQLITE)
}

/// The PostgreSQL migrations.
#[cfg(feature = "postgres")]
pub(crate) fn postgres() -> Migrator {
    migrator(files::POSTGRES)
}

fn migrator(files: &'static [(i64, &'static str, &'static str)]) -> Migrator {
    Migrator::with_migrations(
        files
            .iter()
            .map(|&(version, description, sql)| {
                let no_tx = sql.starts_with("-- no-transaction");
                Migration::new(
                    version,
                    description.into(),
                    MigrationType::Simple,
                    sql.into_sql_str(),
                    no_tx,
                )
            })
            .collect(),
    )
}

#[cfg(all(test, feature = "sqlite", feature = "postgres"))]
mod tests {
    use super::*;

    /// What a database records of a migration, and how it is run.
    fn key(m: &Migration) -> (i64, String, Vec<u8>, bool, MigrationType) {
        (
            m.version,
            m.description.to_string(),
            m.checksum.to_vec(),
            m.no_tx,
            m.migration_type,
        )
    }

    /// The embedded migrations are exactly those sqlx reads from the directory at run time (as
    /// `sqlx::migrate!` read them before): a database migrated by an earlier build keeps
    /// validating, and no file is left out.
    #[tokio::test]
    async fn embedded_migrations_are_the_directory_as_sqlx_reads_it() {
        for (embedded, dir) in [(sqlite(), "sqlite"), (postgres(), "postgres")] {
            let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("migrations")
                .join(dir);
            let read = Migrator::new(path)
                .await
                .expect("read the migrations directory");
            let embedded: Vec<_> = embedded.iter().map(key).collect();
            let read: Vec<_> = read.iter().map(key).collect();
            assert!(
                read.len() >= 9,
                "{dir}: only {} migrations read",
                read.len()
            );
            assert_eq!(embedded, read, "{dir}");
        }
    }
}
