//! Reading events and groups from SQLite: the SQL text of a listing's clauses and the search
//! plan's statements (their shape is `store::sql`'s).

use chrono::{DateTime, Utc};
use sqlx::{QueryBuilder, Sqlite};

use crate::error::StoreError;
use crate::store::data_keys::DataKey;
use crate::store::sql::{self, Dialect, SearchIndex};
use crate::store::{Cursor, DataMatch, EventFilter, GroupCursor, Order};

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
    /// The same for `groups_search`; `None` asks only `events_search` (an initiator's words).
    groups: Option<String>,
    /// Only the matches with at least this id (see `window`): a frequent word's matches are
    /// gathered before the walk tests rows against them, and the newest few of 300,000 are
    /// all a page needs.
    pub(super) min_id: Option<i64>,
}

impl SqliteSql {
    fn push_matches(qb: &mut QueryBuilder<Sqlite>, id_in: &str, query: FtsQuery) {
        qb.push(id_in)
            .push(" (SELECT rowid FROM events_search WHERE events_search MATCH ")
            .push_bind(query.events);
        if let Some(min) = query.min_id {
            qb.push(" AND rowid >= ").push_bind(min);
        }
        if let Some(groups) = query.groups {
            qb.push(
                " UNION ALL SELECT e.id FROM events e WHERE e.gid IN \
                 (SELECT rowid FROM groups_search WHERE groups_search MATCH ",
            )
            .push_bind(groups)
            .push(")");
            if let Some(min) = query.min_id {
                qb.push(" AND e.id >= ").push_bind(min);
            }
        }
        qb.push(")");
    }
}

impl Dialect for SqliteSql {
    type Db = Sqlite;
    type Query = FtsQuery;
    /// The ids as a JSON array (ready for `json_each`), `None` for none.
    type Ids = Option<String>;

    const TRUE: &'static str = "1 = 1";
    const FALSE: &'static str = "0";
    const GROUP_COLUMNS: &'static str = "g.group_id, g.first_at, g.last_at, g.event_count, \
         (SELECT group_concat(t.event_type, ',') FROM event_group_types t WHERE t.gid = g.gid) \
         AS types";
    /// ASCII letters only, as SQLite's `LIKE` compares.
    const LIKE: &'static str = "LIKE";

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
        if let Some(key) = DataKey::of_path(&m.path) {
            // The key's index holds the value as text, booleans as 1 and 0: it finds a few
            // candidates, which the exact comparison below then decides.
            let candidate = match m.value.as_str() {
                "true" => "1",
                "false" => "0",
                other => other,
            };
            qb.push(" AND ")
                .push(Self::data_key_text(&key))
                .push(" = ")
                .push_bind(candidate.to_owned());
        }
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

    fn data_key_text(key: &DataKey) -> String {
        // Only `->>` and `||`: the planner matches no index to an expression of a function
        // that may return a JSON subtype (`json_extract`), nor to `json_type` or `CAST`.
        // Strings unquoted, numbers as text, true and false as 1 and 0.
        let path = json_path(&key.names().map(str::to_owned).collect::<Vec<_>>());
        format!("((data ->> '{path}') || '')")
    }

    fn push_after(qb: &mut QueryBuilder<Sqlite>, order: Order, c: &Cursor) {
        // A range on ts (which the indexes serve) plus a tie-break on id.
        let (cmp_eq, cmp) = match order {
            Order::Desc => ("<=", "<"),
            Order::Asc => (">=", ">"),
        };
        let micros = c.timestamp.timestamp_micros();
        qb.push(format!(" AND ts {cmp_eq} "))
            .push_bind(micros)
            .push(format!(" AND (ts {cmp} "))
            .push_bind(micros)
            .push(format!(" OR id {cmp} "))
            .push_bind(c.id)
            .push(")");
    }

    fn push_group_types(qb: &mut QueryBuilder<Sqlite>, types: &[String]) {
        qb.push(
            " AND EXISTS (SELECT 1 FROM event_group_types t \
             WHERE t.gid = g.gid AND t.event_type IN (",
        );
        let mut sep = qb.separated(", ");
        for t in types {
            sep.push_bind(t.clone());
        }
        qb.push("))");
    }

    fn push_group_after(qb: &mut QueryBuilder<Sqlite>, c: &GroupCursor) {
        let micros = c.last_at.timestamp_micros();
        qb.push(" AND g.last_at <= ")
            .push_bind(micros)
            .push(" AND (g.last_at < ")
            .push_bind(micros)
            .push(" OR g.group_id < ")
            .push_bind(c.group.clone())
            .push(")");
    }

    fn prefix_query(words: &[String]) -> FtsQuery {
        // Words hold no separator, so no quote: nothing to escape inside the quotes.
        let terms: Vec<String> = words.iter().map(|w| format!("\"{w}\"*")).collect();
        let query = terms.join(" AND ");
        FtsQuery {
            events: query.clone(),
            groups: Some(query),
            min_id: None,
        }
    }

    fn initiator_words(words: &[String]) -> Option<FtsQuery> {
        // Whole words, each read lazily (no prefix to merge): `user:4242` is the events that
        // have both `user` and `4242`, skipping through `user`'s list to `4242`'s few rows.
        // An index on the initiator itself would cost every insert a write at a random place
        // of it (SQLite's import rate fell to a third).
        let terms: Vec<String> = words.iter().map(|w| format!("\"{w}\"")).collect();
        Some(FtsQuery {
            events: terms.join(" AND "),
            groups: None,
            min_id: None,
        })
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
            groups: Some(exact_where_possible(self.0, "groups_search_terms", words).await?),
            min_id: None,
        })
    }

    async fn first_matches(
        &mut self,
        query: &FtsQuery,
        limit: i64,
    ) -> Result<(i64, Option<String>), StoreError> {
        // The ids come back as one JSON array (one row, not one per match), ready for json_each.
        let Some(groups) = &query.groups else {
            return Ok(sqlx::query_as(
                "SELECT count(*), '[' || group_concat(id) || ']' FROM (\
                 SELECT rowid AS id FROM events_search WHERE events_search MATCH ?1 LIMIT ?2)",
            )
            .bind(&query.events)
            .bind(limit)
            .fetch_one(&mut *self.0)
            .await?);
        };
        Ok(sqlx::query_as(
            "SELECT count(*), '[' || group_concat(id) || ']' FROM (\
             SELECT rowid AS id FROM events_search WHERE events_search MATCH ?1 \
             UNION ALL SELECT e.id FROM events e WHERE e.gid IN \
             (SELECT rowid FROM groups_search WHERE groups_search MATCH ?2) LIMIT ?3)",
        )
        .bind(&query.events)
        .bind(groups)
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
