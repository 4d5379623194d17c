//! Carrying a PostgreSQL database over to Citus with the commands of docs/scaling.md: the
//! events by `eventlog export` and `eventlog import`, users, sessions and tokens by
//! `pg_dump --data-only`. Everything comes over; a second import stores nothing.

use crate::support;

use std::collections::HashMap;
use std::process::{Command, Stdio};

use eventlog::store::{self, Backend, GroupFilter, GroupSummary};
use eventlog_testing::TestDb;
use eventlog_testing::process::assert_success;

/// Every group summary of the store, by group.
async fn summaries(store: &dyn Backend) -> HashMap<String, GroupSummary> {
    let mut all = HashMap::new();
    let mut cursor = None;
    loop {
        let page = store
            .groups(&GroupFilter::default(), cursor.as_ref(), 1_000)
            .await
            .unwrap();
        for mut s in page.items {
            s.types.sort();
            all.insert(s.group.clone(), s);
        }
        match page.next {
            Some(next) => cursor = Some(next),
            None => return all,
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_postgres_database_is_carried_over_to_citus() {
    let old = TestDb::postgres().await;
    let new = TestDb::citus().await;
    assert_success(&support::eventlog(old.url(), &["demo"], None));
    let token = support::token(old.url());
    support::add_user(old.url(), "alice", "correct horse battery staple");

    // The commands of docs/scaling.md, "Carrying an existing database over".
    assert_success(&support::eventlog(new.url(), &["migrate"], None));
    let dir = tempfile::tempdir().unwrap();
    let export = dir.path().join("events.jsonl");
    let export = export.to_str().unwrap();
    assert_success(&support::eventlog_plain(
        old.url(),
        &["export", "--format", "jsonl", "-o", export],
    ));
    assert_success(&support::eventlog_plain(new.url(), &["import", export]));
    let dump = Command::new("pg_dump")
        .args([
            "--data-only",
            "--table=users",
            "--table=sessions",
            "--table=api_tokens",
            old.url(),
        ])
        .output()
        .expect("run pg_dump");
    assert_success(&dump);
    let mut psql = Command::new("psql")
        .args(["-X", "-q", "-v", "ON_ERROR_STOP=1", new.url()])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("run psql");
    std::io::Write::write_all(&mut psql.stdin.take().unwrap(), &dump.stdout).unwrap();
    assert_success(&psql.wait_with_output().unwrap());

    let (from, to) = (
        store::open(old.url()).await.unwrap(),
        store::open(new.url()).await.unwrap(),
    );
    let all = eventlog::store::EventFilter::default();
    let stored = from.count(&all).await.unwrap();
    assert!(stored > 1_000, "the demo stored {stored} events");
    assert_eq!(to.count(&all).await.unwrap(), stored);
    let (before, after) = (summaries(from.as_ref()).await, summaries(to.as_ref()).await);
    assert_eq!(before.len(), after.len());
    for (group, summary) in &before {
        let carried = after
            .get(group)
            .unwrap_or_else(|| panic!("{group:?} missing"));
        assert_eq!(
            (
                summary.event_count,
                summary.first_at,
                summary.last_at,
                &summary.types
            ),
            (
                carried.event_count,
                carried.first_at,
                carried.last_at,
                &carried.types
            ),
            "{group:?}"
        );
    }
    assert!(
        to.verify_token(&token).await.unwrap().is_some(),
        "the token works on Citus"
    );
    let users = support::eventlog_plain(new.url(), &["user", "list"]);
    assert_success(&users);
    assert!(String::from_utf8_lossy(&users.stdout).contains("alice"));

    // Again (events written to the old database meanwhile): nothing is stored twice.
    assert_success(&support::eventlog_plain(new.url(), &["import", export]));
    assert_eq!(to.count(&all).await.unwrap(), stored);
}
