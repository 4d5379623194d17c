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
