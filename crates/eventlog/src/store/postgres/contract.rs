//! The store contract for [`PostgresStore`]: each method one statement or one transaction,
//! the SQL shared with SQLite called from `store::sql`.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use sqlx::{Postgres, QueryBuilder};
use uuid::Uuid;

use super::read::{PgSql, push_filter, push_matches};
use super::search_plan::GinIndex;
use super::{PostgresStore, WRITE_CONCURRENCY, follow};
use crate::error::StoreError;
use crate::event::{Event, NewEvent};
use crate::store::period_counts::{self, PERIOD_COUNTS, Part};
use crate::store::row::event_from_row;
use crate::store::sql::{self, EVENT_COLUMNS};
use crate::store::summary_changes::Mail;
use crate::store::{
    BackendKind, CountedMinute, Cursor, DataKey, DataKeysApplied, EventFilter, FollowCursor,
    GroupCursor, GroupFilter, GroupSummary, Inserted, Integrity, ListingQuery, Migrated,
    NewestCounts, NewestRequest, Order, PURGE_BATCH, Page, PoolStatus, ReadStore, WriteStore,
};

#[async_trait]
impl WriteStore for PostgresStore {
    fn backend(&self) -> BackendKind {
        BackendKind::Postgres
    }

    fn pool_status(&self) -> PoolStatus {
        PoolStatus::of(&self.pool)
    }

    fn write_concurrency(&self) -> usize {
        WRITE_CONCURRENCY
    }

    async fn index_data_keys(&self, declared: &[DataKey]) -> Result<DataKeysApplied, StoreError> {
        self.apply_data_keys(declared).await
    }

    async fn migrate(&self) -> Result<Migrated, StoreError> {
        // sqlx holds an advisory lock while migrating: servers starting together are safe.
        // A migration may build an index over millions of rows: no statement timeout here.
        let mut conn = self.pool.acquire().await?;
        sqlx::query("SET statement_timeout = 0")
            .execute(&mut *conn)
            .await?;
        // `run_direct` is sqlx's way around "`Acquire` is not general enough" inside an
        // `async_trait` method; `run(&mut *conn)` does the same.
        // (Two servers starting together may both report a migration as applied by them;
        // the lock still lets only one apply it.)
        let migrated =
            crate::store::run_migrations(&crate::store::migrations::postgres(), &mut *conn).await?;
        if self.citus {
            super::citus::distribute(&mut conn).await?;
        }
        sqlx::query("RESET statement_timeout")
            .execute(&mut *conn)
            .await?;
        drop(conn);
        // `migrate` creates the partitions ahead, so a fresh database has them at once.
        self.extend_partitions(crate::event::now()).await?;
        self.shrink_empty_default().await?;
        Ok(migrated)
    }

    async fn maintain(&self, _budget: usize) -> Result<usize, StoreError> {
        // Partitions ahead: checked now and then, not on every call (every 2 s per server).
        if self.upkeep_due() {
            self.extend_partitions(crate::event::now()).await?;
            // Partitions other servers made or dropped are seen from now on.
            self.coverage_changed();
            self.shrink_empty_default().await?;
        }
        // The uuid claims of dropped partitions: one bounded step per call while any are
        // left (a single-row read when none are).
        if !self.claims_due() {
            return Ok(0);
        }
        let swept = self.sweep_claims().await?;
        self.claims_found(swept.is_some());
        Ok(swept.map_or(0, |n| usize::try_from(n.max(1)).unwrap_or(usize::MAX)))
    }

    async fn check_integrity(&self) -> Result<Integrity, StoreError> {
        Ok(Integrity::NotOurs {
            advice: "PostgreSQL guards its own files (enable data checksums with `initdb -k`); \
                     check its tables and indexes with `pg_amcheck --heapallindexed DBNAME`",
        })
    }

    async fn analyze(&self) -> Result<(), StoreError> {
        // Every table of the database: a partitioned `events` is analysed as a whole and
        // partition by partition.
        let mut conn = self.pool.acquire().await?;
        // A statement timeout meant for pages does not apply to this one.
        for sql in [
            "SET statement_timeout = 0",
            "ANALYZE",
            "RESET statement_timeout",
        ] {
            sqlx::query(sql).execute(&mut *conn).await?;
        }
        Ok(())
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
        let mut tx = self.pool.begin().await?;
        let deleted: Vec<(i64, DateTime<Utc>, String)> = sqlx::query_as(
            "WITH d AS (DELETE FROM events WHERE id = ANY($1) RETURNING gid, uuid, ts, event_type), \
                 u AS (DELETE FROM event_uuids WHERE uuid IN (SELECT uuid FROM d)) \
                 SELECT gid, ts, event_type FROM d",
        )
        .bind(ids)
        .fetch_all(&mut *tx)
        .await?;
        let n = deleted.len() as u64;
        Self::recompute_groups(&mut tx, deleted.iter().map(|d| d.0).collect()).await?;
        Self::add_period_counts(&mut tx, deleted.iter().map(|d| (d.1, d.2.as_str(), -1))).await?;
        tx.commit().await?;
        Ok(n)
    }

    async fn purge(
        &self,
        before: DateTime<Utc>,
        event_type: Option<&str>,
    ) -> Result<u64, StoreError> {
        let mut total = 0;
        // Whole partitions first (all their rows are older): a DROP, not millions of
        // deletes. What is left is the boundary partition and the default one.
        if event_type.is_none() && self.is_partitioned().await? {
            total += self.drop_partitions_before(before).await?;
        }
        loop {
            let mut tx = self.pool.begin().await?;
            let deleted: Vec<(i64, DateTime<Utc>, String)> = sqlx::query_as(
                "WITH d AS (DELETE FROM events WHERE (id, ts) IN (SELECT id, ts FROM events \
                 WHERE ts < $1 AND ($2::text IS NULL OR event_type = $2) ORDER BY ts LIMIT $3) \
                 RETURNING gid, uuid, ts, event_type), \
                 u AS (DELETE FROM event_uuids WHERE uuid IN (SELECT uuid FROM d)) \
                 SELECT gid, ts, event_type FROM d",
            )
            .bind(before)
            .bind(event_type)
            .bind(PURGE_BATCH as i64)
            .fetch_all(&mut *tx)
            .await?;
            let n = deleted.len();
            total += n as u64;
            Self::recompute_groups(&mut tx, deleted.iter().map(|d| d.0).collect()).await?;
            Self::add_period_counts(&mut tx, deleted.iter().map(|d| (d.1, d.2.as_str(), -1)))
                .await?;
            tx.commit().await?;
            if n < PURGE_BATCH {
                break;
            }
        }
        if event_type.is_some() && self.is_partitioned().await? {
            self.drop_empty_partitions_before(before).await?;
        }
        Ok(total)
    }

    async fn purge_count(
        &self,
        before: DateTime<Utc>,
        event_type: Option<&str>,
    ) -> Result<u64, StoreError> {
        let n: i64 = sqlx::query_scalar(
            "SELECT count(*) FROM events WHERE ts < $1 AND ($2::text IS NULL OR event_type = $2)",
        )
        .bind(before)
        .bind(event_type)
        .fetch_one(&self.pool)
        .await?;
        Ok(n.max(0) as u64)
    }
}

#[async_trait]
impl ReadStore for PostgresStore {
    async fn get(&self, id: i64) -> Result<Option<Event>, StoreError> {
        sql::event_by_id::<PgSql>(&self.pool, id).await
    }

    async fn get_by_uuid(&self, uuid: Uuid) -> Result<Option<Event>, StoreError> {
        // The uuid's time picks the partition (pruned when the statement runs), where the
        // time index finds it.
        let sql = format!(
            "SELECT {EVENT_COLUMNS} FROM events \
             WHERE ts = (SELECT ts FROM event_uuids WHERE uuid = $1) AND uuid = $1"
        );
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
        let planned = self.plan(filter).await?;
        let mut qb = sql::list_query(filter, order, after, limit, planned.as_ref());
        sql::event_page::<PgSql>(&mut qb, &self.pool, limit).await
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
            follow::read_once(&self.pool, self.citus, filter, &from, n).await
        })
        .await
    }

    async fn group_events(&self, group: &str, limit: usize) -> Result<Vec<Event>, StoreError> {
        if self.citus {
            return super::citus::group_events(&self.pool, group, limit).await;
        }
        sql::group_events::<PgSql>(&self.pool, group, limit).await
    }

    async fn groups(
        &self,
        filter: &GroupFilter,
        after: Option<&GroupCursor>,
        limit: usize,
    ) -> Result<Page<GroupSummary, GroupCursor>, StoreError> {
        sql::groups::<PgSql>(&self.pool, filter, after, limit).await
    }

    async fn group_summary(&self, group: &str) -> Result<Option<GroupSummary>, StoreError> {
        if self.citus {
            return super::citus::group_summary(&self.pool, group).await;
        }
        sql::group_summary::<PgSql>(&self.pool, group).await
    }

    async fn count(&self, filter: &EventFilter) -> Result<u64, StoreError> {
        sql::count::<PgSql>(&self.pool, filter).await
    }

    async fn count_at_most(&self, filter: &EventFilter, bound: u64) -> Result<u64, StoreError> {
        sql::count_at_most::<PgSql>(&self.pool, filter, bound).await
    }

    async fn histogram(
        &self,
        filter: &EventFilter,
        bucket_secs: i64,
    ) -> Result<Vec<(DateTime<Utc>, String, i64)>, StoreError> {
        let width = bucket_secs.max(1);
        if !filter.by_type_and_time() {
            return self.histogram_of_events(filter, width).await;
        }
        let mut sums = period_counts::BucketSums::default();
        for part in period_counts::split(filter.since, filter.until, width) {
            let rows = match part {
                Part::Counts { table, from, to } => {
                    let (_, table, column) = PERIOD_COUNTS[table];
                    let mut qb = QueryBuilder::<Postgres>::new(format!(
                        "SELECT date_bin(make_interval(secs => {width}), {column}, \
                         TIMESTAMPTZ '1970-01-01 00:00:00+00') AS bucket, event_type, \
                         sum(event_count)::int8 AS n FROM {table} WHERE TRUE"
                    ));
                    if !filter.types.is_empty() {
                        qb.push(" AND event_type = ANY(")
                            .push_bind(filter.types.clone())
                            .push(")");
                    }
                    if let Some(from) = from {
                        qb.push(format!(" AND {column} >= ")).push_bind(from);
                    }
                    if let Some(to) = to {
                        qb.push(format!(" AND {column} < ")).push_bind(to);
                    }
                    qb.push(" GROUP BY bucket, event_type");
                    qb.build_query_as().fetch_all(&self.pool).await?
                }
                Part::Events { from, to } => {
                    let part = EventFilter {
                        since: from,
                        until: to,
                        ..filter.clone()
                    };
                    self.histogram_of_events(&part, width).await?
                }
            };
            sums.add(rows);
        }
        Ok(sums.into_rows())
    }
}

#[async_trait]
impl ListingQuery for PostgresStore {
    async fn indexed_data_keys(&self) -> Result<Vec<String>, StoreError> {
        crate::store::scan::step::indexed_data_keys::<PgSql>(&self.pool).await
    }

    async fn scan_step(
        &self,
        filter: &EventFilter,
        order: Order,
        after: Option<&Cursor>,
        events: u64,
        wanted: usize,
    ) -> Result<crate::store::ScanStep, StoreError> {
        crate::store::scan::step::scan_step::<PgSql, _>(
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
        let planned = self.plan(filter).await?;
        self.newest_counts(filter, planned.as_ref(), matches, events)
            .await
    }

    async fn list_with_newest(
        &self,
        filter: &EventFilter,
        order: Order,
        after: Option<&Cursor>,
        limit: usize,
        newest: &NewestRequest<'_>,
    ) -> Result<(Page<Event, Cursor>, NewestCounts), StoreError> {
        // One plan for both reads (a plan depends on the search text only): planning a
        // search reads up to 5,000 of its matches.
        let planned = self.plan(filter).await?;
        let mut qb = sql::list_query(filter, order, after, limit, planned.as_ref());
        // Then the two reads at the same time, on two connections.
        let counts = async {
            if newest.filter.text == filter.text {
                let planned = planned.as_ref();
                self.newest_counts(newest.filter, planned, newest.matches, newest.events)
                    .await
            } else {
                self.histogram_newest(newest.filter, newest.matches, newest.events)
                    .await
            }
        };
        tokio::try_join!(sql::event_page::<PgSql>(&mut qb, &self.pool, limit), counts)
    }
}

impl PostgresStore {
    /// The plan of the filter's search words, if it has any: the listing and the chart of a
    /// search plan it the same way.
    async fn plan(&self, filter: &EventFilter) -> Result<Option<sql::Planned<PgSql>>, StoreError> {
        match filter.text.as_deref().filter(|t| !t.is_empty()) {
            Some(text) => {
                let mut index = GinIndex {
                    pool: &self.pool,
                    shares: &self.word_shares,
                };
                sql::plan_search(&mut index, text).await
            }
            None => Ok(None),
        }
    }

    /// [`ListingQuery::histogram_newest`] with the filter's search planned.
    async fn newest_counts(
        &self,
        filter: &EventFilter,
        planned: Option<&sql::Planned<PgSql>>,
        matches: usize,
        events: usize,
    ) -> Result<NewestCounts, StoreError> {
        // A frequent search: only the newest `events` events are tested, from the time of
        // the last of them (found along the index, untested).
        let from = match planned {
            Some(sql::Planned::Frequent(_)) => {
                sql::frequent_search_start::<PgSql>(&self.pool, filter, events).await?
            }
            _ => None,
        };
        let mut qb = QueryBuilder::<Postgres>::new(
            "SELECT date_bin(INTERVAL '1 minute', ts, TIMESTAMPTZ '1970-01-01 00:00:00+00') \
             AS bucket, event_type, count(*) AS n, min(ts) AS oldest, max(ts) AS newest \
             FROM (",
        );
        if let Some(sql::Planned::Ids(ids)) = planned {
            // Few matches: newest first, as the list reads them; their times and types are
            // the plan's, so only a group, initiator or data condition reads the events.
            let lookup =
                !(filter.group.is_none() && filter.initiator.is_none() && filter.data.is_empty());
            qb.push("SELECT m.ts, m.event_type FROM ");
            push_matches(
                &mut qb,
                ids,
                filter,
                lookup.then_some("1"),
                Order::Desc,
                None,
            );
        } else {
            qb.push("SELECT ts, event_type FROM events");
            sql::push_filter(&mut qb, filter, planned);
            if let Some((ts, id)) = from {
                qb.push(" AND (ts, id) >= (")
                    .push_bind(ts)
                    .push(", ")
                    .push_bind(id)
                    .push(")");
            }
            qb.push(" ORDER BY ts DESC, id DESC");
        }
        qb.push(" LIMIT ")
            .push_bind(sql::limit_param(matches))
            .push(") AS newest GROUP BY bucket, event_type ORDER BY bucket, event_type");
        let rows: Vec<CountedMinute> = qb.build_query_as().fetch_all(&self.pool).await?;
        Ok(NewestCounts::of(rows, matches).among_events_from(from.map(|f| f.0)))
    }

    /// The histogram counted from the events themselves.
    async fn histogram_of_events(
        &self,
        filter: &EventFilter,
        width: i64,
    ) -> Result<Vec<(DateTime<Utc>, String, i64)>, StoreError> {
        // date_bin floors to multiples of the width counted from the Unix epoch, like the
        // SQLite backend's integer division.
        let mut qb = QueryBuilder::<Postgres>::new(format!(
            "SELECT date_bin(make_interval(secs => {width}), ts, TIMESTAMPTZ '1970-01-01 00:00:00+00') \
             AS bucket, event_type, count(*) AS n FROM events"
        ));
        push_filter(&mut qb, filter);
        qb.push(" GROUP BY bucket, event_type ORDER BY bucket, event_type");
        Ok(qb.build_query_as().fetch_all(&self.pool).await?)
    }
}
