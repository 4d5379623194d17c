//! Loading the ten million events of `scale10m` with `COPY`: events, uuids, group summaries
//! and per-hour and per-day counts written as the store would, into partitions made
//! beforehand; the indexes built after the load.

use super::*;

pub(crate) const CHUNK: usize = 100_000;

pub(crate) fn copy_ts(out: &mut String, t: DateTime<Utc>) {
    out.push_str(&t.format("%Y-%m-%d %H:%M:%S%.6f+00").to_string());
}

pub(crate) struct GroupAcc {
    gid: i64,
    first: DateTime<Utc>,
    last: DateTime<Utc>,
    count: i64,
    types: BTreeMap<String, i64>,
}

/// COPYs event counts per period with `statement`: `(period, type) → count`, the period
/// starting `period × seconds` after the epoch.
pub(crate) async fn copy_counts(
    pool: &PgPool,
    statement: &str,
    counts: &BTreeMap<(i64, String), i64>,
    seconds: i64,
) {
    let mut text = String::new();
    for ((period, event_type), n) in counts {
        let start = DateTime::from_timestamp(period * seconds, 0).expect("a period's start");
        copy_ts(&mut text, start);
        text.push_str(&format!("\t{event_type}\t{n}\n"));
    }
    copy(pool, statement, text).await;
}

pub(crate) async fn copy(pool: &PgPool, statement: &str, data: String) {
    let mut conn = pool.acquire().await.expect("connection");
    let mut copy = conn.copy_in_raw(statement).await.expect("COPY");
    copy.send(data.into_bytes()).await.expect("COPY data");
    copy.finish().await.expect("COPY end");
}

/// Loads `n` events over `span` from `start`.
pub(crate) async fn load(pool: &PgPool, n: usize, start: DateTime<Utc>, span: TimeDelta) {
    let mut data = Dataset::starting(n, 42, start, span);
    let mut groups: HashMap<String, GroupAcc> = HashMap::new();
    let mut id = 0i64;
    // Per (hour, type), as the store keeps them for the chart.
    let mut hours: BTreeMap<(i64, String), i64> = BTreeMap::new();
    let started = Instant::now();
    while data.made < n {
        let mut events = String::with_capacity(CHUNK * 200);
        let mut uuids = String::with_capacity(CHUNK * 64);
        for _ in 0..CHUNK.min(n - data.made) {
            let e = data.event();
            id += 1;
            let g = groups
                .entry(e.group.as_str().to_owned())
                .or_insert_with(|| {
                    GroupAcc {
                        // The number the store gives the group (on Citus: its shard).
                        gid: PostgresStore::group_number(e.group.as_str()),
                        first: e.timestamp,
                        last: e.timestamp,
                        count: 0,
                        types: BTreeMap::new(),
                    }
                });
            g.last = e.timestamp;
            g.count += 1;
            *hours
                .entry((
                    e.timestamp.timestamp().div_euclid(3600),
                    e.event_type.clone(),
                ))
                .or_default() += 1;
            *g.types.entry(e.event_type.clone()).or_default() += 1;
            // id, ts, gid, uuid, event_type, message, initiator, data, send_mail, xid
            events.push_str(&id.to_string());
            events.push('\t');
            copy_ts(&mut events, e.timestamp);
            events.push('\t');
            events.push_str(&g.gid.to_string());
            events.push('\t');
            events.push_str(&e.uuid.to_string());
            events.push('\t');
            push_field(&mut events, Some(&e.event_type));
            events.push('\t');
            push_field(&mut events, Some(&e.message));
            events.push('\t');
            push_field(&mut events, e.initiator.as_deref());
            events.push('\t');
            push_field(
                &mut events,
                e.data.as_ref().map(|d| d.to_string()).as_deref(),
            );
            events.push_str("\t\\N\t\\N\n");
            uuids.push_str(&e.uuid.to_string());
            uuids.push('\t');
            copy_ts(&mut uuids, e.timestamp);
            uuids.push('\n');
        }
        copy(
            pool,
            "COPY events (id, ts, gid, uuid, event_type, message, initiator, data, send_mail, xid) \
             FROM STDIN",
            events,
        )
        .await;
        copy(pool, "COPY event_uuids (uuid, ts) FROM STDIN", uuids).await;
        if data.made % 1_000_000 < CHUNK {
            eprintln!(
                "  loaded {} events, {:.0} events/s (load {})",
                data.made,
                data.made as f64 / started.elapsed().as_secs_f64(),
                load_average()
            );
        }
    }
    let mut summaries = String::new();
    let mut types = String::new();
    for (name, g) in &groups {
        summaries.push_str(&format!("{}\t{name}\t", g.gid));
        copy_ts(&mut summaries, g.first);
        summaries.push('\t');
        copy_ts(&mut summaries, g.last);
        summaries.push_str(&format!("\t{}\n", g.count));
        for (t, c) in &g.types {
            types.push_str(&format!("{}\t{t}\t{c}\n", g.gid));
        }
    }
    copy(
        pool,
        "COPY event_groups (gid, group_id, first_at, last_at, event_count) FROM STDIN",
        summaries,
    )
    .await;
    copy(
        pool,
        "COPY event_group_types (gid, event_type, event_count) FROM STDIN",
        types,
    )
    .await;
    copy_counts(
        pool,
        "COPY event_hour_counts (hour, event_type, event_count) FROM STDIN",
        &hours,
        3600,
    )
    .await;
    let mut days: BTreeMap<(i64, String), i64> = BTreeMap::new();
    for ((hour, event_type), n) in &hours {
        *days
            .entry((hour.div_euclid(24), event_type.clone()))
            .or_default() += n;
    }
    copy_counts(
        pool,
        "COPY event_day_counts (day, event_type, event_count) FROM STDIN",
        &days,
        86_400,
    )
    .await;
    sqlx::raw_sql(sqlx::AssertSqlSafe(format!(
        "SELECT setval('events_id_seq', {id}); ANALYZE"
    )))
    .execute(pool)
    .await
    .expect("sequences, ANALYZE");
    println!(
        "loaded {n} events ({} groups) in {:.0} s: {:.0} events/s (COPY, load {})",
        groups.len(),
        started.elapsed().as_secs_f64(),
        n as f64 / started.elapsed().as_secs_f64(),
        load_average()
    );
}

pub(crate) struct Loaded {
    pub(crate) small_event: i64,
    pub(crate) big_event: i64,
    pub(crate) sample_group: String,
    pub(crate) middle: (DateTime<Utc>, i64),
}

/// The events the pages open, read back from the database: an event of a 20-event group and
/// one of the 5,000-event group past the middle, a 20-event group's id, the middle event.
pub(crate) async fn probe(pool: &PgPool, n: usize) -> Loaded {
    let half = (n / 2) as i64;
    let (middle_ts, middle_id): (DateTime<Utc>, i64) =
        sqlx::query_as("SELECT ts, id FROM events WHERE id >= $1 ORDER BY id LIMIT 1")
            .bind(half)
            .fetch_one(pool)
            .await
            .expect("middle event");
    let (small_event, sample_group): (i64, String) = sqlx::query_as(
        "SELECT e.id, g.group_id FROM events e JOIN event_groups g ON g.gid = e.gid \
         WHERE e.id > $1 AND g.event_count = 20 ORDER BY e.id LIMIT 1",
    )
    .bind(half)
    .fetch_one(pool)
    .await
    .expect("an event of a 20-event group");
    let big_event: i64 = sqlx::query_scalar(
        "SELECT e.id FROM events e JOIN event_groups g ON g.gid = e.gid \
         WHERE e.id > $1 AND g.group_id = $2 ORDER BY e.id LIMIT 1",
    )
    .bind(half)
    .bind(BIG_GROUP)
    .fetch_one(pool)
    .await
    .expect("an event of the big group");
    Loaded {
        small_event,
        big_event,
        sample_group,
        middle: (middle_ts, middle_id),
    }
}

/// Partitions built at once (each `CREATE INDEX` is one process; the GIN word index, most of
/// the time, cannot use parallel workers on PostgreSQL 15).
pub(crate) const INDEX_WORKERS: usize = 3;

/// Builds the secondary indexes of the partitioned `events` (their definitions, `ON ONLY`
/// the parent): each parent index is made first (invalid until complete), then every
/// partition's index is built, [`INDEX_WORKERS`] at a time, and attached to it.
pub(crate) async fn build_indexes(pool: &PgPool, indexes: &[String]) {
    let parts: Vec<String> = sqlx::query_scalar(
        "SELECT c.relname::text FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid \
         WHERE i.inhparent = 'events'::regclass ORDER BY 1",
    )
    .fetch_all(pool)
    .await
    .expect("partitions");
    let mut jobs = Vec::new();
    for def in indexes {
        sqlx::raw_sql(sqlx::AssertSqlSafe(def.clone()))
            .execute(pool)
            .await
            .expect("parent index");
        let name = def.split_whitespace().nth(2).expect("index name");
        for part in &parts {
            let on_part = def
                .replacen(" ON ONLY public.events ", &format!(" ON public.{part} "), 1)
                .replacen(&format!(" {name} "), &format!(" {part}__{name} "), 1);
            jobs.push(format!(
                "SET maintenance_work_mem = '256MB'; {on_part}; \
                 ALTER INDEX {name} ATTACH PARTITION {part}__{name}"
            ));
        }
    }
    let jobs = std::sync::Arc::new(std::sync::Mutex::new(jobs));
    let mut workers = tokio::task::JoinSet::new();
    for _ in 0..INDEX_WORKERS {
        let jobs = jobs.clone();
        let pool = pool.clone();
        workers.spawn(async move {
            loop {
                let Some(sql) = jobs.lock().expect("jobs").pop() else {
                    return;
                };
                sqlx::raw_sql(sqlx::AssertSqlSafe(sql))
                    .execute(&pool)
                    .await
                    .expect("partition index");
            }
        });
    }
    while let Some(done) = workers.join_next().await {
        done.expect("index worker");
    }
}

/// Partitions for 13 months, the events loaded by COPY, the secondary indexes built after.
pub(crate) async fn load_indexed(pg: &PostgresStore, n: usize) {
    let span = TimeDelta::days(395);
    let start = Utc::now() - span;
    pg.create_partitions(start, Utc::now())
        .await
        .expect("partitions");
    // Secondary indexes are built after the load (sorted builds, far faster than growing
    // them row by row); the primary key stays.
    let indexes: Vec<String> = sqlx::query_scalar(
        "SELECT indexdef FROM pg_indexes WHERE tablename = 'events' AND indexname <> 'events_pkey'",
    )
    .fetch_all(pg.pool())
    .await
    .expect("indexes");
    for def in &indexes {
        let name = def.split_whitespace().nth(2).expect("index name");
        sqlx::raw_sql(sqlx::AssertSqlSafe(format!("DROP INDEX {name}")))
            .execute(pg.pool())
            .await
            .expect("drop index");
    }
    load(pg.pool(), n, start, span).await;
    let started = Instant::now();
    build_indexes(pg.pool(), &indexes).await;
    println!(
        "  secondary indexes built in {:.0} s (load {})",
        started.elapsed().as_secs_f64(),
        load_average()
    );
    // As a database that has been running a while looks: statistics, and the visibility map
    // set (index-only scans), so that autovacuum does not run over the freshly loaded tables
    // while the pages are timed.
    let started = Instant::now();
    sqlx::raw_sql("VACUUM (ANALYZE)")
        .execute(pg.pool())
        .await
        .expect("VACUUM");
    println!(
        "  VACUUM (ANALYZE) in {:.0} s (load {})",
        started.elapsed().as_secs_f64(),
        load_average()
    );
    let built: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM pg_index i JOIN pg_inherits h ON h.inhrelid = i.indrelid \
         WHERE h.inhparent = 'events'::regclass",
    )
    .fetch_one(pg.pool())
    .await
    .expect("indexes");
    let partitions = pg.partitions().await.expect("partitions").len() as i64 + 1;
    assert_eq!(
        built,
        partitions * (indexes.len() as i64 + 1),
        "every partition has every index"
    );
    let invalid: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM pg_index WHERE indrelid = 'events'::regclass AND NOT indisvalid",
    )
    .fetch_one(pg.pool())
    .await
    .expect("indexes");
    assert_eq!(invalid, 0, "every index of the parent is complete");
}
