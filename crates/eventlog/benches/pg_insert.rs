//! Sustained insert throughput of the storage backends, and UNNEST against COPY on PostgreSQL.
//!
//! Run with: `cargo bench -p eventlog --bench pg_insert`
//!
//! Starts its own PostgreSQL 15 cluster (durable: fsync and synchronous_commit on, as in
//! production) unless `EVENTLOG_BENCH_POSTGRES_URL` names a database to use. Events look like
//! real ones: an initiator, a small JSON object, ten events per group. One writer stores them in
//! consecutive batches, as the background writer does. Prints events per second of each run
//! (the table grows from run to run) and the median.

#![allow(clippy::unwrap_used, missing_docs)] // A benchmark: a panic is the report.

mod event_copy;

use std::borrow::Cow;
use std::time::Instant;

use eventlog::store::{self, Backend, postgres::PostgresStore};
use eventlog::{GroupId, NewEvent};
use eventlog_testing::{PgCluster, TestDb};
use serde_json::json;
use sqlx::postgres::PgPool;

/// Events per run; each configuration runs [`RUNS`] times into the same growing table.
const TOTAL: usize = 100_000;
const RUNS: usize = 3;

fn events(n: usize) -> Vec<NewEvent> {
    let mut out = Vec::with_capacity(n);
    let mut group = GroupId::random();
    for i in 0..n {
        if i % 10 == 0 {
            group = GroupId::random();
        }
        let mut e = NewEvent::new("info", group.clone(), format!("Mail {i} sent"));
        e.initiator = Some("Mailer Daemon".into());
        e.data = Some(json!({"email": format!("user{i}@example.com"), "attempt": 1, "ok": true}));
        out.push(e);
    }
    out
}

async fn via_store(store: &dyn Backend, all: &[NewEvent], batch: usize) -> f64 {
    let start = Instant::now();
    for chunk in all.chunks(batch) {
        store.insert_batch(chunk).await.unwrap();
    }
    all.len() as f64 / start.elapsed().as_secs_f64()
}

/// The same transaction as the store's, with COPY into a staging table instead of UNNEST:
/// COPY has no ON CONFLICT, so it takes a staging table and an INSERT … SELECT after it.
async fn via_copy(pool: &PgPool, all: &[NewEvent], batch: usize) -> f64 {
    let start = Instant::now();
    for chunk in all.chunks(batch) {
        let mut tx = pool.begin().await.unwrap();
        sqlx::raw_sql(
            "CREATE TEMP TABLE IF NOT EXISTS staging (uuid uuid, event_type text, group_id text, \
             ts timestamptz, message text, data jsonb, initiator text, send_mail text, \
             ord bigserial) ON COMMIT DELETE ROWS",
        )
        .execute(&mut *tx)
        .await
        .unwrap();
        let text = event_copy::event_rows(chunk, |e| Cow::Borrowed(e.group.as_str()));
        let mut copy = tx
            .copy_in_raw(
                "COPY staging (uuid, event_type, group_id, ts, message, data, initiator, \
                 send_mail) FROM STDIN",
            )
            .await
            .unwrap();
        copy.send(text.into_bytes()).await.unwrap();
        copy.finish().await.unwrap();
        // The group summaries, exactly as the store maintains them; they number the groups
        // (`gid`), which the events name. Then the store's insert: uuids claimed in
        // `event_uuids` (idempotency), the claimed events into `events`.
        sqlx::raw_sql(
            "INSERT INTO event_groups (group_id, first_at, last_at, event_count) \
             SELECT group_id, min(ts), max(ts), count(*) FROM staging GROUP BY group_id \
             ORDER BY group_id ON CONFLICT (group_id) DO UPDATE SET \
             first_at = LEAST(event_groups.first_at, excluded.first_at), \
             last_at = GREATEST(event_groups.last_at, excluded.last_at), \
             event_count = event_groups.event_count + excluded.event_count; \
             INSERT INTO event_group_types (gid, event_type, event_count) \
             SELECT g.gid, s.event_type, count(*) FROM staging s JOIN event_groups g \
             USING (group_id) GROUP BY g.gid, s.event_type \
             ORDER BY g.gid, s.event_type ON CONFLICT (gid, event_type) DO UPDATE SET \
             event_count = event_group_types.event_count + excluded.event_count",
        )
        .execute(&mut *tx)
        .await
        .unwrap();
        let rows: Vec<(i64, uuid::Uuid)> = sqlx::query_as(
            "WITH x AS MATERIALIZED (SELECT nextval(pg_get_serial_sequence('events', 'id')) \
             AS id, s.uuid, s.event_type, g.gid, s.ts, s.message, s.data, s.initiator, \
             s.send_mail FROM staging s JOIN event_groups g USING (group_id) ORDER BY s.ord), \
             k AS (INSERT INTO event_uuids (uuid, ts) SELECT uuid, ts FROM x \
             ORDER BY uuid ON CONFLICT (uuid) DO NOTHING RETURNING uuid), \
             e AS (INSERT INTO events (id, uuid, event_type, gid, ts, message, data, \
             initiator, send_mail) OVERRIDING SYSTEM VALUE SELECT x.id, x.uuid, \
             x.event_type, x.gid, x.ts, x.message, x.data, x.initiator, x.send_mail \
             FROM x JOIN k ON k.uuid = x.uuid ORDER BY x.id RETURNING id, uuid) \
             SELECT id, uuid FROM e",
        )
        .fetch_all(&mut *tx)
        .await
        .unwrap();
        assert_eq!(rows.len(), chunk.len());
        tx.commit().await.unwrap();
    }
    all.len() as f64 / start.elapsed().as_secs_f64()
}

async fn fresh_postgres(admin_url: &str, name: &str) -> String {
    let pool = PgPool::connect(admin_url).await.unwrap();
    let drop_db = format!("DROP DATABASE IF EXISTS {name}");
    let create_db = format!("CREATE DATABASE {name}");
    sqlx::raw_sql(sqlx::AssertSqlSafe(drop_db))
        .execute(&pool)
        .await
        .unwrap();
    sqlx::raw_sql(sqlx::AssertSqlSafe(create_db))
        .execute(&pool)
        .await
        .unwrap();
    pool.close().await;
    let base = admin_url.rsplit_once('/').unwrap().0;
    format!("{base}/{name}")
}

/// Drops a database `fresh_postgres` made (`FORCE`: the store's pool may still hold
/// connections), so that a run leaves nothing behind on a shared server.
async fn drop_postgres(admin_url: &str, name: &str) {
    let pool = PgPool::connect(admin_url).await.unwrap();
    sqlx::raw_sql(sqlx::AssertSqlSafe(format!(
        "DROP DATABASE IF EXISTS {name} WITH (FORCE)"
    )))
    .execute(&pool)
    .await
    .unwrap();
    pool.close().await;
}

fn report(what: &str, batch: usize, mut rates: Vec<f64>) {
    let runs: Vec<String> = rates.iter().map(|r| format!("{r:.0}")).collect();
    rates.sort_by(f64::total_cmp);
    let median = rates[rates.len() / 2];
    println!(
        "{what:<38} batch {batch:>5}: median {median:>7.0} events/s (runs: {})",
        runs.join(", ")
    );
}

#[tokio::main]
async fn main() {
    // `cargo bench` passes `--bench`; a test run (`cargo test --benches`) only checks it builds.
    if !std::env::args().any(|a| a == "--bench") {
        return;
    }
    let _cluster;
    let admin_url = match std::env::var("EVENTLOG_BENCH_POSTGRES_URL") {
        Ok(url) => url,
        Err(_) => {
            let c = PgCluster::start_with(&[
                ("fsync", "on"),
                ("synchronous_commit", "on"),
                ("full_page_writes", "on"),
                ("shared_buffers", "256MB"),
                ("max_wal_size", "4GB"),
            ])
            .unwrap();
            let url = c.url();
            _cluster = c;
            url
        }
    };
    println!("{TOTAL} events per run, 10 per group, initiator + small JSON, one writer");
    // Named per process: two runs on one server do not drop each other's database.
    let unnest_db = format!("bench_unnest_{}", std::process::id());
    let copy_db = format!("bench_copy_{}", std::process::id());
    for batch in [1000, 5000] {
        let url = fresh_postgres(&admin_url, &unnest_db).await;
        let store = store::open(&url).await.unwrap();
        let mut rates = Vec::new();
        for _ in 0..RUNS {
            rates.push(via_store(&*store, &events(TOTAL), batch).await);
        }
        report("postgres UNNEST (store.insert_batch)", batch, rates);
        drop(store);
        drop_postgres(&admin_url, &unnest_db).await;

        let url = fresh_postgres(&admin_url, &copy_db).await;
        let store = PostgresStore::connect(&url).await.unwrap();
        eventlog::store::WriteStore::migrate(&store).await.unwrap();
        let mut rates = Vec::new();
        for _ in 0..RUNS {
            rates.push(via_copy(store.pool(), &events(TOTAL), batch).await);
        }
        report("postgres COPY + staging table", batch, rates);
        store.pool().close().await;
        drop_postgres(&admin_url, &copy_db).await;

        let db = TestDb::sqlite();
        let store = store::open(db.url()).await.unwrap();
        let mut rates = Vec::new();
        for _ in 0..RUNS {
            rates.push(via_store(&*store, &events(TOTAL), batch).await);
        }
        report("sqlite (store.insert_batch)", batch, rates);
    }
}
