//! What a new user meets in the first hour of the command line: no PostgreSQL notices in
//! the log of a second `eventlog migrate`, even at the info level.

use std::process::Command;

use eventlog_testing::TestDb;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn migrating_again_shows_no_postgres_notice() {
    let db = TestDb::backend("postgres").await;
    for run in 0..2 {
        let out = Command::new(env!("CARGO_BIN_EXE_eventlog"))
            .arg("migrate")
            .env("EVENTLOG_DATABASE_URL", db.url())
            .env("EVENTLOG_CONFIG", "eventlog.toml")
            .env("EVENTLOG_LOG", "info")
            .env("NO_COLOR", "1")
            .current_dir(std::env::temp_dir())
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(out.status.success(), "{stderr}");
        assert!(!stderr.contains("already exists"), "run {run}: {stderr}");
        assert!(!stderr.contains("notice"), "run {run}: {stderr}");
    }
}
