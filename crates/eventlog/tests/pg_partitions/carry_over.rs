//! Carry-over into partitions: every row moves while a writer keeps writing.

use super::*;

#[tokio::test]
async fn carry_over_moves_every_row_while_a_writer_keeps_writing() {
    let db = TestDb::postgres().await;
    // As migrations 0001–0009 left it, with an event: 0011 keeps the table unpartitioned.
    db.postgres_as_of(9).await;
    let (store, pg) = open(&db).await;
    assert!(
        !pg.is_partitioned().await.unwrap(),
        "a database with events stays as it was"
    );
    assert_summaries_match_a_recount(pg.pool()).await;

    // 14 months of events, through the store (which works on the old shape too).
    let now = Utc::now();
    let start = now - Duration::days(14 * 31);
    let seeded: Vec<NewEvent> = (0..6_000i64)
        .map(|i| {
            let group = GroupId::named(format!("group {}", i / 20)).unwrap();
            let mut e = event_at(
                &group,
                start + Duration::minutes(i * 105),
                &format!("seed {i}"),
            );
            e.initiator = Some(format!("user:{}", i % 37));
            e
        })
        .collect();
    for chunk in seeded.chunks(1_000) {
        store.insert_batch(chunk).await.unwrap();
    }
    let seeded_ids = listed_ids(store.as_ref(), &EventFilter::default(), Order::Asc, 50).await;

    // A writer and a reader run during the whole carry-over.
    let stop = Arc::new(AtomicBool::new(false));
    let writer = {
        let store = store.clone();
        let stop = stop.clone();
        tokio::spawn(async move {
            let mut acked: Vec<Uuid> = Vec::new();
            let mut n = 0;
            while !stop.load(Ordering::Relaxed) {
                let group = GroupId::named(format!("live {}", n % 7)).unwrap();
                let batch: Vec<NewEvent> = (0..25)
                    .map(|k| event_at(&group, Utc::now(), &format!("live {n} {k}")))
                    .collect();
                store
                    .insert_batch(&batch)
                    .await
                    .expect("a write during the carry-over");
                acked.extend(batch.iter().map(|e| e.uuid));
                n += 1;
            }
            acked
        })
    };
    let reader = {
        let store = store.clone();
        let stop = stop.clone();
        tokio::spawn(async move {
            let mut reads = 0;
            while !stop.load(Ordering::Relaxed) {
                let page = store
                    .list(&EventFilter::default(), Order::Desc, None, 20)
                    .await
                    .expect("a read during the carry-over");
                assert!(!page.items.is_empty());
                reads += 1;
            }
            reads
        })
    };

    // In steps: stopped after three batches, a delete in between, then resumed.
    let first = pg.partition_events(500, Some(3)).await.unwrap();
    assert!(
        matches!(first, CarryOver::Paused { copied: 1_500.., left } if left > 0),
        "{first:?}"
    );
    assert!(!pg.is_partitioned().await.unwrap());
    // One row already copied and one not yet: both must be gone after the move.
    let deleted = [seeded_ids[5], seeded_ids[40]];
    assert_eq!(store.delete(&deleted).await.unwrap(), 2);
    let rest = pg.partition_events(500, None).await.unwrap();
    assert!(matches!(rest, CarryOver::Done { .. }), "{rest:?}");
    assert!(pg.is_partitioned().await.unwrap());
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    stop.store(true, Ordering::Relaxed);
    let acked = writer.await.unwrap();
    let reads = reader.await.unwrap();
    assert!(acked.len() >= 100, "the writer wrote during the move");
    assert!(reads > 0);

    // Every row exactly once: the seed (one from before 0011), the seeded events minus the
    // two deleted, every acknowledged live event.
    let total = store.count(&EventFilter::default()).await.unwrap();
    assert_eq!(total as usize, 1 + seeded.len() - 2 + acked.len());
    let distinct: i64 = sqlx::query_scalar("SELECT count(DISTINCT uuid) FROM events")
        .fetch_one(pg.pool())
        .await
        .unwrap();
    assert_eq!(distinct as u64, total);
    let stored: HashSet<Uuid> = sqlx::query_scalar("SELECT uuid FROM events")
        .fetch_all(pg.pool())
        .await
        .unwrap()
        .into_iter()
        .collect();
    assert!(
        acked.iter().all(|u| stored.contains(u)),
        "an acknowledged write was lost"
    );
    for id in deleted {
        assert!(
            store.get(id).await.unwrap().is_none(),
            "deleted {id} came back"
        );
    }
    assert_summaries_match_a_recount(pg.pool()).await;
    // The rows are in their months, none in the default partition.
    let parts = pg.partitions().await.unwrap();
    assert_eq!(parts[0].from, month_start(start));
    let in_default: i64 = sqlx::query_scalar("SELECT count(*) FROM events_default")
        .fetch_one(pg.pool())
        .await
        .unwrap();
    assert_eq!(in_default, 0);
    // Ids go on from the old sequence; lookups and idempotency work on the new table.
    let max_id: i64 = sqlx::query_scalar("SELECT max(id) FROM events")
        .fetch_one(pg.pool())
        .await
        .unwrap();
    let group = GroupId::named("after").unwrap();
    let new = event_at(&group, Utc::now(), "after the move");
    let ins = store
        .insert_batch(std::slice::from_ref(&new))
        .await
        .unwrap();
    assert!(ins[0].created && ins[0].id > max_id);
    let again = store.insert_batch(&seeded[100..101]).await.unwrap();
    assert!(!again[0].created, "a carried-over uuid is still known");
    let carried = store.get_by_uuid(seeded[100].uuid).await.unwrap();
    assert_eq!(carried.map(|e| e.id), Some(again[0].id));
    // Run again: nothing to do.
    assert_eq!(
        pg.partition_events(500, None).await.unwrap(),
        CarryOver::AlreadyPartitioned
    );
}
