//! `eventlog check` on SQLite: the file's own integrity check, then the search indexes'.

use sqlx::SqlitePool;

use crate::error::StoreError;
use crate::store::{Integrity, MAX_PROBLEMS};

/// The full-text indexes, whose pages `integrity_check` reads but whose meaning (the words
/// point at the right rows) only FTS5's own check verifies: the name said, and the check.
/// (FTS5's command form: an insert naming the table itself runs the check, writing nothing.)
const SEARCH_INDEXES: [(&str, &str); 2] = [
    (
        "search index of events",
        "INSERT INTO events_search (events_search) VALUES ('integrity-check')",
    ),
    (
        "search index of groups",
        "INSERT INTO groups_search (groups_search) VALUES ('integrity-check')",
    ),
];

/// Runs `PRAGMA integrity_check` (at most [`MAX_PROBLEMS`] lines) and FTS5's `integrity-check` on each search index.
pub(super) async fn check(pool: &SqlitePool) -> Result<Integrity, StoreError> {
    let mut conn = pool.acquire().await?;
    let lines: Vec<String> = match sqlx::query_scalar("PRAGMA integrity_check(100)")
        .fetch_all(&mut *conn)
        .await
    {
        Ok(lines) => lines,
        // Damage bad enough that the check itself cannot start (a broken schema page).
        Err(e) if is_damage(&e) => vec![e.to_string()],
        Err(e) => return Err(e.into()),
    };
    let mut problems: Vec<String> = lines.into_iter().filter(|l| l != "ok").collect();
    let mut checked = vec!["SQLite integrity_check"];
    for (index, sql) in SEARCH_INDEXES {
        match sqlx::query(sql).execute(&mut *conn).await {
            Ok(_) => checked.push(index),
            Err(e) if is_damage(&e) => problems.push(format!("{index}: {}", message(&e))),
            Err(e) => return Err(e.into()),
        }
    }
    problems.truncate(MAX_PROBLEMS);
    Ok(if problems.is_empty() {
        Integrity::Sound { checked }
    } else {
        Integrity::Damaged { problems }
    })
}

fn is_damage(e: &sqlx::Error) -> bool {
    e.as_database_error()
        .and_then(|db| db.code())
        .is_some_and(|code| crate::error::is_damage_code(&code))
}

fn message(e: &sqlx::Error) -> String {
    match e {
        sqlx::Error::Database(db) => db.message().to_owned(),
        other => other.to_string(),
    }
}
