//! `eventlog log`, `types` and `migrate`, run as the real binary against real databases.

use std::process::{Command, Output};

use eventlog::store::{self, EventFilter, Order};
use eventlog_testing::TestDb;

fn eventlog(url: &str, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_eventlog"))
        .env("EVENTLOG_DATABASE_URL", url)
        .env_remove("EVENTLOG_CONFIG")
        .args(args)
        .output()
        .expect("run eventlog")
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

async fn events(url: &str) -> Vec<eventlog::Event> {
    let store = store::open(url).await.unwrap();
    store
        .list(&EventFilter::default(), Order::Asc, None, 1000)
        .await
        .unwrap()
        .items
}

async fn log_prints_the_group_and_continues_it(url: &str) {
    let first = eventlog(
        url,
        &[
            "log",
            "info",
            "Backup started",
            "--initiator",
            "cron",
            "--data",
            r#"{"n": 1}"#,
        ],
    );
    assert!(first.status.success(), "{}", stderr(&first));
    let group = stdout(&first);
    let group = group.trim_end();
    assert!(
        eventlog::event::is_random_group(group),
        "only the group id: {group:?}"
    );
    assert_eq!(stdout(&first).lines().count(), 1);

    let second = eventlog(url, &["log", "error", "Backup failed", "--group", group]);
    assert!(second.status.success(), "{}", stderr(&second));
    assert_eq!(stdout(&second).trim_end(), group);

    let named = eventlog(url, &["log", "warning", "slow", "--group", "Order 1234"]);
    assert_eq!(stdout(&named), "Order 1234\n");

    let stored = events(url).await;
    assert_eq!(stored.len(), 3);
    assert_eq!(stored[0].group, group);
    assert_eq!(stored[1].group, group);
    assert_eq!(stored[0].data, Some(serde_json::json!({"n": 1})));
    assert_eq!(stored[0].initiator.as_deref(), Some("cron"));
    assert_eq!(stored[1].event_type, "error");
}

async fn bad_input_exits_non_zero_with_the_reason_and_stores_nothing(url: &str) {
    let cases: &[(&[&str], &str)] = &[
        (
            &["log", "nope", "x"],
            "event type \"nope\" is not configured",
        ),
        (&["log", "bad-type", "x"], "a type name must match"),
        (
            &["log", "info", "x", "--data", "{bad"],
            "--data is not valid JSON",
        ),
        (
            &["log", "info", "x", "--group", &"g".repeat(41)],
            "must be 1 to 40 characters",
        ),
        (
            &["log", "info", "x", "--initiator", &"i".repeat(501)],
            "at most 500 characters",
        ),
        (
            &["log", "info", "x", "--send-mail", "nobody"],
            "is not an e-mail address",
        ),
        (&["log", "info", ""], "message is empty"),
    ];
    for (args, reason) in cases {
        let out = eventlog(url, args);
        assert!(!out.status.success(), "{args:?} must fail");
        assert!(stderr(&out).contains(reason), "{args:?}: {}", stderr(&out));
        assert!(stdout(&out).is_empty(), "nothing on stdout for {args:?}");
    }
    assert!(events(url).await.is_empty());
}

async fn cron_job_example_groups_its_steps(url: &str) {
    let out = Command::new("bash")
        .arg(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../examples/cron-job.sh"
        ))
        .env("EVENTLOG", env!("CARGO_BIN_EXE_eventlog"))
        .env("EVENTLOG_DATABASE_URL", url)
        .env("BACKUP_SOURCE", env!("CARGO_MANIFEST_DIR"))
        .output()
        .expect("run the example");
    assert!(out.status.success(), "{}", stderr(&out));
    let group = stdout(&out).trim_end().to_owned();
    let stored = events(url).await;
    let messages: Vec<_> = stored.iter().map(|e| e.message.as_str()).collect();
    assert_eq!(
        messages,
        ["Backup started", "Archive written", "Backup finished"]
    );
    assert!(stored.iter().all(|e| e.group == group));
    assert!(stored[1].data.as_ref().unwrap()["bytes"].as_u64().unwrap() > 0);
}

eventlog_testing::on_both_backends!(
    log_prints_the_group_and_continues_it,
    bad_input_exits_non_zero_with_the_reason_and_stores_nothing,
    cron_job_example_groups_its_steps,
);

#[test]
fn types_lists_the_configured_types_in_order() {
    let db = TestDb::sqlite();
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("eventlog.toml");
    std::fs::write(
        &config,
        "[[types.type]]\nname = \"mail_sent\"\nlabel = \"Mail sent\"\nbgcolor = \"green\"\n",
    )
    .unwrap();
    let out = eventlog(
        db.url(),
        &["--config", config.to_str().unwrap(), "types", "--json"],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let types: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        crate::support::fields(&types, "name"),
        ["info", "warning", "error", "critical", "mail_sent"]
    );

    let missing = eventlog(
        db.url(),
        &["--config", "/nonexistent/eventlog.toml", "types"],
    );
    assert!(!missing.status.success());
    assert!(
        stderr(&missing).contains("not found"),
        "{}",
        stderr(&missing)
    );

    std::fs::write(&config, "[types]\nbogus = 1\n").unwrap();
    let bad = eventlog(db.url(), &["--config", config.to_str().unwrap(), "types"]);
    assert!(!bad.status.success());
    assert!(
        stderr(&bad).contains("unknown field `bogus`"),
        "{}",
        stderr(&bad)
    );
}

#[tokio::test]
async fn migrate_creates_the_schema() {
    let db = TestDb::sqlite();
    let out = eventlog(db.url(), &["migrate"]);
    assert!(out.status.success(), "{}", stderr(&out));
    // A new database: every migration is named, and the version it ends at.
    let text = stderr(&out);
    let last = latest_migration("sqlite");
    assert!(
        text.contains("to the sqlite database: 0001 events, 0002 users")
            && text.contains(&format!("; it is now at {last}")),
        "{text}"
    );
    let count = std::fs::read_dir(migrations_dir("sqlite")).unwrap().count();
    assert!(
        text.contains(&format!("applied {count} migrations")),
        "{text}"
    );
    // Run again: nothing to apply, and it says so.
    let again = eventlog(db.url(), &["migrate"]);
    assert!(again.status.success(), "{}", stderr(&again));
    assert!(
        stderr(&again).contains(&format!("the sqlite database is up to date (at {last})")),
        "{}",
        stderr(&again)
    );
    assert!(events(db.url()).await.is_empty());
    let bad = eventlog("mysql://localhost/x", &["migrate"]);
    assert!(!bad.status.success());
    assert!(
        stderr(&bad).contains("unsupported database URL"),
        "{}",
        stderr(&bad)
    );
}

fn migrations_dir(backend: &str) -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../eventlog/migrations")
        .join(backend)
}

/// The newest migration's number, as the files name it (`0006`).
fn latest_migration(backend: &str) -> String {
    let mut names: Vec<String> = std::fs::read_dir(migrations_dir(backend))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy()[..4].to_owned())
        .collect();
    names.sort();
    names.pop().unwrap()
}
