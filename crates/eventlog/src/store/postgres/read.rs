//! Reading events and groups from PostgreSQL: the columns, rows to values, and a filter as
//! SQL.

use chrono::{DateTime, Utc};
use sqlx::postgres::PgRow;
use sqlx::{Postgres, QueryBuilder, Row};

use crate::error::StoreError;
use crate::event::Event;
use crate::store::sql::{self, Dialect, SearchIndex};
use crate::store::{DataMatch, EventFilter, GroupSummary};

pub(super) const EVENT_COLUMNS: &str = "id, uuid, event_type, \
     (SELECT group_id FROM event_groups g WHERE g.gid = events.gid) AS group_id, \
     ts, message, data, initiator, send_mail";

pub(super) fn row_to_event(row: &PgRow) -> Result<Event, StoreError> {
    Ok(Event {
        id: row.try_get("id")?,
        uuid: row.try_get("uuid")?,
        event_type: row.try_get("event_type")?,
        group: row.try_get("group_id")?,
        timestamp: row.try_get("ts")?,
        message: row.try_get("message")?,
        data: row.try_get("data")?,
        initiator: row.try_get("initiator")?,
        send_mail: row.try_get("send_mail")?,
    })
}

pub(super) fn push_filter(qb: &mut QueryBuilder<Postgres>, f: &EventFilter) {
    sql::push_filter::<PgSql>(qb, f, None);
}

/// The PostgreSQL text of a listing's clauses; searches go to the GIN indexes, whose
/// expressions are repeated here word for word (or the indexes are not used).
pub(super) struct PgSql;

/// Matching events: message or initiator has the words (`$` is the query's placeholder).
const EVENT_WORDS: &str =
    "eventlog_words(message || ' ' || coalesce(initiator, '')) @@ to_tsquery('simple', ";
/// Matching groups: their id has the words.
const GROUP_WORDS: &str =
    "SELECT gid FROM event_groups WHERE eventlog_words(group_id) @@ to_tsquery('simple', ";

impl Dialect for PgSql {
    type Db = Postgres;
    /// A tsquery: every word as a prefix (`'word':*`), all required.
    type Query = String;
    type Ids = Vec<i64>;

    const TRUE: &'static str = "TRUE";
    const FALSE: &'static str = "FALSE";

    fn push_types(qb: &mut QueryBuilder<Postgres>, types: &[String]) {
        qb.push(" AND event_type = ANY(")
            .push_bind(types.to_vec())
            .push(")");
    }

    fn push_time(qb: &mut QueryBuilder<Postgres>, time: DateTime<Utc>) {
        qb.push_bind(time);
    }

    fn push_data(qb: &mut QueryBuilder<Postgres>, m: &DataMatch) {
        // #>> yields strings unquoted and numbers and booleans as JSON spells them.
        qb.push(" AND data #>> ")
            .push_bind(m.path.clone())
            .push("::text[] = ")
            .push_bind(m.value.clone());
    }

    fn push_text(qb: &mut QueryBuilder<Postgres>, text: &str) {
        qb.push_bind(text.to_owned());
    }

    fn prefix_query(words: &[String]) -> String {
        // Words hold only letters and digits: nothing to escape inside the quotes.
        let terms: Vec<String> = words.iter().map(|w| format!("'{w}':*")).collect();
        terms.join(" & ")
    }

    fn push_ids(qb: &mut QueryBuilder<Postgres>, ids: &Vec<i64>) {
        qb.push(" AND id = ANY(").push_bind(ids.clone()).push(")");
    }

    fn push_tested(qb: &mut QueryBuilder<Postgres>, query: &String) {
        // `IS TRUE` keeps the planner from turning either test into an index scan or a
        // join: they are tested on the rows the listing's index yields. Driving the query by
        // the matches would fetch and sort all of them, and on a partitioned table the
        // planner may even pick a nested loop over them per row (30 s for a word in 900,000
        // events).
        qb.push(" AND ((")
            .push(EVENT_WORDS)
            .push_bind(query.clone())
            .push(")) IS TRUE OR (gid IN (")
            .push(GROUP_WORDS)
            .push_bind(query.clone())
            .push("))) IS TRUE)");
    }

    fn push_driving(qb: &mut QueryBuilder<Postgres>, query: String) {
        qb.push(" AND id IN (SELECT id FROM events WHERE ")
            .push(EVENT_WORDS)
            .push_bind(query.clone())
            .push(") UNION ALL SELECT e.id FROM events e WHERE e.gid IN (")
            .push(GROUP_WORDS)
            .push_bind(query)
            .push(")))");
    }
}

/// The GIN indexes, read through the pool.
pub(super) struct GinIndex<'p>(pub(super) &'p sqlx::PgPool);

impl SearchIndex<PgSql> for GinIndex<'_> {
    async fn query(&mut self, words: &[String]) -> Result<String, StoreError> {
        Ok(PgSql::prefix_query(words))
    }

    async fn first_matches(
        &mut self,
        query: &String,
        limit: i64,
    ) -> Result<(i64, Vec<i64>), StoreError> {
        let (matches, ids): (i64, Option<Vec<i64>>) = sqlx::query_as(
            "SELECT count(*), array_agg(id) FROM (SELECT id FROM events WHERE \
             eventlog_words(message || ' ' || coalesce(initiator, '')) @@ to_tsquery('simple', $1) \
             UNION ALL SELECT e.id FROM events e WHERE e.gid IN (SELECT gid FROM event_groups \
             WHERE eventlog_words(group_id) @@ to_tsquery('simple', $1)) LIMIT $2) AS m",
        )
        .bind(query)
        .bind(limit)
        .fetch_one(self.0)
        .await?;
        Ok((matches, ids.unwrap_or_default()))
    }
}

pub(super) fn row_to_group(row: &PgRow) -> Result<GroupSummary, StoreError> {
    Ok(GroupSummary {
        group: row.try_get("group_id")?,
        first_at: row.try_get("first_at")?,
        last_at: row.try_get("last_at")?,
        event_count: row.try_get("event_count")?,
        types: row.try_get("types")?,
    })
}

pub(super) const GROUP_COLUMNS: &str = "g.group_id, g.first_at, g.last_at, g.event_count, \
     ARRAY(SELECT t.event_type FROM event_group_types t WHERE t.group_id = g.group_id) AS types";

pub(super) fn limit_param(limit: usize) -> i64 {
    i64::try_from(limit).unwrap_or(i64::MAX)
}
