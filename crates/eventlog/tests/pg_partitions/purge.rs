//! Purge by whole partitions: a DROP for every partition older than the cut, deletes in the boundary one only.

use super::*;

#[tokio::test]
async fn purge_drops_whole_partitions_and_deletes_only_in_the_boundary_one() {
    purge_drops_whole_partitions(TestDb::postgres().await).await;
}

/// On Citus the partitions are dropped on every shard, and the claims swept by time.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn on_citus_purge_drops_whole_partitions_on_every_shard() {
    purge_drops_whole_partitions(TestDb::citus().await).await;
}

async fn purge_drops_whole_partitions(db: TestDb) {
    let (store, pg) = open(&db).await;
    let now = Utc::now();
    let first_month = month_start(now - Duration::days(8 * 31));
    pg.extend_partitions(now).await.unwrap();
    // Make partitions for the past months (through the default partition, as an import
    // would): 8 months of events, 10 a day-ish, groups spanning months, two types.
    let mut events = Vec::new();
    for i in 0..480i64 {
        let ts = first_month + Duration::hours(i * 12) + Duration::minutes(7);
        let group = GroupId::named(format!("g{}", i / 45)).unwrap();
        let mut e = event_at(&group, ts, &format!("event {i}"));
        if i % 3 == 0 {
            e.event_type = "error".into();
        }
        events.push(e);
    }
    store.insert_batch(&events).await.unwrap();
    pg.extend_partitions(now).await.unwrap();
    let before_parts = pg.partitions().await.unwrap();
    assert_eq!(before_parts[0].from, first_month, "{before_parts:?}");

    // A cutoff in the middle of the fourth month.
    let boundary = before_parts[3].clone();
    let cutoff = boundary.from + Duration::days(10);
    let expected_gone = events.iter().filter(|e| e.timestamp < cutoff).count() as u64;
    assert_eq!(
        store.purge_count(cutoff, None).await.unwrap(),
        expected_gone
    );
    assert_eq!(store.purge(cutoff, None).await.unwrap(), expected_gone);

    let after_parts = pg.partitions().await.unwrap();
    assert_eq!(
        after_parts[0], boundary,
        "the three older partitions are dropped, the boundary one kept"
    );
    assert_eq!(after_parts.len(), before_parts.len() - 3);
    let left = listed(store.as_ref(), &EventFilter::default(), Order::Asc, 1_000).await;
    assert_eq!(left.len(), events.len() - expected_gone as usize);
    assert!(left.iter().all(|e| e.timestamp >= cutoff));
    assert_eq!(left[0].timestamp, events[expected_gone as usize].timestamp);
    assert_summaries_match_a_recount(pg.pool()).await;
    // The chart (read from the per-hour counts) shows what is left, no more.
    let charted = charted(store.as_ref(), &EventFilter::default(), 7 * 86_400).await;
    assert_eq!(charted, left.len() as i64);
    // The dropped partitions' claims stay until upkeep sweeps them (the boundary
    // partition's deleted rows took theirs along): sending a purged event again is a
    // repeat of an event no longer stored, and stores nothing.
    let dropped = events
        .iter()
        .filter(|e| e.timestamp < boundary.from)
        .count() as i64;
    assert_eq!(stale_claims(pg.pool()).await, dropped);
    let again = store.insert_batch(&events[..2]).await.unwrap();
    assert_eq!(
        again,
        [Inserted {
            id: Inserted::PURGED,
            created: false
        }; 2]
    );
    assert_eq!(
        store.count(&EventFilter::default()).await.unwrap(),
        left.len() as u64
    );
    assert!(
        store
            .group_summary(events[0].group.as_str())
            .await
            .unwrap()
            .is_none()
    );
    assert_summaries_match_a_recount(pg.pool()).await;
    // Upkeep sweeps them in steps; then the uuid is free again.
    let mut steps = 0;
    while store.maintain(10_000).await.unwrap() > 0 {
        steps += 1;
        assert!(steps < 100, "the sweep ends");
    }
    assert!(steps >= 1);
    assert_eq!(stale_claims(pg.pool()).await, 0);
    let again = store.insert_batch(&events[..1]).await.unwrap();
    assert!(again[0].created);
    assert_summaries_match_a_recount(pg.pool()).await;
    // By type: rows, not partitions.
    let errors_before = events
        .iter()
        .filter(|e| e.event_type == "error" && e.timestamp < now)
        .count() as u64;
    assert!(errors_before > 0);
    store.purge(now, Some("error")).await.unwrap();
    assert_eq!(
        store
            .count(&EventFilter {
                types: vec!["error".into()],
                ..EventFilter::default()
            })
            .await
            .unwrap(),
        0
    );
    assert_eq!(pg.partitions().await.unwrap().len(), after_parts.len());
    assert_summaries_match_a_recount(pg.pool()).await;
}
