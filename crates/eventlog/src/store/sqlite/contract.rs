//! The store contract for [`SqliteStore`]: each method one statement or one write
//! transaction, the SQL shared with PostgreSQL called from `store::sql`.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use sqlx::{QueryBuilder, Row, Sqlite};
use uuid::Uuid;

use super::micros_to_time;
use super::read::{FtsIndex, SqliteSql, push_filter};
use super::window::{self, WINDOW_EVENTS};
use super::{SqliteStore, follow};
use crate::error::StoreError;
use crate::event::{Event, NewEvent};
use crate::store::period_counts::{self, PERIOD_COUNTS, Part};
use crate::store::row::event_from_row;
use crate::store::sql::{self, EVENT_COLUMNS};
use crate::store::summary_changes::Mail;
use crate::store::{
    BackendKind, CountedMinute, Cursor, DataKey, DataKeysApplied, EventFilter, FollowCursor,
    GroupCursor, GroupFilter, GroupSummary, Inserted, Integrity, ListingQuery, Migrated,
    NewestCounts, Order, PURGE_BATCH, Page, PoolStatus, ReadStore, WriteStore,
};

#[async_trait]
impl WriteStore for SqliteStore {
    fn backend(&self) -> BackendKind {
        BackendKind::Sqlite
    }

    fn pool_status(&self) -> PoolStatus {
        PoolStatus::of(&self.pool)
    }

    async fn migrate(&self) -> Result<Migrated, StoreError> {
        let mut conn = self.pool.acquire().await?;
        crate::store::run_migrations(&crate::store::migrations::sqlite(), &mut *conn).await
    }

    async fn index_data_keys(&self, declared: &[DataKey]) -> Result<DataKeysApplied, StoreError> {
        self.apply_data_keys(declared).await
    }

    async fn maintain(&self, _budget: usize) -> Result<usize, StoreError> {
        // Search is indexed in the insert transaction: the only upkeep is the WAL.
        self.checkpoint_if_idle().await?;
        Ok(0)
    }

    async fn check_integrity(&self) -> Result<Integrity, StoreError> {
        super::integrity::check(&self.pool).await
    }

    async fn close(&self) {
        if let Err(e) = self.checkpoint().await {
            tracing::warn!(error = %e, "eventlog: WAL checkpoint at close failed");
        }
        self.pool.close().await;
    }

    async fn insert_batch(&self, events: &[NewEvent]) -> Result<Vec<Inserted>, StoreError> {
        self.insert_with(events, Mail::Queue).await
    }

    async fn import_batch(&self, events: &[NewEvent]) -> Result<Vec<Inserted>, StoreError> {
        self.insert_with(events, Mail::Skip).await
    }

    async fn delete(&self, ids: &[i64]) -> Result<u64, StoreError> {
        if ids.is_empty() {
            return Ok(0);
        }
        let mut conn = self.begin_write().await?;
        let work = Self::delete_in(&mut conn, ids).await;
        self.finish(conn, work).await
    }

    async fn purge(
        &self,
        before: DateTime<Utc>,
        event_type: Option<&str>,
    ) -> Result<u64, StoreError> {
        let mut total = 0;
        loop {
            let mut conn = self.begin_write().await?;
            let work = Self::purge_batch(&mut conn, before, event_type).await;
            let n = self.finish(conn, work).await?;
            total += n as u64;
            if n < PURGE_BATCH {
                return Ok(total);
            }
        }
    }

    async fn purge_count(
        &self,
        before: DateTime<Utc>,
        event_type: Option<&str>,
    ) -> Result<u64, StoreError> {
        let n: i64 = sqlx::query_scalar(
            "SELECT count(*) FROM events WHERE ts < ?1 AND (?2 IS NULL OR event_type = ?2)",
        )
        .bind(before.timestamp_micros())
        .bind(event_type)
        .fetch_one(&self.pool)
        .await?;
        Ok(n as u64)
    }
}

#[async_trait]
impl ReadStore for SqliteStore {
    async fn get(&self, id: i64) -> Result<Option<Event>, StoreError> {
        sql::event_by_id::<SqliteSql>(&self.pool, id).await
    }

    async fn get_by_uuid(&self, uuid: Uuid) -> Result<Option<Event>, StoreError> {
        let sql = format!("SELECT {EVENT_COLUMNS} FROM events WHERE uuid = ?");
        let row = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(uuid)
            .fetch_optional(&self.pool)
            .await?;
        row.as_ref().map(event_from_row).transpose()
    }

    async fn list(
        &self,
        filter: &EventFilter,
        order: Order,
        after: Option<&Cursor>,
        limit: usize,
    ) -> Result<Page<Event, Cursor>, StoreError> {
        // A search is planned and read in one read transaction: the plan fits the snapshot.
        let searched = filter.text.as_deref().is_some_and(|t| !t.is_empty());
        if !searched && sql::initiator_query::<SqliteSql>(filter).is_none() {
            let mut qb = sql::list_query::<SqliteSql>(filter, order, after, limit, None);
            return sql::event_page::<SqliteSql>(&mut qb, &self.pool, limit).await;
        }
        let mut tx = self.pool.begin().await?;
        let planned = sql::plan_listing(&mut FtsIndex(&mut tx), filter).await?;
        // A frequent word: first among the newest events only (see `window`).
        if let Some(sql::Planned::Frequent(query)) = &planned
            && let Some((narrowed, query)) =
                window::window(&mut tx, filter, order, after, query, WINDOW_EVENTS).await?
        {
            let windowed = Some(sql::Planned::<SqliteSql>::Frequent(query));
            let mut qb = sql::list_query(&narrowed, order, after, limit, windowed.as_ref());
            let page = sql::event_page::<SqliteSql>(&mut qb, &mut *tx, limit).await?;
            if page.next.is_some() {
                tx.commit().await?;
                return Ok(page);
            }
        }
        let mut qb = sql::list_query(filter, order, after, limit, planned.as_ref());
        let page = sql::event_page::<SqliteSql>(&mut qb, &mut *tx, limit).await?;
        tx.commit().await?;
        Ok(page)
    }

    async fn follow_start(&self) -> Result<FollowCursor, StoreError> {
        follow::start(&self.pool).await
    }

    async fn follow(
        &self,
        filter: &EventFilter,
        cursor: &FollowCursor,
        limit: usize,
    ) -> Result<(Vec<Event>, FollowCursor), StoreError> {
        crate::store::follow::read_filling(cursor, limit, |from, n| async move {
            follow::read_once(&self.pool, filter, &from, n).await
        })
        .await
    }

    async fn group_events(&self, group: &str, limit: usize) -> Result<Vec<Event>, StoreError> {
        sql::group_events::<SqliteSql>(&self.pool, group, limit).await
    }

    async fn groups(
        &self,
        filter: &GroupFilter,
        after: Option<&GroupCursor>,
        limit: usize,
    ) -> Result<Page<GroupSummary, GroupCursor>, StoreError> {
        sql::groups::<SqliteSql>(&self.pool, filter, after, limit).await
    }

    async fn group_summary(&self, group: &str) -> Result<Option<GroupSummary>, StoreError> {
        sql::group_summary::<SqliteSql>(&self.pool, group).await
    }

    async fn count(&self, filter: &EventFilter) -> Result<u64, StoreError> {
        sql::count::<SqliteSql>(&self.pool, filter).await
    }

    async fn count_at_most(&self, filter: &EventFilter, bound: u64) -> Result<u64, StoreError> {
        sql::count_at_most::<SqliteSql>(&self.pool, filter, bound).await
    }

    async fn histogram(
        &self,
        filter: &EventFilter,
        bucket_secs: i64,
    ) -> Result<Vec<(DateTime<Utc>, String, i64)>, StoreError> {
        let width = bucket_secs.max(1);
        if !filter.by_type_and_time() {
            return histogram_of_events(&self.pool, filter, width).await;
        }
        // One read transaction: the parts add up to one snapshot.
        let mut tx = self.pool.begin().await?;
        let mut sums = period_counts::BucketSums::default();
        for part in period_counts::split(filter.since, filter.until, width) {
            let rows = match part {
                Part::Counts { table, from, to } => {
                    let (_, table, column) = PERIOD_COUNTS[table];
                    let w = width * 1_000_000;
                    let mut qb = QueryBuilder::<Sqlite>::new(format!(
                        "SELECT ({column} / {w}) * {w} AS bucket, event_type, \
                         sum(event_count) AS n FROM {table} WHERE 1 = 1"
                    ));
                    if !filter.types.is_empty() {
                        qb.push(" AND event_type IN (");
                        let mut sep = qb.separated(", ");
                        for t in &filter.types {
                            sep.push_bind(t.clone());
                        }
                        qb.push(")");
                    }
                    if let Some(from) = from {
                        qb.push(format!(" AND {column} >= "))
                            .push_bind(from.timestamp_micros());
                    }
                    if let Some(to) = to {
                        qb.push(format!(" AND {column} < "))
                            .push_bind(to.timestamp_micros());
                    }
                    qb.push(" GROUP BY bucket, event_type");
                    bucket_rows(qb.build().fetch_all(&mut *tx).await?)?
                }
                Part::Events { from, to } => {
                    let part = EventFilter {
                        since: from,
                        until: to,
                        ..filter.clone()
                    };
                    histogram_of_events(&mut *tx, &part, width).await?
                }
            };
            sums.add(rows);
        }
        tx.commit().await?;
        Ok(sums.into_rows())
    }
}

#[async_trait]
impl ListingQuery for SqliteStore {
    async fn indexed_data_keys(&self) -> Result<Vec<String>, StoreError> {
        crate::store::scan::step::indexed_data_keys::<SqliteSql>(&self.pool).await
    }

    async fn scan_step(
        &self,
        filter: &EventFilter,
        order: Order,
        after: Option<&Cursor>,
        events: u64,
        wanted: usize,
    ) -> Result<crate::store::ScanStep, StoreError> {
        crate::store::scan::step::scan_step::<SqliteSql, _>(
            &self.pool, filter, order, after, events, wanted,
        )
        .await
    }

    async fn histogram_newest(
        &self,
        filter: &EventFilter,
        matches: usize,
        events: usize,
    ) -> Result<NewestCounts, StoreError> {
        // A search is planned and read in one read transaction, as the listing does.
        let mut tx = self.pool.begin().await?;
        let planned = sql::plan_listing(&mut FtsIndex(&mut tx), filter).await?;
        // A frequent search: only the newest `events` events are tested, from the time of
        // the last of them (found along the index, untested).
        let from = match planned {
            Some(sql::Planned::Frequent(_)) => {
                sql::frequent_search_start::<SqliteSql>(&mut *tx, filter, events).await?
            }
            _ => None,
        };
        // Only the matches among the events tested are gathered (see `window`).
        let planned = match (planned, from) {
            (Some(sql::Planned::Frequent(mut query)), Some((ts, _))) => {
                let since = EventFilter {
                    since: Some(filter.since.map_or(ts, |s| s.max(ts))),
                    ..filter.clone()
                };
                query.min_id = window::smallest_id(&mut tx, &since, Order::Desc, None).await?;
                Some(sql::Planned::Frequent(query))
            }
            (planned, _) => planned,
        };
        let mut qb = QueryBuilder::<Sqlite>::new(
            "SELECT (ts / 60000000) * 60000000 AS bucket, event_type, count(*) AS n, \
             min(ts) AS oldest, max(ts) AS newest FROM (SELECT ts, event_type FROM events",
        );
        sql::push_filter(&mut qb, filter, planned.as_ref());
        if let Some((ts, id)) = from {
            let ts = ts.timestamp_micros();
            qb.push(" AND ts >= ")
                .push_bind(ts)
                .push(" AND (ts > ")
                .push_bind(ts)
                .push(" OR id >= ")
                .push_bind(id)
                .push(")");
        }
        qb.push(" ORDER BY ts DESC, id DESC LIMIT ")
            .push_bind(sql::limit_param(matches))
            .push(") GROUP BY bucket, event_type ORDER BY bucket, event_type");
        let rows = qb.build().fetch_all(&mut *tx).await?;
        tx.commit().await?;
        let rows = rows
            .iter()
            .map(|r| {
                Ok((
                    micros_to_time(r.try_get("bucket")?)?,
                    r.try_get("event_type")?,
                    r.try_get("n")?,
                    micros_to_time(r.try_get("oldest")?)?,
                    micros_to_time(r.try_get("newest")?)?,
                ))
            })
            .collect::<Result<Vec<CountedMinute>, StoreError>>()?;
        Ok(NewestCounts::of(rows, matches).among_events_from(from.map(|f| f.0)))
    }
}

/// The histogram counted from the events themselves.
async fn histogram_of_events<'c>(
    exec: impl sqlx::Executor<'c, Database = Sqlite>,
    filter: &EventFilter,
    width: i64,
) -> Result<Vec<(DateTime<Utc>, String, i64)>, StoreError> {
    let w = width * 1_000_000;
    let mut qb = QueryBuilder::<Sqlite>::new(format!(
        "SELECT (ts / {w}) * {w} AS bucket, event_type, count(*) AS n FROM events"
    ));
    push_filter(&mut qb, filter);
    qb.push(" GROUP BY bucket, event_type ORDER BY bucket");
    bucket_rows(qb.build().fetch_all(exec).await?)
}

/// Rows of (bucket start in microseconds, type, count).
fn bucket_rows(
    rows: Vec<sqlx::sqlite::SqliteRow>,
) -> Result<Vec<(DateTime<Utc>, String, i64)>, StoreError> {
    rows.iter()
        .map(|r| {
            Ok((
                micros_to_time(r.try_get("bucket")?)?,
                r.try_get("event_type")?,
                r.try_get("n")?,
            ))
        })
        .collect()
}
