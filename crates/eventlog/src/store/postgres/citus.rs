//! Citus: the same schema and statements as plain PostgreSQL, distributed over workers.
//!
//! On a Citus coordinator (the `citus` extension is installed in the database),
//! [`distribute`] runs after the migrations and lays the tables out by design:
//!
//! - `events` (with its time partitions), `event_groups` and `event_group_types` are hash
//!   distributed by the group number `gid` and co-located: a group's events, its summary and
//!   its types live on one shard, so a group's page and summary are answered by one worker.
//! - `event_uuids` (the idempotency claims) is distributed by `uuid`: the same uuid sent twice,
//!   through any server, meets the same primary key on the same shard.
//! - `event_hour_counts` and `event_day_counts` are distributed by their period, so writers of
//!   different hours do not serialise (a reference table would: every write locks every copy).
//! - users, sessions, API tokens, the mail outbox, partition bookkeeping and the migrations
//!   table stay ordinary tables on the coordinator.
//!
//! What Citus refuses, and what the store does instead (the same statements run on plain
//! PostgreSQL):
//!
//! - Unique keys must include the distribution column: `events` is keyed `(id, ts, gid)` and
//!   `event_groups` by `gid` alone. A group number is therefore a hash of the group's name
//!   ([`super::write::group_number`]), computed before insert and never changed; the group
//!   upsert conflicts on `gid` and checks the name.
//! - `FOR UPDATE` across shards: group rows are locked with a no-op `UPDATE` instead.
//! - Triggers on distributed tables: the carry-over of an unpartitioned table
//!   (`eventlog partition`) is refused; a Citus database is partitioned from its first
//!   migration.
//! - A batch that writes to two workers commits in two phases, the coordinator first: the live
//!   tail waits for the workers' prepared transactions before reading ([`settle`]).
//! - A group's page and summary name the group by its number, a constant of the statement, and
//!   join its name and types instead of reading them through subqueries: Citus then sends
//!   them to the one shard holding the group ([`group_events`], [`group_summary`]).

use std::collections::HashSet;
use std::time::{Duration, Instant};

use sqlx::{PgConnection, PgPool};

use crate::error::StoreError;
use crate::event::Event;
use crate::store::GroupSummary;
use crate::store::row::{event_from_row, group_from_row};
use crate::store::sql::limit_param;

/// The distributed tables, in the order they are distributed, and how: the column, and the
/// table they are co-located with (`None`: a colocation group of their own type).
const DISTRIBUTED: [(&str, &str, Option<&str>); 6] = [
    ("events", "gid", None),
    ("event_groups", "gid", Some("events")),
    ("event_group_types", "gid", Some("events")),
    ("event_uuids", "uuid", None),
    ("event_hour_counts", "hour", None),
    ("event_day_counts", "day", None),
];

/// Keys re-made so that they include the distribution column, before distributing (each
/// statement is run only while its table is not distributed yet).
const REKEY: [(&str, &str); 2] = [
    (
        "events",
        "ALTER TABLE events DROP CONSTRAINT events_pkey, ADD PRIMARY KEY (id, ts, gid)",
    ),
    (
        "event_groups",
        "ALTER TABLE event_groups DROP CONSTRAINT event_groups_pkey, \
         DROP CONSTRAINT event_groups_gid, ALTER COLUMN gid DROP IDENTITY, \
         ADD PRIMARY KEY (gid)",
    ),
];

/// Whether the database is a Citus coordinator's: the `citus` extension is installed in it.
pub(super) async fn is_citus(pool: &PgPool) -> Result<bool, StoreError> {
    Ok(
        sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'citus')")
            .fetch_one(pool)
            .await?,
    )
}

/// Distributes the tables that are not distributed yet (see the module's notes). Idempotent:
/// a database distributed before is left as it is.
pub(super) async fn distribute(conn: &mut PgConnection) -> Result<(), StoreError> {
    for (table, column, colocate_with) in DISTRIBUTED {
        let done: bool = sqlx::query_scalar(
            "SELECT EXISTS (SELECT 1 FROM pg_dist_partition WHERE logicalrelid = $1::regclass)",
        )
        .bind(table)
        .fetch_one(&mut *conn)
        .await?;
        if done {
            continue;
        }
        for (_, sql) in REKEY.iter().filter(|(t, _)| *t == table) {
            sqlx::query(*sql).execute(&mut *conn).await?;
        }
        sqlx::query("SELECT create_distributed_table($1, $2, colocate_with => $3)")
            .bind(table)
            .bind(column)
            .bind(colocate_with.unwrap_or("default"))
            .execute(&mut *conn)
            .await?;
        // Rows that were in the coordinator's table were copied to the shards; the
        // coordinator's own copy is no longer read.
        sqlx::query("SELECT truncate_local_data_after_distributing_table($1)")
            .bind(table)
            .execute(&mut *conn)
            .await?;
    }
    Ok(())
}

/// The longest the live tail waits for two-phase commits to finish on the workers before it
/// reads anyway (a commit pending recovery, a worker gone): it then reports the database as
/// unavailable rather than skip rows.
const SETTLE_LIMIT: Duration = Duration::from_secs(5);

/// Waits until the transactions of this database that were prepared on a worker when it was
/// called are no longer pending there.
///
/// A batch that wrote to two workers commits on the coordinator first and on the workers
/// after: a snapshot taken on the coordinator can count it as finished while a worker does
/// not show its rows yet. Every such batch has prepared on each worker before it committed on
/// the coordinator, so once the prepared transactions listed after the snapshot are gone, its
/// rows are visible everywhere. Transactions prepared later do not matter, so a busy cluster
/// does not keep the tail waiting.
pub(super) async fn settle(pool: &PgPool) -> Result<(), StoreError> {
    let started = Instant::now();
    let mut waiting_for: Option<HashSet<String>> = None;
    loop {
        let rows: Vec<(String, i32, String)> =
            sqlx::query_as(PREPARED_ON_WORKERS).fetch_all(pool).await?;
        let pending: HashSet<String> = rows
            .iter()
            .flat_map(|(host, port, gids)| {
                gids.split(',')
                    .filter(|g| !g.is_empty())
                    .map(move |g| format!("{host}:{port}/{g}"))
            })
            .collect();
        let left = match &waiting_for {
            None => pending,
            Some(first) => first.intersection(&pending).cloned().collect(),
        };
        if left.is_empty() {
            return Ok(());
        }
        if started.elapsed() > SETTLE_LIMIT {
            // Transient (an I/O timeout): the follower retries, the web answers 503.
            return Err(StoreError::from(sqlx::Error::Io(std::io::Error::new(
                std::io::ErrorKind::TimedOut,
                format!(
                    "{} two-phase commits still pending on the Citus workers",
                    left.len()
                ),
            ))));
        }
        waiting_for = Some(left);
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
}

/// Each worker's prepared transactions of this database, their names joined by commas.
const PREPARED_ON_WORKERS: &str = r#"SELECT nodename::text, nodeport, result
     FROM run_command_on_workers(format(
     'SELECT coalesce(string_agg(gid, '','' ), '''') FROM pg_prepared_xacts WHERE database = %L',
     current_database())) WHERE success"#;

/// A group's events in time order (the columns `event_from_row` reads). The name is checked
/// too: a number is a hash of the name.
const GROUP_EVENTS: &str = "SELECT e.id, e.uuid, e.event_type, g.group_id, e.ts, e.message, \
     e.data, e.initiator, e.send_mail FROM events e JOIN event_groups g ON g.gid = e.gid \
     WHERE e.gid = $1 AND g.gid = $1 AND g.group_id = $2 ORDER BY e.ts, e.id LIMIT $3";

/// A group's summary with its types (the columns `group_from_row` reads).
const GROUP_SUMMARY: &str = "SELECT g.group_id, g.first_at, g.last_at, g.event_count, \
     coalesce(array_agg(t.event_type ORDER BY t.event_type) \
     FILTER (WHERE t.event_type IS NOT NULL), '{}') AS types \
     FROM event_groups g LEFT JOIN event_group_types t ON t.gid = g.gid AND t.gid = $1 \
     WHERE g.gid = $1 AND g.group_id = $2 \
     GROUP BY g.gid, g.group_id, g.first_at, g.last_at, g.event_count";

/// Every event of a group in time order, at most `limit`, read from the group's shard.
pub(super) async fn group_events(
    pool: &PgPool,
    group: &str,
    limit: usize,
) -> Result<Vec<Event>, StoreError> {
    let rows = sqlx::query(GROUP_EVENTS)
        .bind(super::write::group_number(group))
        .bind(group)
        .bind(limit_param(limit))
        .fetch_all(pool)
        .await?;
    rows.iter().map(event_from_row).collect()
}

/// One group's summary, read from the group's shard.
pub(super) async fn group_summary(
    pool: &PgPool,
    group: &str,
) -> Result<Option<GroupSummary>, StoreError> {
    let row = sqlx::query(GROUP_SUMMARY)
        .bind(super::write::group_number(group))
        .bind(group)
        .fetch_optional(pool)
        .await?;
    row.as_ref().map(group_from_row).transpose()
}
