//! The shared backend suite: every method of the store contract, run on SQLite, on PostgreSQL
//! and on Citus, one file per concern.
//!
//! Each test is an `async fn(TestDb)`; `eventlog_testing::on_every_backend!` turns it into
//! `sqlite::NAME`, `postgres::NAME` and `citus::NAME`. PostgreSQL and the Citus cluster come
//! from `scripts/test` (EVENTLOG_TEST_POSTGRES_URL, EVENTLOG_TEST_CITUS_URL); without them
//! those tests fail, they never skip.

#![allow(clippy::unwrap_used)] // A test: a panic is the failure report.

use std::collections::HashSet;
use std::sync::Arc;

use chrono::{DateTime, Duration, TimeZone, Utc};
use eventlog::store::{
    self, Backend, Counted, Cursor, DataMatch, EventFilter, FollowCursor, GroupCursor, GroupFilter,
    NewestRequest, Order, PURGE_BATCH,
};
use eventlog::{GroupId, NewEvent};
use eventlog_testing::{PgCluster, TestDb};
use serde_json::json;

use crate::support::{charted, listed, listed_ids};

mod connect;
mod data_keys;
mod filters;
mod follow;
mod frequent_window;
mod groups;
mod histogram;
mod purge;
mod search;
mod writes;

/// 2026-01-01T00:00:00Z plus `secs` seconds.
fn at(secs: i64) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).unwrap() + Duration::seconds(secs)
}

fn group(name: &str) -> GroupId {
    GroupId::named(name).unwrap()
}

/// An event of `ty` in group `g` at `at(secs)`.
fn ev(ty: &str, g: &str, msg: &str, secs: i64) -> NewEvent {
    let mut e = NewEvent::new(ty, group(g), msg);
    e.timestamp = at(secs);
    e
}

async fn open(db: &TestDb) -> Arc<dyn Backend> {
    store::open(db.url()).await.expect("open and migrate")
}

async fn messages(store: &dyn Backend, filter: &EventFilter) -> Vec<String> {
    let page = store.list(filter, Order::Asc, None, 1000).await.unwrap();
    page.items.into_iter().map(|e| e.message).collect()
}
