//! Reading events and groups from PostgreSQL: the SQL text of a listing's clauses and the
//! search plan's statements (their shape is `store::sql`'s).

use chrono::{DateTime, Utc};
use sqlx::{Postgres, QueryBuilder};

use crate::store::data_keys::DataKey;
use crate::store::sql::{self, Dialect, EVENT_COLUMNS};
use crate::store::{Cursor, DataMatch, EventFilter, GroupCursor, Order};

pub(super) fn push_filter(qb: &mut QueryBuilder<Postgres>, f: &EventFilter) {
    sql::push_filter::<PgSql>(qb, f, None);
}

/// The PostgreSQL text of a listing's clauses; searches go to the GIN indexes, whose
/// expressions are repeated here word for word (or the indexes are not used).
pub(super) struct PgSql;

/// Matching events: message or initiator has the words (`$` is the query's placeholder).
pub(super) const EVENT_WORDS: &str =
    "eventlog_words(message || ' ' || coalesce(initiator, '')) @@ to_tsquery('simple', ";
/// Matching groups: their id has the words.
pub(super) const GROUP_WORDS: &str =
    "SELECT gid FROM event_groups WHERE eventlog_words(group_id) @@ to_tsquery('simple', ";

/// A search as the GIN index takes it.
#[derive(Debug, Clone)]
pub(super) struct PgQuery {
    /// The words, lowercased.
    pub(super) words: Vec<String>,
    /// The tsquery: every word as a prefix (`'word':*`), all required.
    pub(super) full: String,
    /// The tsquery of the words the index is asked for when some words are in most events
    /// (see [`WordStats`]); the rows it yields are tested for the words left out, `common`.
    pub(super) indexed: Option<String>,
    /// The words left out of the index lookup (with `indexed`).
    pub(super) common: Vec<String>,
    /// The statistics say the search matches more events than a plan counts (one word):
    /// it is planned as frequent without counting.
    pub(super) frequent: bool,
}

impl Dialect for PgSql {
    type Db = Postgres;
    type Query = PgQuery;
    type Ids = Matches;

    const TRUE: &'static str = "TRUE";
    const FALSE: &'static str = "FALSE";
    const GROUP_COLUMNS: &'static str = "g.group_id, g.first_at, g.last_at, g.event_count, \
         ARRAY(SELECT t.event_type FROM event_group_types t WHERE t.gid = g.gid) \
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
        if let Some(key) = DataKey::of_path(&m.path) {
            qb.push(" AND ")
                .push(Self::data_key_text(&key))
                .push(" = ")
                .push_bind(m.value.clone());
            return;
        }
        // #>> yields strings unquoted and numbers and booleans as JSON spells them.
        qb.push(" AND data #>> ")
            .push_bind(m.path.clone())
            .push("::text[] = ")
            .push_bind(m.value.clone());
    }

    fn data_key_text(key: &DataKey) -> String {
        super::data_keys::key_text(key)
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
             WHERE t.gid = g.gid AND t.event_type = ANY(",
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

    fn prefix_query(words: &[String]) -> PgQuery {
        PgQuery {
            words: words.to_vec(),
            full: tsquery(words.iter()),
            indexed: None,
            common: Vec::new(),
            frequent: false,
        }
    }

    fn push_ids(qb: &mut QueryBuilder<Postgres>, ids: &Matches) {
        qb.push(" AND id = ANY(")
            .push_bind(ids.ids.clone())
            .push(")");
    }

    fn list_of_matches(
        filter: &EventFilter,
        order: Order,
        after: Option<&Cursor>,
        limit: usize,
        matches: &Matches,
    ) -> Option<QueryBuilder<Postgres>> {
        let mut qb = QueryBuilder::new("SELECT e.* FROM ");
        push_matches(&mut qb, matches, filter, Some(EVENT_COLUMNS), order, after);
        qb.push(" LIMIT ")
            .push_bind(sql::limit_param(limit).saturating_add(1));
        Some(qb)
    }

    fn push_tested(qb: &mut QueryBuilder<Postgres>, query: &PgQuery) {
        // `IS TRUE` keeps the planner from turning either test into an index scan or a
        // join: they are tested on the rows the listing's index yields. Driving the query by
        // the matches would fetch and sort all of them, and on a partitioned table the
        // planner may even pick a nested loop over them per row (30 s for a word in 900,000
        // events).
        // A row whose words start with the search's words holds each of them in its
        // lowercased text (the index's words are lowercased runs of that text): `strpos`
        // rules most rows out for a fraction of the cost of splitting them into words again.
        qb.push(" AND ((");
        for word in &query.words {
            qb.push("strpos(lower(message || ' ' || coalesce(initiator, '')), ")
                .push_bind(word.clone())
                .push(") > 0 AND ");
        }
        qb.push(EVENT_WORDS)
            .push_bind(query.full.clone())
            .push(")) IS TRUE OR (gid IN (")
            .push(GROUP_WORDS)
            .push_bind(query.full.clone())
            .push("))) IS TRUE)");
    }

    fn push_driving(qb: &mut QueryBuilder<Postgres>, query: PgQuery) {
        qb.push(" AND id IN (SELECT id FROM events WHERE ")
            .push(EVENT_WORDS)
            .push_bind(query.full.clone())
            .push(") UNION ALL SELECT e.id FROM events e WHERE e.gid IN (")
            .push(GROUP_WORDS)
            .push_bind(query.full)
            .push(")))");
    }
}

/// The few matches of a planned search: their ids, times (each event's partition) and
/// types, in no order, each once.
#[derive(Debug, Clone, Default)]
pub(super) struct Matches {
    ids: Vec<i64>,
    times: Vec<DateTime<Utc>>,
    types: Vec<String>,
}

impl Matches {
    /// From the plan's rows (a message match may also be a match by its group: once).
    pub(super) fn new(mut rows: Vec<(i64, DateTime<Utc>, String)>) -> Self {
        rows.sort_unstable();
        rows.dedup_by(|a, b| a.0 == b.0);
        let mut m = Matches::default();
        for (id, ts, event_type) in rows {
            m.ids.push(id);
            m.times.push(ts);
            m.types.push(event_type);
        }
        m
    }
}

/// `m, LATERAL (…) AS e ORDER BY …` (or `m ORDER BY …` without `columns`): the matches of
/// a plan in `order` after `after`, those of the filter's types and time range. With
/// `columns` (of `events`), each is looked up by (id, ts) in its own partition and yields
/// them if the rest of `filter` (group, initiator, data) selects it; a `LIMIT` after it
/// stops the lookups after a page. Without, the chart counts the matches without reading
/// any event (`m` has `id`, `ts`, `event_type`); a group, initiator or data condition
/// needs the lookup. Along the listing's time index instead, the planner may walk millions
/// of rows to find a few thousand ids (6.7 s for 3,378 at 10M events), and `id = ANY(…)`
/// alone probes every partition's primary key for every id.
pub(super) fn push_matches(
    qb: &mut QueryBuilder<Postgres>,
    matches: &Matches,
    filter: &EventFilter,
    columns: Option<&str>,
    order: Order,
    after: Option<&Cursor>,
) {
    qb.push("(SELECT id, ts, event_type FROM unnest(")
        .push_bind(matches.ids.clone())
        .push("::int8[], ")
        .push_bind(matches.times.clone())
        .push("::timestamptz[], ")
        .push_bind(matches.types.clone())
        .push("::text[]) AS m(id, ts, event_type)");
    let by_type_and_time = EventFilter {
        types: filter.types.clone(),
        since: filter.since,
        until: filter.until,
        ..EventFilter::default()
    };
    push_filter(qb, &by_type_and_time);
    if let Some(c) = after {
        PgSql::push_after(qb, order, c);
    }
    let dir = match order {
        Order::Desc => "DESC",
        Order::Asc => "ASC",
    };
    // Sorted before the lookups, so that they stop after a page.
    qb.push(format!(" ORDER BY ts {dir}, id {dir}) AS m"));
    if let Some(columns) = columns {
        qb.push(format!(", LATERAL (SELECT {columns} FROM events"));
        let rest = EventFilter {
            group: filter.group.clone(),
            initiator: filter.initiator.clone(),
            data: filter.data.clone(),
            ..EventFilter::default()
        };
        push_filter(qb, &rest);
        qb.push(" AND id = m.id AND ts = m.ts) AS e");
    }
    qb.push(format!(" ORDER BY m.ts {dir}, m.id {dir}"));
}

/// `'w1':* & 'w2':* …`. Words hold only letters and digits: nothing to escape in the quotes.
pub(super) fn tsquery<'a>(words: impl Iterator<Item = &'a String>) -> String {
    let terms: Vec<String> = words.map(|w| format!("'{w}':*")).collect();
    terms.join(" & ")
}
