//! Following the log on SQLite: one writer at a time, so ids become visible in id order and
//! the last id read is the whole position.

use sqlx::{QueryBuilder, Sqlite, SqlitePool};

use super::push_filter;
use super::read::SqliteSql;
use crate::error::StoreError;
use crate::event::Event;
use crate::store::EventFilter;
use crate::store::follow::{FollowCursor, Mark};
use crate::store::sql::{EVENT_COLUMNS, fetch_events};

pub(super) async fn start(pool: &SqlitePool) -> Result<FollowCursor, StoreError> {
    let last: Option<i64> = sqlx::query_scalar("SELECT max(id) FROM events")
        .fetch_one(pool)
        .await?;
    Ok(FollowCursor::after_id(last.unwrap_or(0)))
}

/// The id a mark stands for; a PostgreSQL snapshot means nothing here.
fn id_of(mark: &Mark, cursor: &FollowCursor) -> Result<i64, StoreError> {
    match mark {
        Mark::Id(id) => Ok(*id),
        Mark::Snapshot(_) => Err(StoreError::InvalidCursor(cursor.to_string())),
    }
}

pub(super) async fn read_once(
    pool: &SqlitePool,
    filter: &EventFilter,
    cursor: &FollowCursor,
    limit: usize,
) -> Result<(Vec<Event>, FollowCursor), StoreError> {
    let from = id_of(&cursor.mark, cursor)?.max(cursor.after_id);
    let end = cursor.end.as_ref().map(|m| id_of(m, cursor)).transpose()?;
    let mut qb = QueryBuilder::<Sqlite>::new(format!("SELECT {EVENT_COLUMNS} FROM events"));
    push_filter(&mut qb, filter);
    qb.push(" AND id > ").push_bind(from);
    if let Some(end) = end {
        qb.push(" AND id <= ").push_bind(end);
    }
    qb.push(" ORDER BY id LIMIT ")
        .push_bind(crate::store::sql::limit_param(limit));
    let events = fetch_events::<SqliteSql>(&mut qb, pool).await?;
    let last = events.last().map(|e| e.id);
    let next = match end {
        Some(end) => cursor.advance(Mark::Id(end), events.len(), last, limit),
        // Unbounded: whatever was read is everything up to the last id.
        None => FollowCursor::after_id(last.unwrap_or(from)),
    };
    Ok((events, next))
}
