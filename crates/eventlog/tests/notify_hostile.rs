//! Hostile and dead notification receivers, on both backends: none may hold the sender, fill
//! its memory, or receive what a redirect asks for; a dead channel does not hold up the others.
#![cfg(feature = "notify")]
#![allow(clippy::unwrap_used)]

use std::time::{Duration, Instant};

use eventlog::notify::ChannelKind;
use eventlog_testing::webhook::{Receiver, Reply};

use crate::notify::{channel, config, record, settled, start};

/// A receiver that never answers, one that streams 200 MB, and one that redirects to another
/// host: the sender is held for at most its timeout, reads a bounded part of the answer,
/// follows no redirect, and keeps the reason. URLs (with their tokens) appear in no reason.
async fn hostile_receivers_cannot_hold_the_sender(url: &str) {
    let slow = Receiver::start().await;
    slow.answer_always(Reply::Slow(Duration::from_secs(60)));
    let huge = Receiver::start().await;
    huge.answer_always(Reply::Huge(200 * 1024 * 1024));
    let elsewhere = Receiver::start().await;
    let redirect = Receiver::start().await;
    redirect.answer_always(Reply::Redirect(elsewhere.url("/stolen")));
    let echo = Receiver::start().await;
    echo.answer_always(Reply::EchoPath(404));
    let channels = vec![
        channel(
            "echo",
            ChannelKind::Webhook,
            echo.url("/hooks/token-echo-s3cr3t"),
        ),
        channel("slow", ChannelKind::Webhook, slow.url("/token-slow")),
        channel("huge", ChannelKind::Webhook, huge.url("/token-huge")),
        channel(
            "redirect",
            ChannelKind::Webhook,
            redirect.url("/token-redirect"),
        ),
    ];
    let mut cfg = config(channels);
    cfg.give_up_after_secs = 2;
    let (store, sender) = start(url, cfg).await;
    let started = Instant::now();
    record(&store, &[("error", "g", "hostile")]).await;
    let rows = settled(&store, Duration::from_secs(20)).await;
    let took = started.elapsed();
    sender.close().await;
    let by = |name: &str| rows.iter().find(|r| r.channel == name).unwrap().clone();
    assert_eq!(
        by("huge").state,
        "sent",
        "a 200 is a 200, however long its body"
    );
    let slow_row = by("slow");
    assert_eq!(slow_row.state, "given_up");
    assert!(
        slow_row
            .last_error
            .as_deref()
            .unwrap()
            .contains("no answer within 1s"),
        "{slow_row:?}"
    );
    let redirect_row = by("redirect");
    assert_eq!(redirect_row.state, "given_up");
    assert!(
        redirect_row
            .last_error
            .as_deref()
            .unwrap()
            .contains("redirects are not followed")
    );
    assert!(
        elsewhere.received().is_empty(),
        "the redirect was not followed"
    );
    let echo_row = by("echo");
    assert_eq!(echo_row.state, "given_up");
    let reason = echo_row.last_error.as_deref().unwrap();
    assert!(
        reason.contains("refused with 404: Cannot POST ***"),
        "{reason}"
    );
    assert!(took < Duration::from_secs(15), "{took:?}");
    for r in &rows {
        let reason = r.last_error.as_deref().unwrap_or_default();
        assert!(
            !reason.contains("token-") && !reason.contains("127.0.0.1"),
            "{reason}"
        );
    }
}

/// A channel whose receiver never answers costs one attempt (one timeout) per retry, not one
/// per queued message, and holds up no other channel: the healthy channel's 10 messages
/// arrive at once while the dead one is tried about once a second, its other rows waiting
/// without counting a failure.
async fn a_dead_channel_does_not_hold_up_the_others(url: &str) {
    let dead = Receiver::start().await;
    dead.answer_always(Reply::Slow(Duration::from_secs(60)));
    let healthy = Receiver::start().await;
    let channels = vec![
        channel("dead", ChannelKind::Webhook, dead.url("/")),
        channel("healthy", ChannelKind::Webhook, healthy.url("/")),
    ];
    let (store, sender) = start(url, config(channels)).await;
    let events: Vec<String> = (0..10).map(|i| format!("g{i}")).collect();
    let batch: Vec<(&str, &str, &str)> = events
        .iter()
        .map(|g| ("error", g.as_str(), "down"))
        .collect();
    let started = Instant::now();
    record(&store, &batch).await;
    healthy.wait_for(10, Duration::from_secs(8)).await;
    let took = started.elapsed();
    tokio::time::sleep(Duration::from_secs(2)).await;
    // Closed first: no attempt is then under way, so each one sent is counted on its row.
    sender.close().await;
    let rows = store.recent_notices(Some("dead"), 100).await.unwrap();
    assert!(took < Duration::from_secs(2), "{took:?}");
    let attempts = dead.received().len();
    assert!(
        (1..=6).contains(&attempts),
        "{attempts} attempts at the dead receiver in {took:?}"
    );
    assert_eq!(
        rows.iter().map(|r| r.failures).sum::<i64>() as usize,
        attempts,
        "{rows:?}"
    );
    assert!(rows.iter().all(|r| r.state == "queued"));
}

/// Channels are sent side by side: a receiver that answers, but slowly, holds up its own
/// channel only, and still gets every message in order.
async fn a_slow_channel_does_not_hold_up_the_others(url: &str) {
    let slow = Receiver::start().await;
    slow.answer_always(Reply::Slow(Duration::from_millis(700)));
    let healthy = Receiver::start().await;
    let channels = vec![
        channel("slow", ChannelKind::Webhook, slow.url("/")),
        channel("healthy", ChannelKind::Webhook, healthy.url("/")),
    ];
    let (store, sender) = start(url, config(channels)).await;
    let groups: Vec<String> = (0..5).map(|i| format!("g{i}")).collect();
    let batch: Vec<(&str, &str, &str)> = groups
        .iter()
        .map(|g| ("error", g.as_str(), g.as_str()))
        .collect();
    let started = Instant::now();
    record(&store, &batch).await;
    healthy.wait_for(5, Duration::from_secs(10)).await;
    let healthy_took = started.elapsed();
    let got = slow.wait_for(5, Duration::from_secs(15)).await;
    settled(&store, Duration::from_secs(10)).await;
    sender.close().await;
    assert!(
        healthy_took < Duration::from_millis(2000),
        "{healthy_took:?}"
    );
    let order: Vec<String> = got
        .iter()
        .map(|r| r.json()["message"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(order, groups, "in order");
}

eventlog_testing::on_both_backends!(
    a_slow_channel_does_not_hold_up_the_others,
    hostile_receivers_cannot_hold_the_sender,
    a_dead_channel_does_not_hold_up_the_others,
);
