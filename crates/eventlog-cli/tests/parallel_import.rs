//! Two `eventlog import` processes at once on one PostgreSQL database, of files that share
//! half their events: the import keeps two batches in flight per process, so four write
//! transactions run side by side, race to create the same new groups (groups straddle the
//! batches) and to claim the same uuids. Afterwards every event is stored once and every
//! summary (groups, per-group types, per-hour and per-day counts) equals a recount.

use std::collections::BTreeSet;
use std::path::Path;
use std::process::{Command, Stdio};

use chrono::{DateTime, Duration, Utc};
use eventlog_testing::TestDb;
use serde_json::json;
use sqlx::Connection as _;
use uuid::Uuid;

/// Events per file; the second file starts `SHIFT` events into the first.
const PER_FILE: usize = 20_000;
const SHIFT: usize = 10_000;
/// Not a divisor of the import's 5,000-event batches: groups straddle batch boundaries,
/// so concurrent batches meet a group new to both.
const GROUP_SIZE: usize = 30;

fn start() -> DateTime<Utc> {
    DateTime::from_timestamp(1_767_225_600, 0).unwrap_or_default()
}

/// Event `i` of the shared sequence, as a line of an export (`eventlog export --format jsonl`).
fn line(i: usize, uuids: &[Uuid]) -> String {
    // Every fourth event in one big group present in every batch (as a nightly job's).
    let group = if i.is_multiple_of(4) {
        "big-shared-group".to_owned()
    } else {
        format!("group-{}", i / GROUP_SIZE)
    };
    let event_type = ["info", "warning", "error"][i % 3];
    json!({
        "uuid": uuids[i],
        "type": event_type,
        "group": group,
        // 7 s apart: 20,000 events cover about a day and a half of hours.
        "timestamp": start() + Duration::seconds(7 * i as i64),
        "message": format!("Imported ticket {i} via batch in {} ms", i % 997),
        "initiator": format!("user:{}", i % 101),
        "data": if i.is_multiple_of(5) { json!({"n": i}) } else { json!(null) },
        "send_mail": null,
    })
    .to_string()
}

fn write_file(path: &Path, range: std::ops::Range<usize>, uuids: &[Uuid]) {
    let mut text = String::new();
    for i in range {
        text.push_str(&line(i, uuids));
        text.push('\n');
    }
    std::fs::write(path, text).expect("write the import file");
}

/// "imported N events (M already present)" → (N, M).
fn imported(stderr: &str) -> (usize, usize) {
    let tail = stderr
        .split("imported ")
        .nth(1)
        .unwrap_or_else(|| panic!("no summary in {stderr:?}"));
    let mut numbers = tail
        .split(|c: char| !c.is_ascii_digit())
        .filter(|s| !s.is_empty())
        .map(|s| s.parse::<usize>().unwrap_or_default());
    (
        numbers.next().unwrap_or_default(),
        numbers.next().unwrap_or_default(),
    )
}

#[tokio::test]
async fn postgres_concurrent_imports_of_overlapping_files_store_each_event_once() {
    let db = TestDb::postgres().await;
    let dir = tempfile::tempdir().expect("temp dir");
    let total = SHIFT + PER_FILE;
    let uuids: Vec<Uuid> = (0..total).map(|_| Uuid::now_v7()).collect();
    let first = dir.path().join("first.jsonl");
    let second = dir.path().join("second.jsonl");
    write_file(&first, 0..PER_FILE, &uuids);
    write_file(&second, SHIFT..total, &uuids);
    // Migrated before the imports start (each would otherwise migrate the empty database).
    drop(
        eventlog::store::open(db.url())
            .await
            .expect("open the store"),
    );

    let imports: Vec<_> = [&first, &second]
        .into_iter()
        .map(|file| {
            Command::new(env!("CARGO_BIN_EXE_eventlog"))
                .arg("import")
                .arg(file)
                .env("EVENTLOG_DATABASE_URL", db.url())
                .env("EVENTLOG_CONFIG", "eventlog.toml")
                .env("NO_COLOR", "1")
                .current_dir(std::env::temp_dir())
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .expect("start eventlog import")
        })
        .collect();
    let mut created = 0;
    for import in imports {
        let out = import.wait_with_output().expect("wait for eventlog import");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(out.status.success(), "import failed: {stderr}");
        let (new, present) = imported(&stderr);
        assert_eq!(new + present, PER_FILE, "{stderr}");
        created += new;
    }
    assert_eq!(created, total, "each event created by exactly one import");

    let mut conn = sqlx::PgConnection::connect(db.url())
        .await
        .expect("connect to the test database");
    let stored: Vec<(Uuid, String, String)> = sqlx::query_as(
        "SELECT e.uuid, g.group_id, e.message FROM events e JOIN event_groups g USING (gid)",
    )
    .fetch_all(&mut conn)
    .await
    .expect("read the events");
    assert_eq!(
        stored.len(),
        total,
        "every event stored once, in a stored group"
    );
    let stored: BTreeSet<(Uuid, String, String)> = stored.into_iter().collect();
    let expected: BTreeSet<(Uuid, String, String)> = (0..total)
        .map(|i| {
            let v: serde_json::Value = serde_json::from_str(&line(i, &uuids)).unwrap_or_default();
            (
                uuids[i],
                v["group"].as_str().unwrap_or_default().to_owned(),
                v["message"].as_str().unwrap_or_default().to_owned(),
            )
        })
        .collect();
    assert!(
        stored == expected,
        "the stored events are the files' events"
    );

    // Each summary table against a recount of the events: rows that differ, either way.
    for (what, sql) in [
        (
            "groups",
            "SELECT count(*) FROM event_groups g FULL JOIN \
             (SELECT gid, count(*) AS n, min(ts) AS f, max(ts) AS l FROM events GROUP BY gid) e \
             USING (gid) WHERE g.event_count IS DISTINCT FROM e.n \
             OR g.first_at IS DISTINCT FROM e.f OR g.last_at IS DISTINCT FROM e.l",
        ),
        (
            "group types",
            "SELECT count(*) FROM event_group_types t FULL JOIN \
             (SELECT gid, event_type, count(*) AS n FROM events GROUP BY 1, 2) e \
             USING (gid, event_type) WHERE t.event_count IS DISTINCT FROM e.n",
        ),
        (
            "hours",
            "SELECT count(*) FROM event_hour_counts h FULL JOIN \
             (SELECT date_bin(INTERVAL '1 hour', ts, TIMESTAMPTZ '1970-01-01 00:00:00+00') \
             AS hour, event_type, count(*) AS n FROM events GROUP BY 1, 2) e \
             USING (hour, event_type) WHERE h.event_count IS DISTINCT FROM e.n",
        ),
        (
            "days",
            "SELECT count(*) FROM event_day_counts d FULL JOIN \
             (SELECT date_bin(INTERVAL '1 day', ts, TIMESTAMPTZ '1970-01-01 00:00:00+00') \
             AS day, event_type, count(*) AS n FROM events GROUP BY 1, 2) e \
             USING (day, event_type) WHERE d.event_count IS DISTINCT FROM e.n",
        ),
    ] {
        let wrong: i64 = sqlx::query_scalar(sqlx::AssertSqlSafe(sql))
            .fetch_one(&mut conn)
            .await
            .expect("recount");
        assert_eq!(wrong, 0, "{what}: summaries that differ from a recount");
    }
    let groups: i64 = sqlx::query_scalar("SELECT count(*) FROM event_groups")
        .fetch_one(&mut conn)
        .await
        .expect("count groups");
    assert_eq!(groups as usize, 1 + total.div_ceil(GROUP_SIZE));
    let _ = conn.close().await;
}

/// A batch the database refuses (here a trigger refuses one event of the second batch)
/// stops the import; the count it reports is what is stored, batches in flight beside the
/// failing one included, and a rerun stores the rest.
#[tokio::test]
async fn postgres_import_stopped_by_a_refused_batch_reports_what_is_stored() {
    let db = TestDb::postgres().await;
    let dir = tempfile::tempdir().expect("temp dir");
    const EVENTS: usize = 20_000;
    let uuids: Vec<Uuid> = (0..EVENTS).map(|_| Uuid::now_v7()).collect();
    let file = dir.path().join("events.jsonl");
    write_file(&file, 0..EVENTS, &uuids);
    drop(
        eventlog::store::open(db.url())
            .await
            .expect("open the store"),
    );
    let mut conn = sqlx::PgConnection::connect(db.url())
        .await
        .expect("connect to the test database");
    // Event 7,000 is in the second batch of 5,000.
    for sql in [
        "CREATE FUNCTION refuse() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN \
         IF NEW.message LIKE 'Imported ticket 7000 %' THEN RAISE EXCEPTION 'refused'; END IF; \
         RETURN NEW; END $$",
        "CREATE TRIGGER refuse BEFORE INSERT ON events FOR EACH ROW EXECUTE FUNCTION refuse()",
    ] {
        sqlx::query(sql).execute(&mut conn).await.expect("trigger");
    }
    let run = || {
        Command::new(env!("CARGO_BIN_EXE_eventlog"))
            .arg("import")
            .arg(&file)
            .env("EVENTLOG_DATABASE_URL", db.url())
            .env("EVENTLOG_CONFIG", "eventlog.toml")
            .env("NO_COLOR", "1")
            .current_dir(std::env::temp_dir())
            .output()
            .expect("run eventlog import")
    };
    let out = run();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "{stderr}");
    assert!(stderr.contains("refused"), "{stderr}");
    let reported: usize = stderr
        .split("import stopped; ")
        .nth(1)
        .and_then(|s| s.split(' ').next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no count in {stderr:?}"));
    let stored: i64 = sqlx::query_scalar("SELECT count(*) FROM events")
        .fetch_one(&mut conn)
        .await
        .expect("count");
    assert_eq!(
        reported, stored as usize,
        "the count reported is what is stored"
    );
    assert!(reported >= 5_000, "the first batch is stored: {stderr}");
    assert_eq!(reported % 5_000, 0, "whole batches: {stderr}");

    sqlx::query("DROP TRIGGER refuse ON events")
        .execute(&mut conn)
        .await
        .expect("drop trigger");
    let out = run();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert_eq!(imported(&stderr), (EVENTS - reported, reported), "{stderr}");
    let _ = conn.close().await;
}
