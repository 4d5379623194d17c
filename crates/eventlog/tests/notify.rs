//! Webhook, Slack and Teams notification through the outbox, with real databases (SQLite file
//! and PostgreSQL) and a real HTTP receiver on loopback (`eventlog_testing::webhook`) that can
//! be down, fail, throttle, or answer in hostile ways.
#![cfg(feature = "notify")]
#![allow(clippy::unwrap_used)]

use std::sync::Arc;
use std::time::{Duration, Instant};

use eventlog::event::{GroupId, NewEvent};
use eventlog::notify::{ChannelConfig, ChannelKind, NotifyConfig, NotifySender};
use eventlog::store::Backend;
use eventlog::store::outbox::NoticeRecord;
use eventlog_testing::webhook::{Received, Receiver, Reply, dead_addr};

const SECRET: &str = "s3cret-signing-key-0123";

pub(crate) fn channel(name: &str, kind: ChannelKind, url: String) -> ChannelConfig {
    ChannelConfig {
        name: name.into(),
        kind,
        url,
        secret: None,
        types: vec![],
        digest_secs: 0,
        rate_limit_per_minute: 0,
    }
}

pub(crate) fn config(channels: Vec<ChannelConfig>) -> NotifyConfig {
    NotifyConfig {
        admin_url: "https://log.example.com/".into(),
        timeout_secs: 1,
        retry_max_interval_secs: 1,
        channels,
        ..NotifyConfig::default()
    }
}

pub(crate) async fn start(url: &str, config: NotifyConfig) -> (Arc<dyn Backend>, NotifySender) {
    let store = eventlog::store::open(url).await.unwrap();
    let sender = NotifySender::start(store.clone(), config, eventlog::EventTypes::default())
        .await
        .unwrap();
    (store, sender)
}

/// Stores events of `(type, group, message)` in one batch, as every writer does.
pub(crate) async fn record(
    store: &Arc<dyn Backend>,
    events: &[(&str, &str, &str)],
) -> Vec<NewEvent> {
    let batch: Vec<NewEvent> = events
        .iter()
        .map(|(t, g, m)| {
            let mut e = NewEvent::new(*t, GroupId::named(*g).unwrap(), *m);
            e.initiator = Some("cron <nightly>".into());
            e.data = Some(serde_json::json!({"disk": "/var"}));
            e
        })
        .collect();
    store.insert_batch(&batch).await.unwrap();
    batch
}

/// Waits until every notification row is finished (sent or given up), then returns them.
pub(crate) async fn settled(store: &Arc<dyn Backend>, within: Duration) -> Vec<NoticeRecord> {
    let deadline = Instant::now() + within;
    loop {
        let rows = store.recent_notices(None, 1000).await.unwrap();
        if rows.iter().all(|r| r.state != "queued") {
            return rows;
        }
        assert!(Instant::now() < deadline, "still queued: {rows:?}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// HMAC-SHA256 written out from its definition (RFC 2104) over plain SHA-256: the receiver's
/// check does not share code with the sender's signing.
fn hmac_sha256_hex(key: &[u8], message: &[u8]) -> String {
    use sha2::Digest as _;
    let mut block = [0u8; 64];
    block[..key.len()].copy_from_slice(key);
    let pad = |byte: u8| block.iter().map(|k| k ^ byte).collect::<Vec<u8>>();
    let inner = sha2::Sha256::new()
        .chain_update(pad(0x36))
        .chain_update(message)
        .finalize();
    let outer = sha2::Sha256::new()
        .chain_update(pad(0x5c))
        .chain_update(inner)
        .finalize();
    outer.iter().map(|b| format!("{b:02x}")).collect()
}

/// What a receiver does: recompute the signature over `timestamp.body` and refuse stale
/// timestamps.
fn verify(request: &Received, secret: &str) -> bool {
    let (Some(ts), Some(sig)) = (
        request.header("x-eventlog-timestamp"),
        request.header("x-eventlog-signature"),
    ) else {
        return false;
    };
    let fresh = ts
        .parse::<i64>()
        .is_ok_and(|t| (chrono::Utc::now().timestamp() - t).abs() < 300);
    let mut signed = format!("{ts}.").into_bytes();
    signed.extend_from_slice(&request.body);
    fresh && sig == format!("v1={}", hmac_sha256_hex(secret.as_bytes(), &signed))
}

/// A signed webhook per routed event: the event, its type label, links and data, a signature
/// the receiver verifies, the event's uuid as idempotency key. Types a channel does not take
/// are not sent to it.
async fn webhooks_are_signed_and_routed_by_type(url: &str) {
    let receiver = Receiver::start().await;
    let mut hook = channel("audit", ChannelKind::Webhook, receiver.url("/hook?x=1"));
    hook.secret = Some(SECRET.into());
    hook.types = vec!["error".into(), "critical".into()];
    let (store, sender) = start(url, config(vec![hook])).await;
    let batch = record(
        &store,
        &[
            ("info", "nightly", "started"),
            ("error", "nightly", "Disk full"),
            ("error", "nightly", "Disk still full"),
        ],
    )
    .await;
    let got = receiver.wait_for(2, Duration::from_secs(10)).await;
    let rows = settled(&store, Duration::from_secs(10)).await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    sender.close().await;
    // Without a digest window, one message per event, even within one group.
    let counts = (receiver.received().len(), rows.len());
    assert_eq!(counts, (2, 2), "only the errors are routed");
    assert_eq!(got[1].json()["message"], "Disk still full");
    let request = &got[0];
    assert_eq!(request.path, "/hook?x=1");
    assert!(verify(request, SECRET), "signature: {:?}", request.headers);
    let mut tampered = request.clone();
    tampered.body.push(b' ');
    assert!(
        !verify(&tampered, SECRET),
        "a changed body must fail the check"
    );
    let error = &batch[1];
    assert_eq!(
        request.header("idempotency-key"),
        Some(error.uuid.to_string().as_str())
    );
    assert_eq!(request.header("content-type"), Some("application/json"));
    let body = request.json();
    assert_eq!(body["uuid"], error.uuid.to_string());
    assert_eq!(
        (body["type"].as_str(), body["type_label"].as_str()),
        (Some("error"), Some("Error"))
    );
    assert_eq!(body["message"], "Disk full");
    assert_eq!(body["initiator"], "cron <nightly>");
    assert_eq!(body["data"]["disk"], "/var");
    assert_eq!(body["group"]["id"], "nightly");
    assert_eq!(
        body["group"]["url"],
        "https://log.example.com/events?group=nightly"
    );
    let id = rows.iter().map(|r| r.event_id).min().unwrap();
    assert_eq!(body["url"], format!("https://log.example.com/events/{id}"));
    assert_eq!(
        (
            body["count"].as_u64(),
            body["events"].as_array().map(Vec::len)
        ),
        (Some(1), Some(1))
    );
    assert_eq!(rows[0].state, "sent");
}

/// 500, then 429 with `Retry-After`, then 200: three attempts, one idempotency key, the row
/// sent. A receiver that is down at first gets its message once it is up.
async fn failures_are_retried_with_one_idempotency_key(url: &str) {
    let receiver = Receiver::start().await;
    receiver.script([
        Reply::Status(500, None),
        Reply::Status(429, Some("1".into())),
    ]);
    let down = dead_addr();
    let channels = vec![
        channel("flaky", ChannelKind::Webhook, receiver.url("/")),
        channel("late", ChannelKind::Webhook, format!("http://{down}/")),
    ];
    let (store, sender) = start(url, config(channels)).await;
    let batch = record(&store, &[("error", "g", "boom")]).await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    let late = Receiver::start_at(down).await;
    let got = receiver.wait_for(3, Duration::from_secs(15)).await;
    let got_late = late.wait_for(1, Duration::from_secs(15)).await;
    let rows = settled(&store, Duration::from_secs(10)).await;
    tokio::time::sleep(Duration::from_millis(1500)).await;
    sender.close().await;
    let key = batch[0].uuid.to_string();
    assert_eq!(receiver.received().len(), 3, "sent once it was accepted");
    assert_eq!(late.received().len(), 1);
    assert!(
        got.iter()
            .chain(&got_late)
            .all(|r| r.header("idempotency-key") == Some(&key))
    );
    // The 429's Retry-After (1 s) was waited for.
    assert!(
        got[2].at - got[1].at >= Duration::from_millis(900),
        "{:?}",
        got[2].at - got[1].at
    );
    let flaky = rows.iter().find(|r| r.channel == "flaky").unwrap();
    assert_eq!(
        (flaky.state.as_str(), flaky.attempts, flaky.failures),
        ("sent", 3, 2)
    );
    let late_row = rows.iter().find(|r| r.channel == "late").unwrap();
    assert_eq!(late_row.state, "sent");
    assert!(late_row.failures >= 1, "{late_row:?}");
}

/// With a digest window, a group's burst is one message counting every event; another
/// group's event is its own message.
async fn a_burst_is_one_digest(url: &str) {
    let receiver = Receiver::start().await;
    let mut hook = channel("digest", ChannelKind::Webhook, receiver.url("/"));
    hook.digest_secs = 2;
    let (store, sender) = start(url, config(vec![hook])).await;
    let burst: Vec<(&str, &str, &str)> =
        (0..120).map(|_| ("error", "burst", "disk error")).collect();
    let first = record(&store, &burst).await;
    record(&store, &[("warning", "other", "slow")]).await;
    let got = receiver.wait_for(2, Duration::from_secs(15)).await;
    let rows = settled(&store, Duration::from_secs(10)).await;
    tokio::time::sleep(Duration::from_millis(1500)).await;
    sender.close().await;
    assert_eq!(receiver.received().len(), 2, "one message per group");
    let digest = got
        .iter()
        .map(Received::json)
        .find(|b| b["group"]["id"] == "burst")
        .unwrap();
    assert_eq!(digest["count"], 120);
    assert_eq!(
        digest["events"].as_array().unwrap().len(),
        eventlog::notify::MAX_LISTED
    );
    assert_eq!(
        digest["uuid"],
        first[0].uuid.to_string(),
        "keyed by its first event"
    );
    assert_eq!(rows.len(), 121);
    assert!(rows.iter().all(|r| r.state == "sent"));
    // Nothing before the window was over.
    assert!(got.iter().all(|r| r.at.elapsed() < Duration::from_secs(30)));
}

/// Over its rate limit a channel waits: two messages within the minute, the rest queued.
async fn rate_limits_hold_messages_back(url: &str) {
    let receiver = Receiver::start().await;
    let mut hook = channel("limited", ChannelKind::Webhook, receiver.url("/"));
    hook.rate_limit_per_minute = 2;
    let (store, sender) = start(url, config(vec![hook])).await;
    let events: Vec<(String, String)> = (0..5)
        .map(|i| (format!("g{i}"), format!("event {i}")))
        .collect();
    let refs: Vec<(&str, &str, &str)> = events
        .iter()
        .map(|(g, m)| ("error", g.as_str(), m.as_str()))
        .collect();
    record(&store, &refs).await;
    receiver.wait_for(2, Duration::from_secs(10)).await;
    tokio::time::sleep(Duration::from_secs(3)).await;
    let rows = store.recent_notices(Some("limited"), 100).await.unwrap();
    sender.close().await;
    assert_eq!(receiver.received().len(), 2);
    let queued = rows.iter().filter(|r| r.state == "queued").count();
    assert_eq!(queued, 3, "{rows:?}");
    assert!(
        rows.iter().all(|r| r.failures == 0),
        "held back, not failed: {rows:?}"
    );
}

/// An event's own channel list replaces the routes by type: a listed channel gets an event
/// of a type it is not routed, an empty list silences an event of a routed type, and names
/// no route has are left out.
async fn an_events_list_replaces_the_routes(url: &str) {
    let receiver = Receiver::start().await;
    let mut errors = channel("errors", ChannelKind::Webhook, receiver.url("/errors"));
    errors.types = vec!["error".into()];
    let all = channel("all", ChannelKind::Webhook, receiver.url("/all"));
    let (store, sender) = start(url, config(vec![errors, all])).await;
    let g = GroupId::named("override").unwrap();
    let mut listed = NewEvent::new("info", g.clone(), "listed");
    listed.notify = Some(vec!["errors".into(), "nosuch".into()]);
    let mut silenced = NewEvent::new("error", g.clone(), "silenced");
    silenced.notify = Some(vec![]);
    let routed = NewEvent::new("error", g, "routed");
    store
        .insert_batch(&[listed, silenced, routed])
        .await
        .unwrap();
    receiver.wait_for(3, Duration::from_secs(10)).await;
    let rows = settled(&store, Duration::from_secs(10)).await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    sender.close().await;
    let mut got: Vec<(String, String)> = receiver
        .received()
        .iter()
        .map(|r| {
            (
                r.path.clone(),
                r.json()["message"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    got.sort();
    let want = [
        ("/all", "routed"),
        ("/errors", "listed"),
        ("/errors", "routed"),
    ];
    let want: Vec<(String, String)> = want
        .iter()
        .map(|(p, m)| (p.to_string(), m.to_string()))
        .collect();
    assert_eq!(got, want);
    assert_eq!(rows.len(), 3);
}

/// Rows queued for a channel that the next server start no longer configures are given up
/// with that reason, not left queued for a sender that will never come.
async fn rows_of_a_removed_channel_are_given_up(url: &str) {
    let store = eventlog::store::open(url).await.unwrap();
    let route = eventlog::store::outbox::NotifyRoute {
        channel: "old".into(),
        event_type: "*".into(),
        delay: Duration::ZERO,
    };
    store.set_notify_routes(&[route]).await.unwrap();
    record(&store, &[("info", "g", "queued for old")]).await;
    let before = store.recent_notices(None, 10).await.unwrap();
    assert_eq!(before.len(), 1);
    assert_eq!(before[0].state, "queued");
    store.set_notify_routes(&[]).await.unwrap();
    let after = store.recent_notices(None, 10).await.unwrap();
    assert_eq!(after[0].state, "given_up");
    assert_eq!(
        after[0].last_error.as_deref(),
        Some("the channel is no longer configured")
    );
}

eventlog_testing::on_both_backends!(
    rows_of_a_removed_channel_are_given_up,
    an_events_list_replaces_the_routes,
    webhooks_are_signed_and_routed_by_type,
    failures_are_retried_with_one_idempotency_key,
    a_burst_is_one_digest,
    rate_limits_hold_messages_back,
);
