//! [`Store`](crate::store::Store) for [`SqliteStore`], with the methods both backends share
//! written once in `store::shared_impl`. Here: each method one statement or one write transaction.

use chrono::{DateTime, Utc};
use sqlx::{QueryBuilder, Row, Sqlite};
use uuid::Uuid;

use super::micros_to_time;
use super::read::{FtsIndex, SqliteSql, push_filter};
use super::{SqliteStore, follow};
use crate::error::StoreError;
use crate::store::periods::{self, PERIOD_COUNTS, Part};
use crate::store::row::event_from_row;
use crate::store::sql::EVENT_COLUMNS;
use crate::store::{CountedMinute, Cursor, EventFilter, NewestCounts, Order, PURGE_BATCH};

crate::store::shared_impl::impl_store! {
SqliteStore, kind: Sqlite, dialect: SqliteSql, follow: follow;
    async fn maintain(&self, _budget: usize) -> Result<usize, StoreError> {
        // Search is indexed in the insert transaction: the only upkeep is the WAL.
        self.checkpoint_if_idle().await?;
        Ok(0)
    }

    async fn close(&self) {
        if let Err(e) = self.checkpoint().await {
            tracing::warn!(error = %e, "eventlog: WAL checkpoint at close failed");
        }
        self.pool.close().await;
    }

    async fn migrate(&self) -> Result<crate::store::Migrated, StoreError> {
        let mut conn = self.pool.acquire().await?;
        crate::store::run_migrations(&crate::store::migrations::sqlite(), &mut *conn).await
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
        let Some(text) = filter.text.as_deref().filter(|t| !t.is_empty()) else {
            let mut qb = sql::list_query::<SqliteSql>(filter, order, after, limit, None);
            return sql::event_page::<SqliteSql>(&mut qb, &self.pool, limit).await;
        };
        let mut tx = self.pool.begin().await?;
        let planned = sql::plan_search(&mut FtsIndex(&mut tx), text).await?;
        let mut qb = sql::list_query(filter, order, after, limit, planned.as_ref());
        let page = sql::event_page::<SqliteSql>(&mut qb, &mut *tx, limit).await?;
        tx.commit().await?;
        Ok(page)
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
        let mut sums = periods::BucketSums::default();
        for part in periods::split(filter.since, filter.until, width) {
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

    async fn histogram_newest(
        &self,
        filter: &EventFilter,
        matches: usize,
        events: usize,
    ) -> Result<NewestCounts, StoreError> {
        // A search is planned and read in one read transaction, as the listing does.
        let mut tx = self.pool.begin().await?;
        let planned = match filter.text.as_deref().filter(|t| !t.is_empty()) {
            Some(text) => sql::plan_search(&mut FtsIndex(&mut tx), text).await?,
            None => None,
        };
        // A frequent search: only the newest `events` events are tested, from the time of
        // the last of them (found along the index, untested).
        let from = match planned {
            Some(sql::Planned::Frequent(_)) => {
                let rest = EventFilter {
                    text: None,
                    ..filter.clone()
                };
                let mut qb = QueryBuilder::<Sqlite>::new("SELECT ts, id FROM events");
                push_filter(&mut qb, &rest);
                qb.push(" ORDER BY ts DESC, id DESC LIMIT 1 OFFSET ")
                    .push_bind(crate::store::sql::limit_param(events.saturating_sub(1)));
                qb.build_query_as::<(i64, i64)>()
                    .fetch_optional(&mut *tx)
                    .await?
            }
            _ => None,
        };
        let mut qb = QueryBuilder::<Sqlite>::new(
            "SELECT (ts / 60000000) * 60000000 AS bucket, event_type, count(*) AS n, \
             min(ts) AS oldest, max(ts) AS newest FROM (SELECT ts, event_type FROM events",
        );
        sql::push_filter(&mut qb, filter, planned.as_ref());
        if let Some((ts, id)) = from {
            qb.push(" AND ts >= ")
                .push_bind(ts)
                .push(" AND (ts > ")
                .push_bind(ts)
                .push(" OR id >= ")
                .push_bind(id)
                .push(")");
        }
        qb.push(" ORDER BY ts DESC, id DESC LIMIT ")
            .push_bind(crate::store::sql::limit_param(matches))
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
        let from = from.map(|f| micros_to_time(f.0)).transpose()?;
        Ok(NewestCounts::of(rows, matches).among_events_from(from))
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
