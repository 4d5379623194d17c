//! A frequent word's page read among the newest events first.
//!
//! A page of a frequent word walks the time index and tests each row against the word's
//! matches, which SQLite gathers first, in full: 300,000 ids for a word in 3% of 10M events,
//! most of a page's time, and growing with the log. A page needs only the newest of them. So
//! the page is first read within a window: the time range of the newest [`WINDOW_EVENTS`]
//! events its other conditions select, where only the matches with at least the smallest id
//! in that range can be, so only those are gathered. A window that does not fill the page
//! (the word is rare among recent events) is read again without one.

use chrono::Duration;
use sqlx::{QueryBuilder, Sqlite, SqliteConnection};

use super::read::{FtsQuery, SqliteSql};
use crate::error::StoreError;
use crate::store::row::StoredRow;
use crate::store::sql::{self, Dialect};
use crate::store::{Cursor, EventFilter, Order};

/// Events a window holds: a page of a word in 3% of the events needs ~3,400 of them.
pub(super) const WINDOW_EVENTS: i64 = 20_000;

/// The window of a listing of `filter` in `order` after `after`: `filter` narrowed to the time
/// range of the newest (in `order`) `events` events its indexed conditions select, and
/// `query` limited to the ids that range holds. `None` when fewer events remain (no window:
/// the whole rest is as small).
pub(super) async fn window(
    conn: &mut SqliteConnection,
    filter: &EventFilter,
    order: Order,
    after: Option<&Cursor>,
    query: &FtsQuery,
    events: i64,
) -> Result<Option<(EventFilter, FtsQuery)>, StoreError> {
    // Only the conditions an index answers, so that finding the window reads index entries
    // only: a superset of the filter's events, whose range holds every event of the filter's.
    let walked = EventFilter {
        types: filter.types.clone(),
        since: filter.since,
        until: filter.until,
        group: filter.group.clone(),
        ..EventFilter::default()
    };
    let dir = match order {
        Order::Desc => "DESC",
        Order::Asc => "ASC",
    };
    let mut qb = QueryBuilder::<Sqlite>::new("SELECT ts FROM events");
    sql::push_filter::<SqliteSql>(&mut qb, &walked, None);
    if let Some(c) = after {
        SqliteSql::push_after(&mut qb, order, c);
    }
    qb.push(format!(" ORDER BY ts {dir}, id {dir} LIMIT 1 OFFSET "))
        .push_bind(events - 1);
    let Some(row) = qb.build().fetch_optional(&mut *conn).await? else {
        return Ok(None);
    };
    let edge = row.time("ts")?;
    let mut narrowed = filter.clone();
    match order {
        Order::Desc => narrowed.since = Some(filter.since.map_or(edge, |s| s.max(edge))),
        Order::Asc => {
            let end = edge + Duration::microseconds(1);
            narrowed.until = Some(filter.until.map_or(end, |u| u.min(end)));
        }
    }
    let range = EventFilter {
        since: narrowed.since,
        until: narrowed.until,
        ..walked
    };
    let min_id = smallest_id(conn, &range, order, after).await?;
    Ok(min_id.map(|min| {
        let mut query = query.clone();
        query.min_id = Some(min);
        (narrowed, query)
    }))
}

/// The smallest id among the events of `filter`'s types, group and time range after
/// `after` in `order` (`None`: there are none).
pub(super) async fn smallest_id(
    conn: &mut SqliteConnection,
    filter: &EventFilter,
    order: Order,
    after: Option<&Cursor>,
) -> Result<Option<i64>, StoreError> {
    let range = EventFilter {
        types: filter.types.clone(),
        since: filter.since,
        until: filter.until,
        group: filter.group.clone(),
        ..EventFilter::default()
    };
    // `+id`: the smallest id along the range of the time index, not the first of the table.
    let mut qb = QueryBuilder::<Sqlite>::new("SELECT min(+id) AS id FROM events");
    sql::push_filter::<SqliteSql>(&mut qb, &range, None);
    if let Some(c) = after {
        SqliteSql::push_after(&mut qb, order, c);
    }
    let row = qb.build().fetch_one(&mut *conn).await?;
    Ok(sqlx::Row::try_get(&row, "id")?)
}
