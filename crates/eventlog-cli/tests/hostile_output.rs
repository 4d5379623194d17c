//! Output that could attack its reader: terminal escapes through `eventlog tail` (in a pipe
//! and on a terminal) and formulas in CSV exports (the real binary and the admin's download
//! over a socket). On SQLite and PostgreSQL.

use crate::support;

use std::process::Command;

use eventlog::store;
use eventlog::{GroupId, NewEvent};

eventlog_testing::on_both_backends!(
    tail_shows_control_characters_escaped,
    csv_exports_neutralise_formulas
);

/// What an attacker sends through the API: retitle the terminal, clear it, ring the bell,
/// return the cursor to overwrite the line.
const HOSTILE: &str = "\u{1b}]0;owned\u{7}\u{1b}[2Jreal\rfake";

fn eventlog(url: &str) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_eventlog"));
    c.env("EVENTLOG_DATABASE_URL", url)
        .env("EVENTLOG_CONFIG", "eventlog.toml")
        .current_dir(std::env::temp_dir());
    c
}

async fn tail_shows_control_characters_escaped(url: &str) {
    let store = store::open(url).await.unwrap();
    // Group ids cannot hold control characters (refused when recorded); messages and
    // initiators may.
    let mut e = NewEvent::new("error", GroupId::named("G").unwrap(), HOSTILE);
    e.initiator = Some("cron\u{7}".into());
    store.insert_batch(&[e]).await.unwrap();

    // In a pipe.
    let out = eventlog(url).args(["tail"]).output().unwrap();
    assert!(out.status.success());
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(!text.contains(['\u{1b}', '\u{7}', '\r']), "{text:?}");
    assert!(
        text.contains("\\u{1b}]0;owned\\u{7}\\u{1b}[2Jreal\\rfake")
            && text.contains("(cron\\u{7})"),
        "{text:?}"
    );

    // On a terminal (util-linux `script` gives the command a pseudo-terminal): colours are
    // the only escapes written.
    let out = Command::new("script")
        .args([
            "-qec",
            &format!("{} tail", env!("CARGO_BIN_EXE_eventlog")),
            "/dev/null",
        ])
        .env("EVENTLOG_DATABASE_URL", url)
        .env("EVENTLOG_CONFIG", "eventlog.toml")
        .env_remove("NO_COLOR")
        .current_dir(std::env::temp_dir())
        .output()
        .expect("util-linux script runs");
    let text = eventlog_testing::process::stdout_of(out);
    assert!(
        text.contains("\u{1b}[38;2;"),
        "coloured on a terminal: {text:?}"
    );
    assert!(text.contains("\\u{1b}]0;owned\\u{7}"), "{text:?}");
    assert!(!text.contains("\u{1b}]0;"), "{text:?}");
    assert!(!text.contains("\u{1b}[2J"), "{text:?}");
    assert!(!text.contains('\u{7}'), "{text:?}");
}

async fn csv_exports_neutralise_formulas(url: &str) {
    let store = store::open(url).await.unwrap();
    let mut e = NewEvent::new(
        "info",
        GroupId::named("+Order").unwrap(),
        "=HYPERLINK(\"http://evil.example\",\"click\")",
    );
    e.initiator = Some("@admin".into());
    e.data = Some(serde_json::json!(-5));
    store.insert_batch(&[e]).await.unwrap();

    let check = |csv: &str| {
        let mut r = csv::Reader::from_reader(csv.as_bytes());
        let row = r.records().next().unwrap().unwrap();
        for (column, shown) in [
            (2, "'+Order"),
            (4, "'=HYPERLINK(\"http://evil.example\",\"click\")"),
            (5, "'@admin"),
            (6, "'-5"),
        ] {
            assert_eq!(&row[column], shown, "column {column} of {row:?}");
        }
    };
    let out = eventlog(url)
        .args(["export", "--format", "csv"])
        .output()
        .unwrap();
    assert!(out.status.success());
    check(&String::from_utf8(out.stdout).unwrap());
    // JSON Lines stays as stored.
    let out = eventlog(url)
        .args(["export", "--format", "jsonl"])
        .output()
        .unwrap();
    let line = String::from_utf8(out.stdout).unwrap();
    assert!(
        line.contains(r#""group":"+Order""#) && line.contains(r#""data":-5"#),
        "{line}"
    );

    let addr = support::serve_to_viewers(store.clone()).await;
    let csv = reqwest::get(format!("http://{addr}/events/export?format=csv"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    check(&csv);
}
