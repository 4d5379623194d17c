//! `eventlog demo` through the real binary: the sample history is stored once, however
//! often it runs, on SQLite and PostgreSQL.

use crate::support;

use support::eventlog_plain as eventlog;

use eventlog_testing::TestDb;

eventlog_testing::on_both_backends!(db: demo_stores_its_history_once);

/// The events stored, counted through an export.
fn stored(url: &str) -> Vec<serde_json::Value> {
    let out = eventlog(url, &["export", "--format", "jsonl"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

async fn demo_stores_its_history_once(db: TestDb) {
    let url = db.url();
    let first = eventlog(url, &["demo"]);
    assert!(
        first.status.success(),
        "{}",
        String::from_utf8_lossy(&first.stderr)
    );
    let events = stored(url);
    assert!(events.len() > 3_000, "{} events", events.len());
    let said = String::from_utf8_lossy(&first.stderr);
    assert!(
        said.contains(&format!("stored {} sample events", events.len())),
        "{said}"
    );

    let again = eventlog(url, &["demo"]);
    assert!(
        again.status.success(),
        "{}",
        String::from_utf8_lossy(&again.stderr)
    );
    let said = String::from_utf8_lossy(&again.stderr);
    assert!(
        said.contains(&format!(
            "stored 0 sample events over 14 days ({} already present)",
            events.len()
        )),
        "{said}"
    );
    assert_eq!(
        stored(url).len(),
        events.len(),
        "a second run stores nothing new"
    );

    // What the admin has to show: every default type, initiators, data, a week or more.
    for t in ["info", "warning", "error", "critical"] {
        assert!(events.iter().any(|e| e["type"] == t), "no {t}");
    }
    assert!(events.iter().any(|e| e["initiator"].is_string()));
    assert!(events.iter().any(|e| e["data"].is_object()));
    let times: Vec<chrono::DateTime<chrono::Utc>> = events
        .iter()
        .map(|e| e["timestamp"].as_str().unwrap().parse().unwrap())
        .collect();
    let span = *times.iter().max().unwrap() - *times.iter().min().unwrap();
    assert!(span.num_days() >= 7, "{span}");
}
