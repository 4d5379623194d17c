//! The real `eventlog` binary: tokens, export → import → export, purge, tail; on SQLite and
//! PostgreSQL.

use crate::support;

use std::process::Command;

use support::eventlog_plain as eventlog;

use chrono::{DateTime, Utc};
use eventlog::store::{self, EventFilter};
use eventlog::{GroupId, NewEvent};
use eventlog_testing::TestDb;
use serde_json::json;

eventlog_testing::on_both_backends!(
    db: export_import_export_is_identical,
    import_is_idempotent_and_names_bad_lines,
    purge_by_age_and_type,
    token_add_list_revoke,
    tail_prints_the_latest_events_and_filters,
);

fn ok(url: &str, args: &[&str]) -> String {
    let out = eventlog(url, args);
    assert!(
        out.status.success(),
        "eventlog {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

fn at(secs: i64) -> DateTime<Utc> {
    DateTime::from_timestamp(1_767_225_600 + secs, 0).unwrap()
}

/// Events with everything an export must carry: quotes, commas, newlines, unicode, nested data,
/// nulls, identical timestamps, and gaps in the ids.
async fn seed(url: &str) -> usize {
    let store = store::open(url).await.unwrap();
    let mut events = Vec::new();
    for i in 0..2_345 {
        let mut e = NewEvent::new(
            ["info", "warning", "error", "legacy_type"][i % 4],
            GroupId::named(format!("Order \"{}\", №{}", i / 10, i % 7)).unwrap(),
            format!("line {i}\nsecond line, with \"quotes\" and ünïcödé"),
        );
        // Several events share a timestamp: order ties by id must survive.
        e.timestamp = at((i / 3) as i64) + chrono::Duration::microseconds((i % 3 * 7) as i64 % 2);
        if i % 2 == 0 {
            e.data =
                Some(json!({"n": i, "f": 1.5, "nested": {"list": [1, "two", null]}, "ok": true}));
        }
        if i % 3 == 0 {
            e.initiator = Some(format!("user:{i}"));
        }
        if i % 5 == 0 {
            e.send_mail = Some("ops@example.com".into());
        }
        events.push(e);
    }
    store.insert_batch(&events).await.unwrap();
    // Gaps: the new database will number differently.
    let page = store
        .list(&EventFilter::default(), store::Order::Asc, None, 100)
        .await
        .unwrap();
    let ids: Vec<i64> = page.items.iter().step_by(9).map(|e| e.id).collect();
    let deleted = store.delete(&ids).await.unwrap() as usize;
    events.len() - deleted
}

async fn export_import_export_is_identical(db: TestDb) {
    let n = seed(db.url()).await;
    let dir = tempfile::tempdir().unwrap();
    let first = dir.path().join("first.jsonl");
    ok(db.url(), &["export", "-o", first.to_str().unwrap()]);
    let first_bytes = std::fs::read(&first).unwrap();
    assert_eq!(first_bytes.iter().filter(|b| **b == b'\n').count(), n);
    let csv_first = ok(db.url(), &["export", "--format", "csv"]);

    let empty = TestDb::backend(if db.url().starts_with("sqlite") {
        "sqlite"
    } else {
        "postgres"
    })
    .await;
    let out = eventlog(empty.url(), &["import", first.to_str().unwrap()]);
    eventlog_testing::process::assert_success(&out);
    assert!(
        String::from_utf8_lossy(&out.stderr)
            .contains(&format!("imported {n} events (0 already present)"))
    );
    // The seed has events with a recipient: they were mailed where they were recorded, so
    // the import queues no mail (it kept their send_mail, as the round trip below shows).
    let imported = store::open(empty.url()).await.unwrap();
    assert_eq!(imported.outbox_status().await.unwrap().queued, 0);
    let second = ok(empty.url(), &["export"]);
    assert!(
        second.as_bytes() == first_bytes.as_slice(),
        "JSON Lines round trip differs"
    );
    assert_eq!(
        ok(empty.url(), &["export", "--format", "csv"]),
        csv_first,
        "CSV differs"
    );

    // The filters apply to exports too.
    let errors = ok(
        empty.url(),
        &[
            "export",
            "--type",
            "error",
            "--since",
            "2026-01-01T00:01:00Z",
        ],
    );
    assert!(errors.lines().count() > 0);
    assert!(errors.lines().all(|l| l.contains("\"type\":\"error\"")));
}

async fn import_is_idempotent_and_names_bad_lines(db: TestDb) {
    seed(db.url()).await;
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("all.jsonl");
    ok(db.url(), &["export", "-o", file.to_str().unwrap()]);
    let out = eventlog(db.url(), &["import", file.to_str().unwrap()]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("imported 0 events ("), "{stderr}");

    let bad = dir.path().join("bad.jsonl");
    let good_line = std::fs::read_to_string(&file)
        .unwrap()
        .lines()
        .next()
        .unwrap()
        .to_owned();
    let new_uuid = good_line.replacen("\"uuid\":\"", "\"uuid\":\"ffffffff", 1);
    let new_uuid = {
        // keep a valid uuid: replace the first 8 hex digits
        let start = new_uuid.find("ffffffff").unwrap() + 8;
        format!("{}{}", &new_uuid[..start], &new_uuid[start + 8..])
    };
    std::fs::write(&bad, format!("{new_uuid}\n{{\"type\":\"info\"}}\n")).unwrap();
    let out = eventlog(db.url(), &["import", bad.to_str().unwrap()]);
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("line 2: missing field"), "{stderr}");
}

async fn purge_by_age_and_type(db: TestDb) {
    let store = store::open(db.url()).await.unwrap();
    let now = Utc::now();
    let mut events = Vec::new();
    for (age_days, t) in [(100, "info"), (100, "error"), (50, "info"), (1, "info")] {
        let mut e = NewEvent::new(t, GroupId::random(), "m");
        e.timestamp = now - chrono::Duration::days(age_days);
        events.push(e);
    }
    store.insert_batch(&events).await.unwrap();
    assert_eq!(
        ok(db.url(), &["purge", "--older-than", "90d", "--dry-run"]).trim(),
        "2"
    );
    assert_eq!(
        store.count(&EventFilter::default()).await.unwrap(),
        4,
        "dry run deletes nothing"
    );
    assert_eq!(
        ok(
            db.url(),
            &["purge", "--older-than", "90d", "--type", "error"]
        )
        .trim(),
        "1"
    );
    assert_eq!(ok(db.url(), &["purge", "--older-than", "30d"]).trim(), "2");
    assert_eq!(store.count(&EventFilter::default()).await.unwrap(), 1);
    let out = eventlog(db.url(), &["purge", "--older-than", "soon"]);
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("--older-than: \"soon\" is not a duration")
    );
}

async fn token_add_list_revoke(db: TestDb) {
    let token = ok(db.url(), &["token", "add", "ci"]);
    let token = token.trim();
    assert!(token.starts_with("evl_") && token.len() == 68, "{token}");
    let store = store::open(db.url()).await.unwrap();
    let verified = store.verify_token(token).await.unwrap().expect("valid");
    assert_eq!(verified.name, "ci");
    assert_eq!(
        verified.scope,
        store::TokenScope::Ingest,
        "ingest is the default scope"
    );
    ok(db.url(), &["token", "add", "dashboard", "--scope", "read"]);
    let list = ok(db.url(), &["token", "list"]);
    let lines: Vec<&str> = list.lines().collect();
    assert_eq!(lines.len(), 3, "{list}");
    let header: Vec<&str> = lines[0].split_whitespace().collect();
    assert_eq!(
        header,
        ["NAME", "SCOPE", "CREATED", "LAST", "USED"],
        "{list}"
    );
    assert!(
        lines[1].starts_with("ci ") && lines[1].contains(" ingest "),
        "{list}"
    );
    assert!(
        lines[2].starts_with("dashboard ") && lines[2].contains(" read "),
        "{list}"
    );
    // Columns line up: every row's scope starts where the header's does.
    let col = lines[0].find("SCOPE").unwrap();
    for line in &lines[1..] {
        assert_ne!(line.as_bytes()[col], b' ', "{list}");
        assert_eq!(line.as_bytes()[col - 1], b' ', "{list}");
    }
    let json = ok(db.url(), &["token", "list", "--json"]);
    let json: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert_eq!(json[1]["scope"], "read", "{json}");
    let out = eventlog(db.url(), &["token", "add", "x", "--scope", "admin"]);
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("possible values: ingest, read, all"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(!list.contains(&token[4..]), "the secret is never listed");
    let out = eventlog(db.url(), &["token", "add", "ci"]);
    assert!(String::from_utf8_lossy(&out.stderr).contains("already exists"));
    ok(db.url(), &["token", "revoke", "ci"]);
    assert_eq!(store.verify_token(token).await.unwrap(), None);
    let out = eventlog(db.url(), &["token", "revoke", "ci"]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("no token named \"ci\""));
}

async fn tail_prints_the_latest_events_and_filters(db: TestDb) {
    let store = store::open(db.url()).await.unwrap();
    let events: Vec<NewEvent> = (0..30)
        .map(|i| {
            let mut e = NewEvent::new(
                if i % 2 == 0 { "info" } else { "error" },
                GroupId::named("G").unwrap(),
                format!("msg {i}"),
            );
            e.timestamp = at(i);
            e
        })
        .collect();
    store.insert_batch(&events).await.unwrap();
    let out = ok(db.url(), &["tail", "-n", "3"]);
    let lines: Vec<_> = out.lines().collect();
    assert_eq!(lines.len(), 3);
    assert!(
        lines[0].ends_with("msg 27") && lines[2].ends_with("msg 29"),
        "{out}"
    );
    assert!(
        !out.contains('\x1b'),
        "no colour when stdout is not a terminal"
    );
    let out = ok(
        db.url(),
        &["tail", "--type", "error", "-q", "MSG 2", "-n", "100"],
    );
    let msgs: Vec<_> = out
        .lines()
        .map(|l| l.rsplit("  ").next().unwrap())
        .collect();
    assert_eq!(msgs, ["msg 21", "msg 23", "msg 25", "msg 27", "msg 29"]);
}

/// `tail -f` prints events stored after it started (only on SQLite: the follow loop is the
/// same code for both backends, and this test needs a child process per backend).
#[tokio::test]
async fn tail_follow_shows_new_events() {
    use std::io::{BufRead, BufReader};
    let db = TestDb::sqlite();
    let store = store::open(db.url()).await.unwrap();
    store
        .insert_batch(&[NewEvent::new(
            "info",
            GroupId::named("G").unwrap(),
            "before",
        )])
        .await
        .unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_eventlog"))
        .args([
            "tail",
            "-f",
            "-n",
            "1",
            "--interval",
            "50",
            "--type",
            "error",
        ])
        .env("EVENTLOG_DATABASE_URL", db.url())
        .env("EVENTLOG_CONFIG", "eventlog.toml")
        .current_dir(std::env::temp_dir())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines() {
            if tx.send(line.unwrap()).is_err() {
                break;
            }
        }
    });
    tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    store
        .insert_batch(&[
            NewEvent::new("info", GroupId::named("G").unwrap(), "filtered out"),
            NewEvent::new("error", GroupId::named("G").unwrap(), "arrived later"),
        ])
        .await
        .unwrap();
    let line = rx.recv_timeout(std::time::Duration::from_secs(10));
    child.kill().unwrap();
    let _ = child.wait();
    let line = line.expect("tail -f printed the new event");
    assert!(line.ends_with("arrived later"), "{line}");
    assert!(line.contains("error"), "{line}");
}
