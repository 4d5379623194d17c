//! The django-eventlog fixtures the test suites import: databases written by django-eventlog
//! 2.2.2 itself, kept outside the repository (`../shared/fixtures` beside the checkout).

use std::path::{Path, PathBuf};

/// The environment variable that names the fixtures directory, where it is not
/// `../shared/fixtures` beside the checkout.
pub const FIXTURES_DIR_ENV: &str = "EVENTLOG_FIXTURES_DIR";

/// The SQLite fixture's file name in the fixtures directory.
pub const DJANGO_SQLITE: &str = "django-eventlog-2.2.sqlite3";

/// The PostgreSQL fixture's file name (a script for `psql -f`) in the fixtures directory.
pub const DJANGO_POSTGRES: &str = "django-eventlog-2.2-postgres.sql";

/// The fixtures directory: [`FIXTURES_DIR_ENV`], or `../shared/fixtures` beside the checkout.
/// Panics, naming where it looked, when either django-eventlog fixture is missing: a test
/// fails for want of them, it never skips.
pub fn django_fixtures() -> PathBuf {
    let dir = std::env::var_os(FIXTURES_DIR_ENV)
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            PathBuf::from(concat!(
                env!("CARGO_MANIFEST_DIR"),
                "/../../../shared/fixtures"
            ))
        });
    assert!(
        dir.join(DJANGO_SQLITE).is_file() && dir.join(DJANGO_POSTGRES).is_file(),
        "the django-eventlog fixtures are missing from {}: they live in ../shared/fixtures \
         beside the checkout (or set {FIXTURES_DIR_ENV})",
        dir.display()
    );
    dir
}

/// A private copy of the SQLite fixture in `dir`, `django.sqlite3` (the fixture itself stays
/// untouched); its path.
pub fn django_sqlite_copy(dir: &Path) -> PathBuf {
    let copy = dir.join("django.sqlite3");
    std::fs::copy(django_fixtures().join(DJANGO_SQLITE), &copy).expect("copy the SQLite fixture");
    copy
}
