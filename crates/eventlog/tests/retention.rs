//! Retention policy on both backends: per-type ages override the default.

use std::collections::BTreeMap;

use chrono::Utc;
use eventlog::retention::{self, RetentionConfig};
use eventlog::store::{self, EventFilter};
use eventlog::{GroupId, NewEvent};
use eventlog_testing::TestDb;

async fn per_type_ages_override_the_default(db: TestDb) {
    let store = store::open(db.url()).await.unwrap();
    let now = Utc::now();
    let seed = [
        (100, "info"),
        (100, "error"),
        (400, "error"),
        (10, "warning"),
        (200, "legacy_type"),
        (5, "debug"),
        (8, "debug"),
    ];
    let events: Vec<NewEvent> = seed
        .iter()
        .map(|(days, t)| {
            let mut e = NewEvent::new(*t, GroupId::random(), format!("{t} {days}d"));
            e.timestamp = now - chrono::Duration::days(*days);
            e
        })
        .collect();
    store.insert_batch(&events).await.unwrap();
    let config = RetentionConfig {
        default: Some("90d".parse().unwrap()),
        types: BTreeMap::from([
            ("error".into(), "365d".parse().unwrap()),
            ("debug".into(), "7d".parse().unwrap()),
        ]),
        ..RetentionConfig::default()
    };
    let report = retention::apply(store.as_ref(), &config).await.unwrap();
    assert_eq!(report.total(), 4);
    assert_eq!(report.deleted["debug"], 1);
    assert_eq!(report.deleted["error"], 1);
    assert_eq!(report.deleted["info"], 1);
    assert_eq!(
        report.deleted["legacy_type"], 1,
        "unconfigured types follow the default"
    );
    let page = store
        .list(&EventFilter::default(), store::Order::Asc, None, 100)
        .await
        .unwrap();
    let mut left: Vec<_> = page.items.iter().map(|e| e.message.as_str()).collect();
    left.sort();
    assert_eq!(left, ["debug 5d", "error 100d", "warning 10d"]);

    // Nothing configured: nothing deleted.
    let none = retention::apply(store.as_ref(), &RetentionConfig::default())
        .await
        .unwrap();
    assert_eq!(none.total(), 0);
}

async fn spawn_applies_periodically(db: TestDb) {
    let store = store::open(db.url()).await.unwrap();
    let mut e = NewEvent::new("info", GroupId::random(), "old");
    e.timestamp = Utc::now() - chrono::Duration::days(2);
    store.insert_batch(&[e]).await.unwrap();
    let config = RetentionConfig {
        default: Some("1d".parse().unwrap()),
        interval: "100ms".parse().unwrap(),
        ..RetentionConfig::default()
    };
    let events: std::sync::Arc<dyn store::Store> = store.clone();
    let task = retention::spawn(events, config);
    for _ in 0..100 {
        if store.count(&EventFilter::default()).await.unwrap() == 0 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert_eq!(store.count(&EventFilter::default()).await.unwrap(), 0);
    let mut e = NewEvent::new("info", GroupId::random(), "later");
    e.timestamp = Utc::now() - chrono::Duration::days(3);
    store.insert_batch(&[e]).await.unwrap();
    for _ in 0..100 {
        if store.count(&EventFilter::default()).await.unwrap() == 0 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert_eq!(
        store.count(&EventFilter::default()).await.unwrap(),
        0,
        "applied again"
    );
    task.abort();
    // A bad interval is refused when the configuration is read, before anything runs.
    let err = eventlog::Config::from_toml("[retention]\ninterval = \"often\"\n").unwrap_err();
    assert!(
        err.to_string().contains("retention.interval: \"often\""),
        "{err}"
    );
}

eventlog_testing::on_both_backends!(db: per_type_ages_override_the_default, spawn_applies_periodically);

/// PostgreSQL: what is past every type's age goes with its whole time partitions, and a purge
/// by type that empties a partition drops it too, so retention leaves no empty partition.
mod partitions {
    use super::*;
    use eventlog::store::postgres::PostgresStore;

    fn old(event_type: &str, days: i64) -> NewEvent {
        let mut e = NewEvent::new(
            event_type,
            GroupId::random(),
            format!("{event_type} {days}d"),
        );
        e.timestamp = Utc::now() - chrono::Duration::days(days);
        e
    }

    async fn partitioned(db: &TestDb) -> (std::sync::Arc<dyn store::Backend>, PostgresStore) {
        let store = store::open(db.url()).await.unwrap();
        let pg = PostgresStore::connect(db.url()).await.unwrap();
        let now = Utc::now();
        pg.create_partitions(now - chrono::Duration::days(300), now)
            .await
            .unwrap();
        (store, pg)
    }

    /// The partitions that end before `cutoff` and what they hold.
    async fn partitions_before(pg: &PostgresStore, cutoff: chrono::DateTime<Utc>) -> usize {
        pg.partitions()
            .await
            .unwrap()
            .iter()
            .filter(|p| p.to <= cutoff)
            .count()
    }

    #[tokio::test]
    async fn what_every_type_has_outlived_goes_with_its_partitions() {
        let db = TestDb::postgres().await;
        let (store, pg) = partitioned(&db).await;
        let events = [
            old("info", 250),
            old("warning", 250),
            old("info", 150),
            old("error", 150),
            old("info", 100),
            old("debug", 20),
            old("info", 10),
        ];
        store.insert_batch(&events).await.unwrap();
        let config = RetentionConfig {
            default: Some("90d".parse().unwrap()),
            types: BTreeMap::from([("debug".into(), "7d".parse().unwrap())]),
            ..RetentionConfig::default()
        };
        let cutoff = Utc::now() - chrono::Duration::days(90);
        assert!(partitions_before(&pg, cutoff).await >= 4);
        let report = retention::apply(store.as_ref(), &config).await.unwrap();
        assert_eq!(
            report.deleted,
            BTreeMap::from([
                ("debug".to_owned(), 1),
                ("error".to_owned(), 1),
                ("info".to_owned(), 3),
                ("warning".to_owned(), 1),
            ])
        );
        assert_eq!(
            partitions_before(&pg, cutoff).await,
            0,
            "every partition past the default age is dropped, not emptied"
        );
        let left = store
            .list(&EventFilter::default(), store::Order::Asc, None, 100)
            .await
            .unwrap();
        let left: Vec<_> = left.items.iter().map(|e| e.message.as_str()).collect();
        assert_eq!(left, ["info 10d"]);
    }

    #[tokio::test]
    async fn a_partition_emptied_type_by_type_is_dropped() {
        let db = TestDb::postgres().await;
        let (store, pg) = partitioned(&db).await;
        store
            .insert_batch(&[old("info", 150), old("info", 250), old("error", 250)])
            .await
            .unwrap();
        let holding = |days: i64| {
            let t = Utc::now() - chrono::Duration::days(days);
            move |p: &eventlog::store::postgres::Partition| p.from <= t && t < p.to
        };
        let before = pg.partitions().await.unwrap();
        assert!(before.iter().any(holding(150)) && before.iter().any(holding(250)));
        // No default: types without a setting are kept forever, so only `info` goes.
        let config = RetentionConfig {
            types: BTreeMap::from([("info".into(), "30d".parse().unwrap())]),
            ..RetentionConfig::default()
        };
        let report = retention::apply(store.as_ref(), &config).await.unwrap();
        assert_eq!(report.deleted, BTreeMap::from([("info".to_owned(), 2)]));
        let after = pg.partitions().await.unwrap();
        assert!(
            !after.iter().any(holding(150)),
            "the partition that held only info events is dropped"
        );
        assert!(
            after.iter().any(holding(250)),
            "the partition that still holds an error is kept"
        );
        assert_eq!(store.count(&EventFilter::default()).await.unwrap(), 1);
    }
}
