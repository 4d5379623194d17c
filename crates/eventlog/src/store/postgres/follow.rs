//! Following the log on PostgreSQL by transaction visibility (see `store::follow`).
//!
//! A read takes a snapshot (`pg_current_snapshot()`) as its upper bound and returns the rows
//! whose transaction was running at the previous snapshot (or began after it) and has
//! finished by this one. A row is visible to a later snapshot exactly when its transaction
//! had finished, so each committed row falls in exactly one such interval.

use sqlx::{PgPool, Postgres, QueryBuilder};

use super::push_filter;
use super::read::PgSql;
use crate::error::StoreError;
use crate::event::Event;
use crate::store::EventFilter;
use crate::store::follow::{FollowCursor, Mark, XidSnapshot};
use crate::store::sql::{EVENT_COLUMNS, fetch_events, limit_param};

/// The snapshot of now: `xmax` and the transactions still running.
async fn snapshot(pool: &PgPool) -> Result<XidSnapshot, StoreError> {
    let (xmax, mut running): (i64, Vec<i64>) = sqlx::query_as(
        "SELECT pg_snapshot_xmax(s)::text::int8, \
         ARRAY(SELECT pg_snapshot_xip(s)::text::int8) FROM pg_current_snapshot() s",
    )
    .fetch_one(pool)
    .await?;
    running.sort_unstable();
    Ok(XidSnapshot { xmax, running })
}

pub(super) async fn start(pool: &PgPool) -> Result<FollowCursor, StoreError> {
    Ok(FollowCursor::at(Mark::Snapshot(snapshot(pool).await?)))
}

pub(super) async fn read_once(
    pool: &PgPool,
    citus: bool,
    filter: &EventFilter,
    cursor: &FollowCursor,
    limit: usize,
) -> Result<(Vec<Event>, FollowCursor), StoreError> {
    let end = match &cursor.end {
        Some(Mark::Snapshot(end)) => end.clone(),
        Some(Mark::Id(_)) => return Err(StoreError::InvalidCursor(cursor.to_string())),
        None => {
            let end = snapshot(pool).await?;
            if citus {
                // What the snapshot counts as committed may still be committing on a worker.
                super::citus::settle(pool).await?;
            }
            end
        }
    };
    let mut qb = QueryBuilder::<Postgres>::new(format!("SELECT {EVENT_COLUMNS} FROM events"));
    push_filter(&mut qb, filter);
    match &cursor.mark {
        // Rows of the transactions that had not finished at the last read and have by `end`.
        // The range on `xid` is what the index serves (from the oldest transaction then
        // running: a transaction held open for long widens it); the rest filters it. The
        // BRIN index is on `xid::text::int8` (no BRIN operator class for xid8), so the range
        // is written on that expression.
        Mark::Snapshot(from) => {
            let oldest = from
                .running
                .first()
                .map_or(from.xmax, |&x| x.min(from.xmax));
            qb.push(" AND xid::text::int8 >= ")
                .push_bind(oldest)
                .push(" AND xid::text::int8 < ")
                .push_bind(end.xmax)
                .push(" AND (xid >= ")
                .push_bind(from.xmax)
                .push("::int8::text::xid8 OR xid = ANY(")
                .push_bind(from.running.clone())
                .push("::int8[]::text[]::xid8[])) AND xid <> ALL(")
                .push_bind(end.running.clone())
                .push("::int8[]::text[]::xid8[]) AND id > ")
                .push_bind(cursor.after_id);
        }
        // An id from a client: the rows after it that are visible in `end`. Rows stored
        // before transaction ids were recorded (NULL) were all committed long ago.
        Mark::Id(id) => {
            qb.push(" AND id > ")
                .push_bind((*id).max(cursor.after_id))
                .push(" AND (xid IS NULL OR (xid < ")
                .push_bind(end.xmax)
                .push("::int8::text::xid8 AND xid <> ALL(")
                .push_bind(end.running.clone())
                .push("::int8[]::text[]::xid8[])))");
        }
    }
    qb.push(" ORDER BY id LIMIT ").push_bind(limit_param(limit));
    let events = fetch_events::<PgSql>(&mut qb, pool).await?;
    let next = cursor.advance(
        Mark::Snapshot(end),
        events.len(),
        events.last().map(|e| e.id),
        limit,
    );
    Ok((events, next))
}
