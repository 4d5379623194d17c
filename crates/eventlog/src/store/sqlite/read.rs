//! Reading events and groups from SQLite: the columns, rows to values, and a filter as SQL.

use sqlx::sqlite::SqliteRow;
use sqlx::{QueryBuilder, Row, Sqlite};

use super::micros_to_time;
use crate::error::StoreError;
use crate::event::Event;
use crate::store::filter::{FREQUENT_MATCHES, search_words};
use crate::store::{EventFilter, GroupSummary};

pub(super) const EVENT_COLUMNS: &str = "id, uuid, event_type, (SELECT group_id FROM event_groups g WHERE g.gid = events.gid) AS group_id, \
     ts, message, data, initiator, send_mail";

pub(super) fn row_to_event(row: &SqliteRow) -> Result<Event, StoreError> {
    let data: Option<String> = row.try_get("data")?;
    let data = match data {
        Some(text) => Some(
            serde_json::from_str(&text)
                .map_err(|e| StoreError::Corrupt(format!("data is not JSON: {e}")))?,
        ),
        None => None,
    };
    Ok(Event {
        id: row.try_get("id")?,
        uuid: row.try_get("uuid")?,
        event_type: row.try_get("event_type")?,
        group: row.try_get("group_id")?,
        timestamp: micros_to_time(row.try_get("ts")?)?,
        message: row.try_get("message")?,
        data,
        initiator: row.try_get("initiator")?,
        send_mail: row.try_get("send_mail")?,
    })
}

/// `$."a"."b"`: a JSON path for SQLite's json functions, keys quoted so that dots and spaces
/// in keys are literal.
fn json_path(path: &[String]) -> String {
    let mut p = String::from("$");
    for key in path {
        p.push_str(".\"");
        p.push_str(&key.replace('"', ""));
        p.push('"');
    }
    p
}

pub(super) fn push_filter(qb: &mut QueryBuilder<Sqlite>, f: &EventFilter) {
    push_filter_planned(qb, f, None);
}

/// [`push_filter`] with a search planned by [`plan_search`] (`None`: every word as a prefix,
/// the matching ids driving the query).
pub(super) fn push_filter_planned(
    qb: &mut QueryBuilder<Sqlite>,
    f: &EventFilter,
    planned: Option<&FtsSearch>,
) {
    qb.push(" WHERE 1 = 1");
    if !f.types.is_empty() {
        qb.push(" AND event_type IN (");
        let mut sep = qb.separated(", ");
        for t in &f.types {
            sep.push_bind(t.clone());
        }
        qb.push(")");
    }
    if let Some(since) = f.since {
        qb.push(" AND ts >= ").push_bind(since.timestamp_micros());
    }
    if let Some(until) = f.until {
        qb.push(" AND ts < ").push_bind(until.timestamp_micros());
    }
    if let Some(text) = f.text.as_deref().filter(|t| !t.is_empty()) {
        // Word prefixes in the FTS5 indexes (kept by triggers in every insert transaction):
        // the events whose message or initiator has them, and the events of the groups whose
        // id has them. One id list (a UNION, not an OR) so the lookups stay index-driven.
        let search = match planned {
            Some(p) => Some(p.clone()),
            None => fts_query(text).map(|query| FtsSearch::Frequent {
                events: query.clone(),
                groups: query,
                drive: true,
            }),
        };
        match search {
            // Few matches, already read by the plan: their ids drive the query.
            Some(FtsSearch::Ids(None)) => {
                qb.push(" AND 0");
            }
            Some(FtsSearch::Ids(Some(list))) => {
                qb.push(" AND id IN (SELECT value FROM json_each(")
                    .push_bind(list)
                    .push("))");
            }
            Some(FtsSearch::Frequent {
                events,
                groups,
                drive,
            }) => {
                // Driving: the matching ids are fetched, then sorted. Not (`+id`, many
                // matches): SQLite walks the time index (or the index another filter picks)
                // in the listing's order and tests each id against the matches, stopping
                // after a page.
                qb.push(if drive { " AND id IN" } else { " AND +id IN" })
                    .push(" (SELECT rowid FROM events_search WHERE events_search MATCH ")
                    .push_bind(events)
                    .push(
                        " UNION ALL SELECT e.id FROM events e WHERE e.gid IN \
                         (SELECT rowid FROM groups_search WHERE groups_search MATCH ",
                    )
                    .push_bind(groups)
                    .push("))");
            }
            // No letters or digits: no word to find.
            None => {
                qb.push(" AND 0");
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
        let path = json_path(&m.path);
        // json_extract turns true/false into 1/0; compare them as JSON spells them.
        qb.push(" AND (CASE json_type(data, ")
            .push_bind(path.clone())
            .push(
                ") WHEN 'true' THEN 'true' WHEN 'false' THEN 'false' ELSE CAST(json_extract(data, ",
            )
            .push_bind(path)
            .push(") AS TEXT) END) = ")
            .push_bind(m.value.clone());
    }
}

/// A search as the FTS5 indexes answer it.
#[derive(Debug, Clone)]
pub(super) enum FtsSearch {
    /// Fewer than [`FREQUENT_MATCHES`] matching events: their ids as a JSON array (read once,
    /// by the plan), `None` for none.
    Ids(Option<String>),
    /// The FTS5 queries, answered inside the listing's query.
    Frequent {
        /// The query of `events_search`: every word required, as a prefix (`"word"*`) or,
        /// when no longer word of that index starts with it, as the word itself (`"word"`,
        /// the same matches).
        events: String,
        /// The same for `groups_search` (its own vocabulary).
        groups: String,
        /// Whether the matching ids drive the query (unplanned searches) or are tested along
        /// the listing's index (planned, many matches).
        drive: bool,
    },
}

/// Plans a search on `conn` (inside the listing's read transaction, so that the plan holds
/// for the snapshot the listing reads):
///
/// - A word with no longer word in the index starting with it is looked up as itself, not as
///   a prefix. FTS5 answers a prefix by merging the lists of every word it starts, in full,
///   before anything else (1,000,000 entries for `user` in `user:4242`); a plain word is read
///   lazily, skipping ahead to the rows the other words match.
/// - The matching ids are read up to [`FREQUENT_MATCHES`]: fewer, and the listing fetches
///   those rows; as many, and it tests ids along its index instead.
pub(super) async fn plan_search(
    conn: &mut sqlx::SqliteConnection,
    text: &str,
) -> Result<Option<FtsSearch>, StoreError> {
    let words = search_words(text);
    if words.is_empty() {
        return Ok(None);
    }
    let events = exact_where_possible(conn, "events_search_terms", &words).await?;
    let groups = exact_where_possible(conn, "groups_search_terms", &words).await?;
    // The ids come back as one JSON array (one row, not one per match), ready for json_each.
    let (matches, ids): (i64, Option<String>) = sqlx::query_as(
        "SELECT count(*), '[' || group_concat(id) || ']' FROM (\
         SELECT rowid AS id FROM events_search WHERE events_search MATCH ?1 \
         UNION ALL SELECT e.id FROM events e WHERE e.gid IN \
         (SELECT rowid FROM groups_search WHERE groups_search MATCH ?2) LIMIT ?3)",
    )
    .bind(&events)
    .bind(&groups)
    .bind(FREQUENT_MATCHES)
    .fetch_one(&mut *conn)
    .await?;
    Ok(Some(if matches < FREQUENT_MATCHES {
        FtsSearch::Ids(ids)
    } else {
        FtsSearch::Frequent {
            events,
            groups,
            drive: false,
        }
    }))
}

/// The FTS5 query for `words` against the index whose `fts5vocab` (instance) table is
/// `vocab`: each word as itself when no longer word of the index starts with it, else as a
/// prefix; all required.
async fn exact_where_possible(
    conn: &mut sqlx::SqliteConnection,
    vocab: &str,
    words: &[String],
) -> Result<String, StoreError> {
    let sql = format!("SELECT term FROM {vocab} WHERE term >= ? LIMIT 1");
    let mut terms = Vec::with_capacity(words.len());
    for w in words {
        // Words sort bytewise in the index, so those longer than `w` that start with it come
        // right after it; "\u{1}" is a separator, in no word: the first word after `w` itself.
        // The vocabulary lists instances, so its first row answers without counting any.
        let next: Option<String> = sqlx::query_scalar(sqlx::AssertSqlSafe(sql.clone()))
            .bind(format!("{w}\u{1}"))
            .fetch_optional(&mut *conn)
            .await?;
        let longer = next.is_some_and(|t| t.starts_with(w.as_str()));
        // Words hold no separator, so no quote: nothing to escape inside the quotes.
        terms.push(if longer {
            format!("\"{w}\"*")
        } else {
            format!("\"{w}\"")
        });
    }
    Ok(terms.join(" AND "))
}

/// The FTS5 query for a search text: every word as a prefix (`"word"*`), all required.
fn fts_query(text: &str) -> Option<String> {
    let words = search_words(text);
    if words.is_empty() {
        return None;
    }
    // Words hold no separator, so no quote: nothing to escape inside the quotes.
    let terms: Vec<String> = words.iter().map(|w| format!("\"{w}\"*")).collect();
    Some(terms.join(" AND "))
}

fn split_types(types: Option<String>) -> Vec<String> {
    types
        .map(|t| {
            t.split(',')
                .filter(|s| !s.is_empty())
                .map(str::to_owned)
                .collect()
        })
        .unwrap_or_default()
}

pub(super) fn row_to_group(row: &SqliteRow) -> Result<GroupSummary, StoreError> {
    Ok(GroupSummary {
        group: row.try_get("group_id")?,
        first_at: micros_to_time(row.try_get("first_at")?)?,
        last_at: micros_to_time(row.try_get("last_at")?)?,
        event_count: row.try_get("event_count")?,
        types: split_types(row.try_get("types")?),
    })
}

pub(super) const GROUP_COLUMNS: &str = "g.group_id, g.first_at, g.last_at, g.event_count, \
     (SELECT group_concat(t.event_type, ',') FROM event_group_types t WHERE t.gid = g.gid) AS types";
