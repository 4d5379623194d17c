//! Reading events and groups from PostgreSQL: the columns, rows to values, and a filter as
//! SQL.

use sqlx::postgres::PgRow;
use sqlx::{Postgres, QueryBuilder, Row};

use crate::error::StoreError;
use crate::event::Event;
use crate::store::filter::{FREQUENT_MATCHES, search_words};
use crate::store::{EventFilter, GroupSummary};

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
    push_filter_planned(qb, f, None);
}

/// How a listing reads the matches of a search, chosen by [`plan_search`].
#[derive(Debug, Clone)]
pub(super) enum Planned {
    /// Fewer than [`FREQUENT_MATCHES`]: their ids, read once by the plan.
    Ids(Vec<i64>),
    /// At least as many: each row met along the listing's index is tested (its words
    /// computed again, its group looked up in the matching groups), so the walk stops after
    /// a page. Driving the query by the matches would fetch and sort all of them, and on a
    /// partitioned table the planner may even pick a nested loop over them per row (30 s for
    /// a word in 900,000 events).
    Frequent(String),
}

/// Reads the ids of a search's matches, up to [`FREQUENT_MATCHES`], in one statement.
pub(super) async fn plan_search(
    pool: &sqlx::PgPool,
    text: &str,
) -> Result<Option<Planned>, StoreError> {
    let Some(query) = ts_query(text) else {
        return Ok(None);
    };
    let (matches, ids): (i64, Option<Vec<i64>>) = sqlx::query_as(
        "SELECT count(*), array_agg(id) FROM (SELECT id FROM events WHERE \
         eventlog_words(message || ' ' || coalesce(initiator, '')) @@ to_tsquery('simple', $1) \
         UNION ALL SELECT e.id FROM events e WHERE e.gid IN (SELECT gid FROM event_groups \
         WHERE eventlog_words(group_id) @@ to_tsquery('simple', $1)) LIMIT $2) AS m",
    )
    .bind(&query)
    .bind(FREQUENT_MATCHES)
    .fetch_one(pool)
    .await?;
    Ok(Some(if matches < FREQUENT_MATCHES {
        Planned::Ids(ids.unwrap_or_default())
    } else {
        Planned::Frequent(query)
    }))
}

/// [`push_filter`] with a search planned by [`plan_search`] (`None`: the matches drive the
/// query).
pub(super) fn push_filter_planned(
    qb: &mut QueryBuilder<Postgres>,
    f: &EventFilter,
    planned: Option<&Planned>,
) {
    qb.push(" WHERE TRUE");
    if !f.types.is_empty() {
        qb.push(" AND event_type = ANY(")
            .push_bind(f.types.clone())
            .push(")");
    }
    if let Some(since) = f.since {
        qb.push(" AND ts >= ").push_bind(since);
    }
    if let Some(until) = f.until {
        qb.push(" AND ts < ").push_bind(until);
    }
    if let Some(text) = f.text.as_deref().filter(|t| !t.is_empty()) {
        // Word prefixes in the GIN indexes: the events whose message or initiator has them,
        // and the events of the groups whose id has them. The expressions are the indexed
        // ones, word for word, or the indexes are not used.
        match (planned, ts_query(text)) {
            (Some(Planned::Ids(ids)), _) => {
                qb.push(" AND id = ANY(").push_bind(ids.clone()).push(")");
            }
            (Some(Planned::Frequent(query)), _) => {
                // `IS TRUE` keeps the planner from turning either test into an index scan
                // or a join: they are tested on the rows the listing's index yields.
                qb.push(
                    " AND ((eventlog_words(message || ' ' || coalesce(initiator, '')) \
                     @@ to_tsquery('simple', ",
                )
                .push_bind(query.clone())
                .push(
                    ")) IS TRUE OR (gid IN (SELECT gid FROM event_groups \
                     WHERE eventlog_words(group_id) @@ to_tsquery('simple', ",
                )
                .push_bind(query.clone())
                .push("))) IS TRUE)");
            }
            (None, Some(query)) => {
                qb.push(
                    " AND id IN (SELECT id FROM events WHERE \
                     eventlog_words(message || ' ' || coalesce(initiator, '')) \
                     @@ to_tsquery('simple', ",
                )
                .push_bind(query.clone())
                .push(
                    ") UNION ALL SELECT e.id FROM events e WHERE e.gid IN (SELECT gid \
                     FROM event_groups WHERE eventlog_words(group_id) @@ to_tsquery('simple', ",
                )
                .push_bind(query)
                .push(")))");
            }
            // No letters or digits: no word to find.
            (None, None) => {
                qb.push(" AND FALSE");
            }
        }
    }
    if let Some(group) = &f.group {
        qb.push(" AND gid = (SELECT gid FROM event_groups WHERE group_id = ")
            .push_bind(group.clone())
            .push(")");
    }
    if let Some(initiator) = &f.initiator {
        qb.push(" AND initiator = ").push_bind(initiator.clone());
    }
    for m in &f.data {
        // #>> yields strings unquoted and numbers and booleans as JSON spells them.
        qb.push(" AND data #>> ")
            .push_bind(m.path.clone())
            .push("::text[] = ")
            .push_bind(m.value.clone());
    }
}

/// The tsquery for a search text: every word as a prefix (`'word':*`), all required.
fn ts_query(text: &str) -> Option<String> {
    let words = search_words(text);
    if words.is_empty() {
        return None;
    }
    // Words hold only letters and digits: nothing to escape inside the quotes.
    let terms: Vec<String> = words.iter().map(|w| format!("'{w}':*")).collect();
    Some(terms.join(" & "))
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
