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
