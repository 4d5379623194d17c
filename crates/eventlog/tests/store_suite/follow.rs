//! Following the log: each committed event exactly once, whatever order transactions commit in.

#![allow(clippy::unwrap_used)] // A test: a panic is the failure report.

use super::*;

eventlog_testing::on_every_backend!(
    db: follow_returns_newer_events_in_id_order,
    follow_under_concurrent_writers_returns_each_event_once,
);

/// Follows from `cursor` until a read returns less than `limit`: the events and the cursor.
async fn follow_all(
    store: &dyn Backend,
    filter: &EventFilter,
    mut cursor: FollowCursor,
    limit: usize,
) -> (Vec<eventlog::Event>, FollowCursor) {
    let mut all = Vec::new();
    loop {
        let (events, next) = store.follow(filter, &cursor, limit).await.unwrap();
        let n = events.len();
        all.extend(events);
        cursor = next;
        if n < limit {
            return (all, cursor);
        }
    }
}

async fn follow_returns_newer_events_in_id_order(db: TestDb) {
    let store = open(&db).await;
    store
        .insert_batch(&[ev("info", "g", "old", 1)])
        .await
        .unwrap();
    let start = store.follow_start().await.unwrap();
    let all = EventFilter::default();
    assert!(store.follow(&all, &start, 10).await.unwrap().0.is_empty());
    let res = store
        .insert_batch(&[
            ev("info", "g", "1", 50),
            ev("error", "g", "2", 40),
            ev("info", "g", "3", 30),
            ev("error", "g", "4", 20),
        ])
        .await
        .unwrap();
    let (newer, end) = follow_all(&*store, &all, start.clone(), 10).await;
    assert_eq!(
        newer.iter().map(|e| e.id).collect::<Vec<_>>(),
        res.iter().map(|r| r.id).collect::<Vec<_>>(),
        "by id, whatever the timestamps"
    );
    // Page by page, through the text form a browser sends back.
    let (first, next) = store.follow(&all, &start, 3).await.unwrap();
    assert_eq!(first.len(), 3);
    let next: FollowCursor = next.to_string().parse().unwrap();
    let (rest, _) = store.follow(&all, &next, 3).await.unwrap();
    assert_eq!(
        rest.iter().map(|e| e.message.as_str()).collect::<Vec<_>>(),
        ["4"]
    );
    let errors = EventFilter {
        types: vec!["error".into()],
        ..Default::default()
    };
    let (newer_errors, _) = follow_all(&*store, &errors, start.clone(), 10).await;
    assert_eq!(
        newer_errors
            .iter()
            .map(|e| e.message.as_str())
            .collect::<Vec<_>>(),
        ["2", "4"]
    );
    assert!(store.follow(&all, &end, 10).await.unwrap().0.is_empty());
    // A bare id (an old link) follows the events after it.
    let (after_second, _) = follow_all(&*store, &all, FollowCursor::after_id(res[1].id), 10).await;
    assert_eq!(after_second.len(), 2);
    // A catch-up bounded by a later position stops there.
    let later = store.follow_start().await.unwrap();
    store
        .insert_batch(&[ev("info", "g", "5", 1)])
        .await
        .unwrap();
    let (caught_up, done) = follow_all(&*store, &all, start.until(&later), 2).await;
    assert_eq!(caught_up.len(), 4, "not the event stored after `later`");
    assert_eq!(done, later);
}

/// Writers on several connections while a reader follows in small pages: every event is
/// read once. On PostgreSQL one transaction also holds an event uncommitted while later
/// ones commit (ids become visible out of order): it is read once it commits.
async fn follow_under_concurrent_writers_returns_each_event_once(db: TestDb) {
    let store = open(&db).await;
    let all = EventFilter::default();
    // The writers' partition is made before a transaction is held open: on Citus the
    // coordinator locks every partition of `events` for an insert, so making a partition
    // waits for the held transaction (which would wait for the writers).
    let warm_up = store
        .insert_batch(&[ev("info", "w0", "warm-up", 0)])
        .await
        .unwrap();
    store.delete(&[warm_up[0].id]).await.unwrap();
    let start = store.follow_start().await.unwrap();
    let held = match db.url().starts_with("postgres") {
        true => Some(hold_event_uncommitted(db.url(), "held back").await),
        false => None,
    };
    let writers: Vec<_> = (0..4)
        .map(|w| {
            let store = store.clone();
            tokio::spawn(async move {
                for b in 0..25 {
                    let batch: Vec<NewEvent> = (0..8)
                        .map(|i| ev("info", &format!("w{w}"), &format!("{w}-{b}-{i}"), i))
                        .collect();
                    store.insert_batch(&batch).await.unwrap();
                }
            })
        })
        .collect();
    let mut seen = Vec::new();
    let mut cursor = start;
    let mut writers_done = false;
    let mut held = held;
    loop {
        let (events, next) = store.follow(&all, &cursor, 7).await.unwrap();
        let n = events.len();
        seen.extend(events.into_iter().map(|e| e.message));
        cursor = next;
        if writers_done && held.is_none() && n < 7 {
            break;
        }
        if !writers_done && writers.iter().all(|w| w.is_finished()) {
            writers_done = true;
            if let Some(tx) = held.take() {
                // Later events were committed and read; now the earlier id commits.
                assert!(!seen.iter().any(|m| m == "held back"));
                tx.commit().await.unwrap();
            }
        }
        tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    }
    for w in writers {
        w.await.unwrap();
    }
    let stored = store.count(&all).await.unwrap() as usize;
    let unique: HashSet<&String> = seen.iter().collect();
    assert_eq!(unique.len(), seen.len(), "an event was read twice");
    assert_eq!(seen.len(), stored, "every stored event was read");
    if db.url().starts_with("postgres") {
        assert!(seen.iter().any(|m| m == "held back"));
    }
}

/// A raw transaction that inserts one event (its id drawn now) and is left open.
async fn hold_event_uncommitted(
    url: &str,
    message: &str,
) -> sqlx::Transaction<'static, sqlx::Postgres> {
    let pool = sqlx::PgPool::connect(url).await.unwrap();
    let mut tx = pool.begin().await.unwrap();
    // Any number will do (on Citus it must be given: it says which shard holds the group).
    let gid: i64 = sqlx::query_scalar(
        "INSERT INTO event_groups (gid, group_id, first_at, last_at, event_count) \
         OVERRIDING SYSTEM VALUE VALUES (4242, 'held', now(), now(), 1) RETURNING gid",
    )
    .fetch_one(&mut *tx)
    .await
    .unwrap();
    sqlx::query(
        "INSERT INTO events (ts, gid, uuid, event_type, message) VALUES (now(), $1, $2, 'info', $3)",
    )
    .bind(gid)
    .bind(uuid::Uuid::new_v4())
    .bind(message)
    .execute(&mut *tx)
    .await
    .unwrap();
    tx
}
