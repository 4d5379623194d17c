//! Declared data keys (their indexes made, kept and dropped) and bounded scans of filters no
//! index narrows (every match found once by following the continuation).

#![allow(clippy::unwrap_used)] // A test: a panic is the failure report.

use eventlog::store::{DataKey, ScanBudget};

use super::*;

eventlog_testing::on_every_backend!(
    db: declared_keys_are_indexed_and_dropped_when_removed,
    a_scan_stops_at_its_budget_and_its_continuation_finds_every_match_once,
    a_filter_on_a_declared_key_is_not_scanned,
    the_library_builder_indexes_its_declared_keys,
);

fn keys(texts: &[&str]) -> Vec<DataKey> {
    DataKey::parse_all(texts).unwrap()
}

fn data_filter(path: &str, value: &str) -> EventFilter {
    EventFilter {
        data: vec![DataMatch {
            path: path.split('.').map(str::to_owned).collect(),
            value: value.into(),
        }],
        ..Default::default()
    }
}

/// The names of the data key indexes the database has, sorted.
async fn data_indexes(db: &TestDb) -> Vec<String> {
    let sql = if db.url().starts_with("sqlite") {
        "SELECT name FROM sqlite_master WHERE type = 'index' AND name LIKE 'events\\_data\\_%' ESCAPE '\\' ORDER BY name"
    } else {
        "SELECT c.relname::text FROM pg_class c JOIN pg_index i ON i.indexrelid = c.oid \
         WHERE c.relname LIKE 'events\\_data\\_%' AND i.indrelid = 'events'::regclass ORDER BY 1"
    };
    if db.url().starts_with("sqlite") {
        let pool = sqlx::SqlitePool::connect(db.url()).await.unwrap();
        sqlx::query_scalar(sql).fetch_all(&pool).await.unwrap()
    } else {
        let pool = sqlx::PgPool::connect(db.url()).await.unwrap();
        sqlx::query_scalar(sql).fetch_all(&pool).await.unwrap()
    }
}

async fn declared_keys_are_indexed_and_dropped_when_removed(db: TestDb) {
    let store = open(&db).await;
    let mut events = Vec::new();
    for i in 0..30 {
        let mut e = ev("info", &format!("g{}", i % 3), &format!("m{i}"), i);
        e.data = Some(
            json!({"order_id": i % 10, "customer": {"id": format!("c{}", i % 4)}, "paid": i % 2 == 0}),
        );
        events.push(e);
    }
    store.insert_batch(&events).await.unwrap();
    assert!(data_indexes(&db).await.is_empty());

    let applied = store
        .index_data_keys(&keys(&["order_id", "customer.id", "paid"]))
        .await
        .unwrap();
    assert_eq!(applied.created, ["customer.id", "order_id", "paid"]);
    assert!(applied.dropped.is_empty());
    assert_eq!(data_indexes(&db).await.len(), 3);
    assert_eq!(
        store.indexed_data_keys().await.unwrap(),
        ["customer.id", "order_id", "paid"]
    );
    // Applying the same keys again changes nothing.
    let again = store
        .index_data_keys(&keys(&["paid", "order_id", "customer.id"]))
        .await
        .unwrap();
    assert_eq!(again.summary(), None);

    // The filters read through the indexes give what they gave without them.
    let ids = |page: Vec<eventlog::Event>| page.into_iter().map(|e| e.message).collect::<Vec<_>>();
    let listed = store
        .list(&data_filter("order_id", "3"), Order::Desc, None, 100)
        .await
        .unwrap();
    assert_eq!(ids(listed.items), ["m23", "m13", "m3"]);
    let listed = store
        .list(&data_filter("customer.id", "c1"), Order::Asc, None, 3)
        .await
        .unwrap();
    assert_eq!(ids(listed.items), ["m1", "m5", "m9"]);
    let next = listed.next.unwrap();
    let listed = store
        .list(
            &data_filter("customer.id", "c1"),
            Order::Asc,
            Some(&next),
            100,
        )
        .await
        .unwrap();
    assert_eq!(ids(listed.items), ["m13", "m17", "m21", "m25", "m29"]);
    let paid = store.count(&data_filter("paid", "true")).await.unwrap();
    assert_eq!(paid, 15);

    // A key no longer declared loses its index; the filter still answers (by a scan).
    let applied = store.index_data_keys(&keys(&["order_id"])).await.unwrap();
    assert_eq!(applied.dropped, ["customer.id", "paid"]);
    assert!(applied.created.is_empty());
    assert_eq!(data_indexes(&db).await.len(), 1);
    assert_eq!(store.indexed_data_keys().await.unwrap(), ["order_id"]);
    assert_eq!(store.count(&data_filter("paid", "true")).await.unwrap(), 15);
    let applied = store.index_data_keys(&[]).await.unwrap();
    assert_eq!(
        applied.summary().as_deref(),
        Some("dropped the indexes of data keys order_id")
    );
    assert!(data_indexes(&db).await.is_empty());
}

/// 100 events a second apart; every seventh has `data.kind = "rare"`.
async fn seventh_rare(store: &dyn Backend) -> Vec<i64> {
    let mut events = Vec::new();
    for i in 0..100 {
        let mut e = ev("info", "g", &format!("m{i}"), i);
        let kind = if i % 7 == 0 { "rare" } else { "common" };
        e.data = Some(json!({"kind": kind}));
        events.push(e);
    }
    let inserted = store.insert_batch(&events).await.unwrap();
    inserted
        .iter()
        .enumerate()
        .filter(|(i, _)| i % 7 == 0)
        .map(|(_, r)| r.id)
        .collect()
}

async fn a_scan_stops_at_its_budget_and_its_continuation_finds_every_match_once(db: TestDb) {
    let store = open(&db).await;
    let rare = seventh_rare(&*store).await;
    let filter = data_filter("kind", "rare");
    // 25 events per page at most, whatever the time: the budget, not the data, stops it.
    let budget = ScanBudget {
        time: std::time::Duration::from_secs(3600),
        events: 25,
    };
    for order in [Order::Desc, Order::Asc] {
        let mut found = Vec::new();
        let mut after = None;
        let mut pages = 0;
        loop {
            let bounded = store
                .list_bounded(&filter, order, after.as_ref(), 10, &budget)
                .await
                .unwrap();
            let scan = bounded.scan.expect("no index: scanned");
            pages += 1;
            found.extend(bounded.page.items.iter().map(|e| e.id));
            assert!(bounded.page.items.iter().all(|e| filter.matches(e)));
            match bounded.page.next {
                Some(next) => {
                    // Stopped by the budget: 25 events looked at, the rest follows.
                    assert!(scan.stopped, "{scan:?}");
                    assert_eq!(scan.events, 25);
                    after = Some(next);
                }
                None => {
                    assert!(!scan.stopped);
                    assert_eq!(scan.events, 0, "the last 100 - 4 x 25 events: none");
                    break;
                }
            }
        }
        assert_eq!(pages, 5, "{order:?}");
        let mut want = rare.clone();
        if order == Order::Desc {
            want.reverse();
        }
        assert_eq!(found, want, "{order:?}: every match once, in order");
    }
    // A page that fills before the budget is spent is an ordinary page.
    let bounded = store
        .list_bounded(&filter, Order::Desc, None, 2, &ScanBudget::default())
        .await
        .unwrap();
    assert_eq!(bounded.page.items.len(), 2);
    let scan = bounded.scan.unwrap();
    assert!(!scan.stopped);
    let next = bounded.page.next.unwrap();
    assert_eq!(next.id, bounded.page.items[1].id);
    let bounded = store
        .list_bounded(
            &filter,
            Order::Desc,
            Some(&next),
            100,
            &ScanBudget::default(),
        )
        .await
        .unwrap();
    assert_eq!(bounded.page.items.len(), rare.len() - 2);
    assert_eq!(bounded.page.next, None);
    // The events older than the 91st second's: 91 of them, every one looked at.
    assert_eq!(bounded.scan.unwrap().events, 91);
}

async fn a_filter_on_a_declared_key_is_not_scanned(db: TestDb) {
    let store = open(&db).await;
    let rare = seventh_rare(&*store).await;
    store.index_data_keys(&keys(&["kind"])).await.unwrap();
    let bounded = store
        .list_bounded(
            &data_filter("kind", "rare"),
            Order::Asc,
            None,
            100,
            &ScanBudget {
                time: std::time::Duration::ZERO,
                events: 1,
            },
        )
        .await
        .unwrap();
    assert_eq!(bounded.scan, None, "the index answers");
    let ids: Vec<i64> = bounded.page.items.iter().map(|e| e.id).collect();
    assert_eq!(ids, rare);
}

async fn the_library_builder_indexes_its_declared_keys(db: TestDb) {
    let log = eventlog::EventLog::builder(db.url())
        .indexed_data_keys(["order_id", "customer.id"])
        .open()
        .await
        .unwrap();
    assert_eq!(
        log.store().indexed_data_keys().await.unwrap(),
        ["customer.id", "order_id"]
    );
    log.close().await.unwrap();
    // Without keys given, the indexes are left as they are.
    let log = eventlog::EventLog::builder(db.url()).open().await.unwrap();
    assert_eq!(log.store().indexed_data_keys().await.unwrap().len(), 2);
    log.close().await.unwrap();
    // A hostile key: refused before anything opens, naming the setting.
    let refused = eventlog::EventLog::builder(db.url())
        .indexed_data_keys(["x'); DROP TABLE events; --"])
        .open()
        .await;
    let err = match refused {
        Ok(_) => panic!("a hostile key was accepted"),
        Err(e) => e.to_string(),
    };
    assert!(err.contains("only ASCII letters"), "{err}");
    let store = open(&db).await;
    assert_eq!(store.indexed_data_keys().await.unwrap().len(), 2);
}
