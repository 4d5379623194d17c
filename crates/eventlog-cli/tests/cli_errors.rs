//! One voice for errors: every command names the cause and the fix, says each error once, and
//! with `--log-format json` writes only JSON lines.

use std::process::{Command, Output};

use eventlog_testing::TestDb;

/// A PostgreSQL URL nobody answers on: a port that was free a moment ago.
fn refused_url() -> (String, u16) {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    (
        format!("postgres://eventlog@127.0.0.1:{port}/eventlog"),
        port,
    )
}

fn eventlog(dir: &std::path::Path, url: &str, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_eventlog"))
        .current_dir(dir)
        .env("EVENTLOG_DATABASE_URL", url)
        .env("EVENTLOG_DATABASE__ACQUIRE_TIMEOUT", "1s")
        .env_remove("EVENTLOG_CONFIG")
        .env_remove("EVENTLOG_LOG_FORMAT")
        .args(args)
        .output()
        .expect("run eventlog")
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// Each line of stderr as JSON; a line that is not fails the test.
fn json_lines(o: &Output) -> Vec<serde_json::Value> {
    stderr(o)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}")))
        .collect()
}

#[test]
fn log_with_the_database_down_names_the_cause_and_the_fix() {
    let dir = tempfile::tempdir().unwrap();
    let (url, port) = refused_url();
    let out = eventlog(dir.path(), &url, &["log", "info", "hello"]);
    assert!(!out.status.success());
    let text = stderr(&out);
    assert!(
        text.contains(&format!("connection refused at 127.0.0.1:{port}")),
        "{text}"
    );
    assert!(text.contains("\nhint: is PostgreSQL running"), "{text}");
    assert!(!text.contains("pool timed out"), "{text}");
    assert_eq!(text.matches("error:").count(), 1, "{text}");
}

#[test]
fn an_unknown_configuration_key_is_said_once() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("eventlog.toml"),
        "[server]\nbogus_key = 1\n",
    )
    .unwrap();
    let db = TestDb::sqlite();
    for args in [&["types"][..], &["log", "info", "hello"], &["serve"]] {
        let out = eventlog(dir.path(), db.url(), args);
        assert!(!out.status.success(), "{args:?}");
        let text = stderr(&out);
        assert_eq!(
            text.matches("unknown field `bogus_key`").count(),
            1,
            "{args:?}: {text}"
        );
        assert!(
            text.starts_with("error: configuration error: eventlog.toml"),
            "{text}"
        );
    }
}

#[test]
fn json_errors_are_one_json_line_with_the_hint_apart() {
    let dir = tempfile::tempdir().unwrap();
    let (url, port) = refused_url();
    for args in [
        &["--log-format", "json", "log", "info", "x"][..],
        &["--log-format", "json", "tail"],
    ] {
        let out = eventlog(dir.path(), &url, args);
        assert!(!out.status.success());
        let lines = json_lines(&out);
        assert_eq!(lines.len(), 1, "{args:?}: {}", stderr(&out));
        let line = &lines[0];
        assert_eq!(line["level"], "ERROR");
        assert_eq!(
            line["fields"]["message"],
            format!("cannot open {url}: connection refused at 127.0.0.1:{port}")
        );
        assert!(
            line["fields"]["hint"]
                .as_str()
                .is_some_and(|h| h.starts_with("is PostgreSQL running")),
            "{line}"
        );
    }
    std::fs::write(
        dir.path().join("eventlog.toml"),
        "[server]\nbogus_key = 1\n",
    )
    .unwrap();
    let out = eventlog(dir.path(), &url, &["--log-format", "json", "types"]);
    let lines = json_lines(&out);
    assert_eq!(lines.len(), 1, "{}", stderr(&out));
    assert!(lines[0]["fields"]["hint"].is_null());
}

/// The notices of a successful command (`exported N events`) are JSON lines too.
#[test]
fn json_notices_are_json_lines() {
    let dir = tempfile::tempdir().unwrap();
    let db = TestDb::sqlite();
    let file = dir.path().join("out.jsonl");
    let out = eventlog(
        dir.path(),
        db.url(),
        &[
            "--log-format",
            "json",
            "export",
            "-o",
            file.to_str().unwrap(),
        ],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let lines = json_lines(&out);
    assert!(
        lines
            .iter()
            .any(|l| l["fields"]["message"] == "exported 0 events"),
        "{}",
        stderr(&out)
    );
}
