//! One step of a bounded scan in SQL, the same on both backends: find where the step ends
//! (the `events`-th event along the time index, not tested), then read the matches up to
//! there, in the listing's order.

use sqlx::{Database, Executor, QueryBuilder};

use super::ScanStep;
use crate::error::StoreError;
use crate::store::row::StoredRow;
use crate::store::sql::{self, Dialect, EVENT_COLUMNS, PlainBinds};
use crate::store::{Cursor, EventFilter, Order};

/// Looks at the next `events` (at least 1) events of `filter` without its data conditions
/// after `after` in `order`, and returns the first `wanted` of them that match `filter`.
pub(crate) async fn scan_step<'c, D, E>(
    exec: E,
    filter: &EventFilter,
    order: Order,
    after: Option<&Cursor>,
    events: u64,
    wanted: usize,
) -> Result<ScanStep, StoreError>
where
    D: Dialect,
    E: Executor<'c, Database = D::Db> + Copy,
    i64: for<'r> sqlx::Decode<'r, D::Db> + sqlx::Type<D::Db>,
    usize: sqlx::ColumnIndex<<D::Db as Database>::Row>,
{
    let events = events.max(1);
    let walked = EventFilter {
        data: Vec::new(),
        ..filter.clone()
    };
    let dir = match order {
        Order::Desc => "DESC",
        Order::Asc => "ASC",
    };
    let mut qb = QueryBuilder::<D::Db>::new("SELECT ts, id FROM events");
    sql::push_filter::<D>(&mut qb, &walked, None);
    if let Some(c) = after {
        D::push_after(&mut qb, order, c);
    }
    qb.push(format!(" ORDER BY ts {dir}, id {dir} LIMIT 1 OFFSET "));
    D::Db::push_int(&mut qb, i64::try_from(events - 1).unwrap_or(i64::MAX));
    let end = match qb.build().fetch_optional(exec).await? {
        Some(row) => Some(Cursor {
            timestamp: row.time("ts")?,
            id: row.int("id")?,
        }),
        None => None,
    };
    let looked_at = match end {
        Some(_) => events,
        // The last step: fewer events are left than it may look at.
        None => {
            let mut qb = QueryBuilder::<D::Db>::new("SELECT count(*) FROM (SELECT 1 FROM events");
            sql::push_filter::<D>(&mut qb, &walked, None);
            if let Some(c) = after {
                D::push_after(&mut qb, order, c);
            }
            qb.push(") AS walked");
            let n: i64 = qb.build_query_scalar().fetch_one(exec).await?;
            n.max(0) as u64
        }
    };
    let mut qb = QueryBuilder::<D::Db>::new(format!("SELECT {EVENT_COLUMNS} FROM events"));
    sql::push_filter::<D>(&mut qb, filter, None);
    if let Some(c) = after {
        D::push_after(&mut qb, order, c);
    }
    if let Some(end) = &end {
        push_up_to::<D>(&mut qb, order, end);
    }
    qb.push(format!(" ORDER BY ts {dir}, id {dir} LIMIT "));
    D::Db::push_int(&mut qb, sql::limit_param(wanted));
    let matches = sql::fetch_events::<D>(&mut qb, exec).await?;
    Ok(ScanStep {
        matches,
        events: looked_at,
        end,
    })
}

/// The events up to `end` in `order`, `end` included: a range on `ts` (which the time index
/// serves) plus a tie-break on `id`.
fn push_up_to<D: Dialect>(qb: &mut QueryBuilder<D::Db>, order: Order, end: &Cursor) {
    let (cmp_eq, cmp) = match order {
        Order::Desc => (">=", ">"),
        Order::Asc => ("<=", "<"),
    };
    qb.push(format!(" AND ts {cmp_eq} "));
    D::push_time(qb, end.timestamp);
    qb.push(format!(" AND (ts {cmp} "));
    D::push_time(qb, end.timestamp);
    qb.push(format!(" OR id {cmp_eq} "));
    D::Db::push_int(qb, end.id);
    qb.push(")");
}

/// The data keys that have an index (the bookkeeping of
/// [`crate::store::WriteStore::index_data_keys`]).
pub(crate) async fn indexed_data_keys<'c, D: Dialect>(
    exec: impl Executor<'c, Database = D::Db>,
) -> Result<Vec<String>, StoreError> {
    let rows = QueryBuilder::<D::Db>::new("SELECT path FROM eventlog_data_keys ORDER BY path")
        .build()
        .fetch_all(exec)
        .await?;
    rows.iter().map(|r| r.text("path")).collect()
}
