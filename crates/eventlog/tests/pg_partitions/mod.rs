//! Time partitions on PostgreSQL: fresh databases partitioned from the start, events outside
//! every partition, the idempotency of a uuid across partitions, purge by dropping
//! partitions, and the carry-over of an unpartitioned table while a writer keeps writing.

use std::collections::HashSet;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use chrono::{DateTime, Datelike, Duration, TimeZone, Utc};
use eventlog::store::postgres::{CarryOver, PostgresStore};
use eventlog::store::{self, Backend, EventFilter, Inserted, Order};
use eventlog::{GroupId, NewEvent};
use eventlog_testing::TestDb;
use sqlx::PgPool;
use uuid::Uuid;

use crate::support::{charted, listed, listed_ids, wrong_group_type_counts};

mod carry_over;
mod purge;

async fn open(db: &TestDb) -> (Arc<dyn Backend>, PostgresStore) {
    let store = store::open(db.url()).await.unwrap();
    let pg = PostgresStore::connect(db.url()).await.unwrap();
    (store, pg)
}

fn event_at(group: &GroupId, ts: DateTime<Utc>, message: &str) -> NewEvent {
    let mut e = NewEvent::new("info", group.clone(), message);
    e.timestamp = ts;
    e
}

/// The partition (table) holding the event with this id.
async fn table_of(pool: &PgPool, id: i64) -> String {
    sqlx::query_scalar("SELECT tableoid::regclass::text FROM events WHERE id = $1")
        .bind(id)
        .fetch_one(pool)
        .await
        .unwrap()
}

/// Rows where the stored group summaries (counts, first and last times, per-type counts)
/// differ from a recount of the events; and whether every event has its uuid row.
async fn assert_summaries_match_a_recount(pool: &PgPool) {
    let wrong: i64 = sqlx::query_scalar(
        "WITH stored AS (SELECT gid, first_at, last_at, event_count FROM event_groups), \
         counted AS (SELECT gid, min(ts) AS first_at, max(ts) AS last_at, count(*) AS event_count \
         FROM events GROUP BY gid) \
         SELECT count(*) FROM ((SELECT * FROM stored EXCEPT SELECT * FROM counted) \
         UNION ALL (SELECT * FROM counted EXCEPT SELECT * FROM stored)) x",
    )
    .fetch_one(pool)
    .await
    .unwrap();
    assert_eq!(wrong, 0, "group summaries differ from a recount");
    assert_eq!(
        wrong_group_type_counts(pool).await,
        0,
        "per-type group counts differ from a recount"
    );
    let (events, joined) = claims(pool).await;
    assert_eq!(joined, events, "every stored event has its uuid claim");
    assert_period_counts_match_a_recount(pool).await;
}

/// Rows of `event_uuids` beyond the stored events' (the claims of dropped partitions that
/// upkeep has not swept yet); every stored event must have its claim.
async fn stale_claims(pool: &PgPool) -> i64 {
    let (events, joined) = claims(pool).await;
    assert_eq!(joined, events, "every stored event has its uuid claim");
    let uuids: i64 = sqlx::query_scalar("SELECT count(*) FROM event_uuids")
        .fetch_one(pool)
        .await
        .unwrap();
    uuids - events
}

/// The stored events, and the claims (uuid and time) matching one of them.
async fn claims(pool: &PgPool) -> (i64, i64) {
    sqlx::query_as(
        // The claims read first (on Citus they cannot be joined to the events directly).
        "WITH u AS MATERIALIZED (SELECT uuid, ts FROM event_uuids) \
         SELECT (SELECT count(*) FROM events), \
         (SELECT count(*) FROM events e JOIN u ON u.uuid = e.uuid AND u.ts = e.ts)",
    )
    .fetch_one(pool)
    .await
    .unwrap()
}

/// The per-hour and per-day counts the chart reads equal a recount of the events (no row
/// for a period and type without events).
async fn assert_period_counts_match_a_recount(pool: &PgPool) {
    for (table, column, period) in [
        ("event_hour_counts", "hour", "1 hour"),
        ("event_day_counts", "day", "1 day"),
    ] {
        let wrong: i64 = sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
            "WITH stored AS (SELECT {column}, event_type, event_count FROM {table}), \
             counted AS (SELECT date_bin(INTERVAL '{period}', ts, \
             TIMESTAMPTZ '1970-01-01 00:00:00+00') AS {column}, event_type, \
             count(*) AS event_count FROM events GROUP BY 1, 2) \
             SELECT count(*) FROM ((SELECT * FROM stored EXCEPT SELECT * FROM counted) \
             UNION ALL (SELECT * FROM counted EXCEPT SELECT * FROM stored)) x"
        )))
        .fetch_one(pool)
        .await
        .unwrap();
        assert_eq!(wrong, 0, "{table} differs from a recount");
    }
}

fn month_start(t: DateTime<Utc>) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(t.year(), t.month(), 1, 0, 0, 0)
        .single()
        .unwrap()
}

#[tokio::test]
async fn fresh_database_is_partitioned_ahead_and_no_timestamp_is_refused() {
    let db = TestDb::postgres().await;
    let (store, pg) = open(&db).await;
    assert!(pg.is_partitioned().await.unwrap());
    let now = Utc::now();
    let parts = pg.partitions().await.unwrap();
    // The current month and three after it, contiguous.
    assert!(parts.len() >= 4, "{parts:?}");
    assert_eq!(parts[0].from, month_start(now));
    for w in parts.windows(2) {
        assert_eq!(w[0].to, w[1].from);
    }
    assert!(parts.last().unwrap().to > now + Duration::days(85));

    let group = GroupId::named("outside").unwrap();
    let old = Utc.with_ymd_and_hms(2001, 1, 15, 12, 0, 0).unwrap();
    let far = now + Duration::days(800);
    let inside = now;
    let events = vec![
        event_at(&group, old, "from 2001"),
        event_at(&group, far, "from the future"),
        event_at(&group, inside, "now"),
    ];
    let ids: Vec<i64> = store
        .insert_batch(&events)
        .await
        .unwrap()
        .iter()
        .map(|i| i.id)
        .collect();
    // An insert first makes the partitions its old events need: history does not detour
    // through the default partition. Past the partitions made ahead, it waits there.
    assert_eq!(table_of(pg.pool(), ids[0]).await, "events_p20010101");
    assert_eq!(table_of(pg.pool(), ids[1]).await, "events_default");
    assert_eq!(
        table_of(pg.pool(), ids[2]).await,
        format!("events_p{}", month_start(now).format("%Y%m%d"))
    );

    // Partitions ahead for a range the default partition has rows of: the rows move
    // (attaching such a range with the rows left behind would fail).
    let created = pg.extend_partitions(far).await.unwrap();
    assert!(created >= 20, "created {created}");
    assert_eq!(
        table_of(pg.pool(), ids[1]).await,
        format!("events_p{}", month_start(far).format("%Y%m%d"))
    );
    let in_default: i64 = sqlx::query_scalar("SELECT count(*) FROM events_default")
        .fetch_one(pg.pool())
        .await
        .unwrap();
    assert_eq!(in_default, 0);
    for (id, e) in ids.iter().zip(&events) {
        let got = store.get(*id).await.unwrap().unwrap();
        assert_eq!(got.message, e.message);
        assert_eq!(store.get_by_uuid(e.uuid).await.unwrap().unwrap().id, *id);
    }
    assert_eq!(store.count(&EventFilter::default()).await.unwrap(), 3);
    assert_summaries_match_a_recount(pg.pool()).await;
    // Upkeep again: nothing more to do.
    assert_eq!(pg.extend_partitions(far).await.unwrap(), 0);
    // Every partition, made ahead or for old rows, has the narrow type index of 0012 and
    // none of the wide (event_type, ts, id) one.
    let type_indexes: Vec<(String, String)> = sqlx::query_as(
        "SELECT c.relname::text, pg_get_indexdef(i.indexrelid) FROM pg_inherits h \
         JOIN pg_class c ON c.oid = h.inhrelid JOIN pg_index i ON i.indrelid = c.oid \
         WHERE h.inhparent = 'events'::regclass \
         AND pg_get_indexdef(i.indexrelid) LIKE '%event_type%'",
    )
    .fetch_all(pg.pool())
    .await
    .unwrap();
    let partitions: i64 =
        sqlx::query_scalar("SELECT count(*) FROM pg_inherits WHERE inhparent = 'events'::regclass")
            .fetch_one(pg.pool())
            .await
            .unwrap();
    assert_eq!(type_indexes.len() as i64, partitions, "{type_indexes:?}");
    assert!(
        type_indexes
            .iter()
            .all(|(_, def)| def.ends_with("USING btree (event_type)")),
        "{type_indexes:?}"
    );
}

#[tokio::test]
async fn a_uuid_is_stored_once_even_with_another_timestamp() {
    let db = TestDb::postgres().await;
    let (store, pg) = open(&db).await;
    let group = GroupId::named("retried").unwrap();
    let first = event_at(&group, Utc::now(), "sent twice");
    // The retry carries the same uuid but another time (the server stamps its own clock
    // when a client sends none): another partition.
    let mut retry = first.clone();
    retry.timestamp = first.timestamp - Duration::days(40);
    let a = store
        .insert_batch(std::slice::from_ref(&first))
        .await
        .unwrap();
    let b = store.insert_batch(&[retry.clone(), retry]).await.unwrap();
    assert!(a[0].created);
    assert!(!b[0].created && !b[1].created);
    assert_eq!(b[0].id, a[0].id);
    assert_eq!(b[1].id, a[0].id);
    assert_eq!(store.count(&EventFilter::default()).await.unwrap(), 1);
    let summary = store.group_summary("retried").await.unwrap().unwrap();
    assert_eq!(summary.event_count, 1);
    let stored = store.get(a[0].id).await.unwrap().unwrap();
    assert_eq!(
        summary.first_at, stored.timestamp,
        "the first copy's time is kept"
    );
    assert_summaries_match_a_recount(pg.pool()).await;
}

/// A new group's number is drawn from the groups' sequence before its summary is written; a
/// number already taken when the summary is written (seen under concurrent first batches of a
/// group while PostgreSQL restarted) makes the batch try again with a fresh number, instead
/// of failing the request (the HTTP API answered 500).
#[tokio::test]
async fn a_new_groups_number_already_taken_is_drawn_again() {
    let db = TestDb::postgres().await;
    let (store, pg) = open(&db).await;
    // Take the number the next new group would draw.
    let next: i64 =
        sqlx::query_scalar("SELECT nextval(pg_get_serial_sequence('event_groups', 'gid'))")
            .fetch_one(pg.pool())
            .await
            .unwrap();
    sqlx::query(
        "INSERT INTO event_groups (gid, group_id, first_at, last_at, event_count) \
         OVERRIDING SYSTEM VALUE VALUES ($1, 'squatter', now(), now(), 0)",
    )
    .bind(next + 1)
    .execute(pg.pool())
    .await
    .unwrap();

    let fresh = GroupId::named("fresh").unwrap();
    let stored = store
        .insert_batch(&[
            NewEvent::new("info", fresh.clone(), "first"),
            NewEvent::new("info", fresh.clone(), "second"),
        ])
        .await
        .expect("a taken number is drawn again, not an error");
    assert!(stored.iter().all(|r| r.created));

    let (gid, count): (i64, i64) =
        sqlx::query_as("SELECT gid, event_count FROM event_groups WHERE group_id = 'fresh'")
            .fetch_one(pg.pool())
            .await
            .unwrap();
    assert_ne!(gid, next + 1, "the squatter keeps its number");
    assert_eq!(count, 2);
    let filed: i64 = sqlx::query_scalar("SELECT count(*) FROM events WHERE gid = $1")
        .bind(gid)
        .fetch_one(pg.pool())
        .await
        .unwrap();
    assert_eq!(filed, 2, "the events carry the group's stored number");
    assert_eq!(wrong_group_type_counts(pg.pool()).await, 0);
}

/// Rows that went through the default partition (written before inserts made their
/// partitions, or by hand) leave its indexes large once upkeep has moved them out; `migrate`
/// rebuilds them when the partition is empty.
#[tokio::test]
async fn an_emptied_default_partition_gives_its_index_space_back() {
    let db = TestDb::postgres().await;
    let (store, pg) = open(&db).await;
    let size = || async {
        sqlx::query_scalar::<_, i64>("SELECT pg_indexes_size('events_default')")
            .fetch_one(pg.pool())
            .await
            .unwrap()
    };
    // Straight into the default partition: 1990 has none, and plain SQL makes none.
    sqlx::query(
        "INSERT INTO events (uuid, event_type, gid, ts, message, initiator) \
         SELECT gen_random_uuid(), 'info', 1, TIMESTAMPTZ '1990-01-01 00:00:00+00' \
         + i * INTERVAL '1 second', 'history line ' || i, 'user:' || (i % 977) \
         FROM generate_series(1, 100000) i",
    )
    .execute(pg.pool())
    .await
    .unwrap();
    sqlx::query("DELETE FROM events_default")
        .execute(pg.pool())
        .await
        .unwrap();
    sqlx::query("VACUUM events_default")
        .execute(pg.pool())
        .await
        .unwrap();
    let bloated = size().await;
    assert!(
        bloated > 4 << 20,
        "indexes of the emptied default: {bloated} bytes"
    );
    store.migrate().await.unwrap();
    let after = size().await;
    assert!(
        after < 1 << 20,
        "indexes after migrate: {after} bytes (were {bloated})"
    );
}
