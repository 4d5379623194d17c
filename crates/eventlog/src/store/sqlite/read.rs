//! Reading events and groups from SQLite: the columns, rows to values, and a filter as SQL.

use chrono::{DateTime, Utc};
use sqlx::sqlite::SqliteRow;
use sqlx::{QueryBuilder, Row, Sqlite};

use super::micros_to_time;
use crate::error::StoreError;
use crate::event::Event;
use crate::store::sql::{self, Dialect, SearchIndex};
use crate::store::{DataMatch, EventFilter, GroupSummary};

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
    sql::push_filter::<SqliteSql>(qb, f, None);
}

/// The SQLite text of a listing's clauses; searches go to the FTS5 indexes (kept by
/// triggers in every insert transaction).
pub(super) struct SqliteSql;

/// An FTS5 search: one query per index, since each has its own vocabulary.
#[derive(Debug, Clone)]
pub(super) struct FtsQuery {
    /// The query of `events_search`: every word required, as a prefix (`"word"*`) or, when
    /// no longer word of that index starts with it, as the word itself (`"word"`, the same
    /// matches).
    events: String,
    /// The same for `groups_search`.
    groups: String,
}

impl SqliteSql {
    fn push_matches(qb: &mut QueryBuilder<Sqlite>, id_in: &str, query: FtsQuery) {
        qb.push(id_in)
            .push(" (SELECT rowid FROM events_search WHERE events_search MATCH ")
            .push_bind(query.events)
            .push(
                " UNION ALL SELECT e.id FROM events e WHERE e.gid IN \
                 (SELECT rowid FROM groups_search WHERE groups_search MATCH ",
            )
            .push_bind(query.groups)
            .push("))");
    }
}

impl Dialect for SqliteSql {
    type Db = Sqlite;
    type Query = FtsQuery;
    /// The ids as a JSON array (ready for `json_each`), `None` for none.
    type Ids = Option<String>;

    const TRUE: &'static str = "1 = 1";
    const FALSE: &'static str = "0";

    fn push_types(qb: &mut QueryBuilder<Sqlite>, types: &[String]) {
        qb.push(" AND event_type IN (");
        let mut sep = qb.separated(", ");
        for t in types {
            sep.push_bind(t.clone());
        }
        qb.push(")");
    }

    fn push_time(qb: &mut QueryBuilder<Sqlite>, time: DateTime<Utc>) {
        qb.push_bind(time.timestamp_micros());
    }

    fn push_data(qb: &mut QueryBuilder<Sqlite>, m: &DataMatch) {
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

    fn push_text(qb: &mut QueryBuilder<Sqlite>, text: &str) {
        qb.push_bind(text.to_owned());
    }

    fn prefix_query(words: &[String]) -> FtsQuery {
        // Words hold no separator, so no quote: nothing to escape inside the quotes.
        let terms: Vec<String> = words.iter().map(|w| format!("\"{w}\"*")).collect();
        let query = terms.join(" AND ");
        FtsQuery {
            events: query.clone(),
            groups: query,
        }
    }

    fn push_ids(qb: &mut QueryBuilder<Sqlite>, ids: &Option<String>) {
        match ids {
            Some(list) => {
                qb.push(" AND id IN (SELECT value FROM json_each(")
                    .push_bind(list.clone())
                    .push("))");
            }
            None => {
                qb.push(" AND 0");
            }
        }
    }

    fn push_tested(qb: &mut QueryBuilder<Sqlite>, query: &FtsQuery) {
        // `+id`: SQLite walks the time index (or the index another filter picks) in the
        // listing's order and tests each id against the matches, stopping after a page.
        Self::push_matches(qb, " AND +id IN", query.clone());
    }

    fn push_driving(qb: &mut QueryBuilder<Sqlite>, query: FtsQuery) {
        Self::push_matches(qb, " AND id IN", query);
    }
}

/// The FTS5 indexes, read on the listing's connection.
///
/// A word with no longer word in the index starting with it is looked up as itself, not as
/// a prefix. FTS5 answers a prefix by merging the lists of every word it starts, in full,
/// before anything else (1,000,000 entries for `user` in `user:4242`); a plain word is read
/// lazily, skipping ahead to the rows the other words match.
pub(super) struct FtsIndex<'c>(pub(super) &'c mut sqlx::SqliteConnection);

impl SearchIndex<SqliteSql> for FtsIndex<'_> {
    async fn query(&mut self, words: &[String]) -> Result<FtsQuery, StoreError> {
        Ok(FtsQuery {
            events: exact_where_possible(self.0, "events_search_terms", words).await?,
            groups: exact_where_possible(self.0, "groups_search_terms", words).await?,
        })
    }

    async fn first_matches(
        &mut self,
        query: &FtsQuery,
        limit: i64,
    ) -> Result<(i64, Option<String>), StoreError> {
        // The ids come back as one JSON array (one row, not one per match), ready for json_each.
        Ok(sqlx::query_as(
            "SELECT count(*), '[' || group_concat(id) || ']' FROM (\
             SELECT rowid AS id FROM events_search WHERE events_search MATCH ?1 \
             UNION ALL SELECT e.id FROM events e WHERE e.gid IN \
             (SELECT rowid FROM groups_search WHERE groups_search MATCH ?2) LIMIT ?3)",
        )
        .bind(&query.events)
        .bind(&query.groups)
        .bind(limit)
        .fetch_one(&mut *self.0)
        .await?)
    }
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
