//! Purge by age and type, in batches.

#![allow(clippy::unwrap_used)] // A test: a panic is the failure report.

use super::*;

eventlog_testing::on_every_backend!(
    db: purge_by_age_and_type, purge_deletes_more_than_one_batch,
);

async fn purge_by_age_and_type(db: TestDb) {
    let store = open(&db).await;
    store
        .insert_batch(&[
            ev("info", "A", "old info", 10),
            ev("error", "A", "old error", 20),
            ev("error", "B", "old error B", 25),
            ev("info", "A", "new info", 100),
        ])
        .await
        .unwrap();
    let cut = at(50);
    assert_eq!(store.purge_count(cut, None).await.unwrap(), 3);
    assert_eq!(store.purge_count(cut, Some("error")).await.unwrap(), 2);
    assert_eq!(
        store.purge_count(at(10), None).await.unwrap(),
        0,
        "strictly older"
    );

    assert_eq!(store.purge(cut, Some("error")).await.unwrap(), 2);
    assert_eq!(
        messages(&*store, &EventFilter::default()).await,
        ["old info", "new info"]
    );
    assert!(store.group_summary("B").await.unwrap().is_none());
    let a = store.group_summary("A").await.unwrap().unwrap();
    assert_eq!(
        (a.first_at, a.event_count, a.types.clone()),
        (at(10), 2, vec!["info".into()])
    );

    assert_eq!(store.purge(cut, None).await.unwrap(), 1);
    let a = store.group_summary("A").await.unwrap().unwrap();
    assert_eq!(
        (a.first_at, a.last_at, a.event_count),
        (at(100), at(100), 1)
    );
    assert_eq!(store.purge(cut, None).await.unwrap(), 0);
    assert_eq!(store.count(&EventFilter::default()).await.unwrap(), 1);
}

async fn purge_deletes_more_than_one_batch(db: TestDb) {
    let store = open(&db).await;
    let old: Vec<NewEvent> = (0..PURGE_BATCH + 100)
        .map(|i| ev("info", &format!("g{}", i % 7), "old", (i % 1000) as i64))
        .collect();
    for chunk in old.chunks(2000) {
        store.insert_batch(chunk).await.unwrap();
    }
    store
        .insert_batch(&[ev("info", "g0", "new", 5000)])
        .await
        .unwrap();
    assert_eq!(
        store.purge_count(at(2000), None).await.unwrap(),
        (PURGE_BATCH + 100) as u64
    );
    assert_eq!(
        store.purge(at(2000), None).await.unwrap(),
        (PURGE_BATCH + 100) as u64
    );
    assert_eq!(store.count(&EventFilter::default()).await.unwrap(), 1);
    let g0 = store.group_summary("g0").await.unwrap().unwrap();
    assert_eq!(g0.event_count, 1);
    assert!(store.group_summary("g1").await.unwrap().is_none());
}
