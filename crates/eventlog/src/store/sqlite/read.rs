//! Reading events and groups from SQLite: the columns, rows to values, and a filter as SQL.

use sqlx::sqlite::SqliteRow;
use sqlx::{QueryBuilder, Row, Sqlite};

use super::micros_to_time;
use crate::error::StoreError;
use crate::event::Event;
use crate::store::filter::search_words;
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
        match fts_query(text) {
            Some(query) => {
                qb.push(" AND id IN (SELECT rowid FROM events_search WHERE events_search MATCH ")
                    .push_bind(query.clone())
                    .push(
                        " UNION ALL SELECT e.id FROM events e WHERE e.gid IN \
                         (SELECT rowid FROM groups_search WHERE groups_search MATCH ",
                    )
                    .push_bind(query)
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

/// The FTS5 query for a search text: every word as a prefix (`"word"*`), all required.
fn fts_query(text: &str) -> Option<String> {
    let words = search_words(text);
    if words.is_empty() {
        return None;
    }
    // Words hold only letters and digits: nothing to escape inside the quotes.
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
