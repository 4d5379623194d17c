//! `eventlog partition`, run as the real binary: carrying an unpartitioned PostgreSQL events
//! table over, setting the interval, refusing SQLite.

use std::process::Output;

use eventlog::store::postgres::{PartitionInterval, PostgresStore};
use eventlog::store::{self, EventFilter};
use eventlog::{GroupId, NewEvent};
use eventlog_testing::TestDb;

use crate::support;

/// The real binary, run to completion against `url`.
fn eventlog(url: &str, args: &[&str]) -> Output {
    support::eventlog(url, args, None)
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

#[tokio::test]
async fn partition_carries_an_old_table_over_then_sets_the_interval() {
    let db = TestDb::postgres().await;
    db.postgres_as_of(9).await;
    let store = store::open(db.url()).await.unwrap();
    let events: Vec<NewEvent> = (0..300i64)
        .map(|i| {
            let mut e = NewEvent::new("info", GroupId::named("old").unwrap(), format!("e{i}"));
            e.timestamp = chrono::Utc::now() - chrono::Duration::days(i * 2);
            e
        })
        .collect();
    store.insert_batch(&events).await.unwrap();
    let pg = PostgresStore::connect(db.url()).await.unwrap();
    assert!(!pg.is_partitioned().await.unwrap());

    let out = eventlog(db.url(), &["partition", "--batch", "7"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("carried 301 events over"),
        "{}",
        stderr(&out)
    );
    assert!(pg.is_partitioned().await.unwrap());
    // 600 days back: about 20 monthly partitions, plus the ones ahead.
    assert!(pg.partitions().await.unwrap().len() >= 22);
    assert_eq!(store.count(&EventFilter::default()).await.unwrap(), 301);

    let out = eventlog(db.url(), &["partition", "--interval", "week"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let err = stderr(&out);
    assert!(err.contains("partitioned already"), "{err}");
    // The existing partitions are monthly: only new ones cover a week.
    assert!(err.contains("new partitions each cover one week"), "{err}");
    assert!(!err.contains("(every week)"), "{err}");
    assert_eq!(
        pg.partition_interval().await.unwrap(),
        PartitionInterval::Week
    );

    let out = eventlog(db.url(), &["partition", "--interval", "fortnight"]);
    assert!(!out.status.success());
    assert!(
        stderr(&out).contains("expected day, week, month or year"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn partition_refuses_a_sqlite_database() {
    let db = TestDb::sqlite();
    let out = eventlog(db.url(), &["partition"]);
    assert!(!out.status.success());
    assert!(
        stderr(&out).contains("partitioning is for PostgreSQL databases"),
        "{}",
        stderr(&out)
    );
}
