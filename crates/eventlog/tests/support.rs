//! Reading a store the way most assertions want it, shared by the test files (reached as
//! `crate::support`).

use eventlog::Event;
use eventlog::store::{EventFilter, Order, Store};

/// The first `limit` events the filter selects, in `order`.
pub async fn listed(
    store: &dyn Store,
    filter: &EventFilter,
    order: Order,
    limit: usize,
) -> Vec<Event> {
    store
        .list(filter, order, None, limit)
        .await
        .expect("list")
        .items
}

/// Every event of the store at `url`, oldest first (opening it applies its migrations).
pub async fn all_stored(url: &str) -> Vec<Event> {
    let store = eventlog::store::open(url).await.expect("open store");
    listed(
        store.as_ref(),
        &EventFilter::default(),
        Order::Asc,
        1_000_000,
    )
    .await
}

/// The ids of [`listed`]'s events.
pub async fn listed_ids(
    store: &dyn Store,
    filter: &EventFilter,
    order: Order,
    limit: usize,
) -> Vec<i64> {
    let events = listed(store, filter, order, limit).await;
    events.iter().map(|e| e.id).collect()
}

/// How many events the chart of `filter` counts, its buckets (`width` seconds) added up.
pub async fn charted(store: &dyn Store, filter: &EventFilter, width: i64) -> i64 {
    let buckets = store.histogram(filter, width).await.expect("histogram");
    buckets.iter().map(|(_, _, n)| n).sum()
}

/// PostgreSQL: how many per-type group counts (`event_group_types`) differ from a recount of
/// the events (0 when they agree).
pub async fn wrong_group_type_counts(pool: &sqlx::PgPool) -> i64 {
    sqlx::query_scalar(
        "WITH stored AS (SELECT gid, event_type, event_count FROM event_group_types), \
         counted AS (SELECT gid, event_type, count(*) AS event_count FROM events \
         GROUP BY gid, event_type) \
         SELECT count(*) FROM ((SELECT * FROM stored EXCEPT SELECT * FROM counted) \
         UNION ALL (SELECT * FROM counted EXCEPT SELECT * FROM stored)) x",
    )
    .fetch_one(pool)
    .await
    .expect("recount the per-type group counts")
}
