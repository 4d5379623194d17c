//! Reading events and groups from PostgreSQL: the SQL text of a listing's clauses and the
//! search plan's statements (their shape is `store::sql`'s).

use chrono::{DateTime, Utc};
use sqlx::{Postgres, QueryBuilder};

use crate::error::StoreError;
use crate::store::sql::{self, Dialect, SearchIndex};
use crate::store::{Cursor, DataMatch, EventFilter, GroupCursor, Order};

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
    const GROUP_COLUMNS: &'static str = "g.group_id, g.first_at, g.last_at, g.event_count, \
         ARRAY(SELECT t.event_type FROM event_group_types t WHERE t.group_id = g.group_id) \
         AS types";
    const LIKE: &'static str = "ILIKE";

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

    fn push_int(qb: &mut QueryBuilder<Postgres>, n: i64) {
        qb.push_bind(n);
    }

    fn push_after(qb: &mut QueryBuilder<Postgres>, order: Order, c: &Cursor) {
        let cmp = match order {
            Order::Desc => "<",
            Order::Asc => ">",
        };
        // A row comparison: the (ts, id) indexes serve it as one range.
        qb.push(format!(" AND (ts, id) {cmp} ("))
            .push_bind(c.timestamp)
            .push(", ")
            .push_bind(c.id)
            .push(")");
    }

    fn push_group_types(qb: &mut QueryBuilder<Postgres>, types: &[String]) {
        qb.push(
            " AND EXISTS (SELECT 1 FROM event_group_types t \
             WHERE t.group_id = g.group_id AND t.event_type = ANY(",
        )
        .push_bind(types.to_vec())
        .push("))");
    }

    fn push_group_after(qb: &mut QueryBuilder<Postgres>, c: &GroupCursor) {
        qb.push(" AND (g.last_at, g.group_id) < (")
            .push_bind(c.last_at)
            .push(", ")
            .push_bind(c.group.clone())
            .push(")");
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
