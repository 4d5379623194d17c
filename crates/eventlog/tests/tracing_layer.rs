//! The tracing layer, recording into a real SQLite file.

use eventlog::tracing_layer::EventLogLayer;
use eventlog::{EventLog, EventType, EventTypes};
use eventlog_testing::TestDb;
use serde_json::json;
use tracing::Level;
use tracing_subscriber::prelude::*;

use crate::support::all_stored;

#[tokio::test]
async fn marked_events_become_eventlog_events() {
    let db = TestDb::sqlite();
    let types = EventTypes::defaults_with(vec![EventType::new("mail_sent", "Mail sent")]).unwrap();
    let log = EventLog::builder(db.url())
        .event_types(types)
        .open()
        .await
        .unwrap();
    let layer = EventLogLayer::new(log.clone()).map_level(Level::DEBUG, "warning");
    let subscriber = tracing_subscriber::registry().with(layer);
    tracing::subscriber::with_default(subscriber, || {
        tracing::info!(eventlog = true, "no span: a group of its own");
        let outer = tracing::info_span!("run", eventlog.group = "Mail run 7");
        let _outer = outer.enter();
        let inner = tracing::info_span!("step", eventlog.initiator = "Mailer Daemon");
        let _inner = inner.enter();
        tracing::info!(
            eventlog = true,
            count = 1000,
            ok = true,
            ratio = 0.5,
            "About to send"
        );
        tracing::error!(eventlog = true, to = ?"a@b.c", "Mail server quit");
        tracing::info!(eventlog = "mail_sent", "All emails sent!");
        tracing::debug!(eventlog = true, "debug mapped to warning");
        tracing::info!(count = 1, "not marked: ignored");
        tracing::info!(eventlog = "no_such_type", "unknown type: not recorded");
    });
    log.flush().await.unwrap();
    let events = all_stored(db.url()).await;
    let summary: Vec<_> = events
        .iter()
        .map(|e| (e.event_type.as_str(), e.message.as_str()))
        .collect();
    assert_eq!(
        summary,
        [
            ("info", "no span: a group of its own"),
            ("info", "About to send"),
            ("error", "Mail server quit"),
            ("mail_sent", "All emails sent!"),
            ("warning", "debug mapped to warning"),
        ]
    );
    assert!(eventlog::event::is_random_group(&events[0].group));
    assert_eq!(events[0].initiator, None);
    for e in &events[1..] {
        assert_eq!(e.group, "Mail run 7");
        assert_eq!(e.initiator.as_deref(), Some("Mailer Daemon"));
    }
    assert_eq!(
        events[1].data,
        Some(json!({"count": 1000, "ok": true, "ratio": 0.5}))
    );
    assert_eq!(events[2].data, Some(json!({"to": "\"a@b.c\""})));
    assert_eq!(events[3].data, None);
}

#[tokio::test]
async fn a_group_recorded_later_on_the_span_applies() {
    let db = TestDb::sqlite();
    let log = EventLog::open(db.url()).await.unwrap();
    let subscriber = tracing_subscriber::registry().with(EventLogLayer::new(log.clone()));
    tracing::subscriber::with_default(subscriber, || {
        let span = tracing::info_span!("order", eventlog.group = tracing::field::Empty);
        let _g = span.enter();
        span.record("eventlog.group", "Order 1234");
        tracing::warn!(eventlog = true, "payment slow");
    });
    log.flush().await.unwrap();
    let events = all_stored(db.url()).await;
    assert_eq!(events.len(), 1);
    assert_eq!(events[0].group, "Order 1234");
    assert_eq!(events[0].event_type, "warning");
}
