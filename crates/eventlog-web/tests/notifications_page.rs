//! The admin's notifications page: admins only, channels by name (never their URLs), recent
//! deliveries with their state and reason, and a CSRF-protected "send a test" that really
//! posts to a receiver on loopback. Both backends.

use std::sync::Arc;
use std::time::Duration;

use axum::http::StatusCode;
use eventlog::notify::{ChannelConfig, ChannelKind, NotifyConfig, NotifySender};
use eventlog_testing::webhook::{Receiver, Reply};

use crate::common::*;

async fn notifications_page_is_for_admins_and_tests_with_csrf(backend: &str) {
    let fx = Fixture::new(backend).await;
    let receiver = Receiver::start().await;
    let config = NotifyConfig {
        timeout_secs: 2,
        channels: vec![ChannelConfig {
            name: "chat".into(),
            kind: ChannelKind::Slack,
            url: receiver.url("/services/T0/B0/secret-token-path"),
            secret: None,
            types: vec!["error".into()],
            digest_secs: 0,
            rate_limit_per_minute: 0,
        }],
        ..NotifyConfig::default()
    };
    let sender = Arc::new(
        NotifySender::start(fx.store.clone(), config, eventlog::EventTypes::default())
            .await
            .unwrap(),
    );
    let router = eventlog_web::app(fx.builder().notifier(sender.clone()).build());

    let mut viewer = Client::new(router.clone());
    viewer.login("victor", PASSWORD).await;
    assert_eq!(
        viewer.get("/notifications").await.status,
        StatusCode::FORBIDDEN
    );
    let csrf = viewer.csrf().await;
    let r = viewer
        .post("/notifications", &[("csrf", &csrf), ("channel", "chat")])
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);

    let mut admin = Client::new(router);
    admin.login("alice", PASSWORD).await;
    let page = admin.get("/notifications").await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(
        page.body.contains("<td>chat</td><td>slack</td>"),
        "{}",
        page.body
    );
    assert!(page.body.contains("Send a test"));
    let port = receiver.addr.port().to_string();
    assert!(
        !page.body.contains("secret-token-path") && !page.body.contains(&port),
        "no URL on the page"
    );
    let r = admin
        .post("/notifications", &[("csrf", "forged"), ("channel", "chat")])
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    let r = admin
        .post(
            "/notifications",
            &[("csrf", &hidden(&page.body, "csrf")), ("channel", "nope")],
        )
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert!(
        receiver.received().is_empty(),
        "nothing sent without a valid form"
    );
    let r = admin
        .post(
            "/notifications",
            &[("csrf", &hidden(&page.body, "csrf")), ("channel", "chat")],
        )
        .await;
    assert_eq!(r.status, StatusCode::OK);
    assert!(
        r.body
            .contains("Test sent to chat: the receiver answered 200."),
        "{}",
        r.body
    );
    let got = receiver.received();
    assert_eq!(got.len(), 1);
    assert!(
        got[0].json()["text"]
            .as_str()
            .unwrap()
            .contains("A test message")
    );

    // A failing receiver: the test says so, with the status and without the URL.
    receiver.answer_always(Reply::Status(404, None));
    let r = admin
        .post(
            "/notifications",
            &[("csrf", &hidden(&page.body, "csrf")), ("channel", "chat")],
        )
        .await;
    assert!(
        r.body
            .contains("Test to chat failed: the receiver answered 404."),
        "{}",
        r.body
    );
    assert!(!r.body.contains("secret-token-path"));

    // A real delivery, given up on the 404, is listed with its reason.
    fx.insert(vec![ev("error", "G", "disk full", eventlog::event::now())])
        .await;
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    loop {
        let page = admin.get("/notifications?channel=chat").await;
        if page.body.contains("<td>given up</td>") {
            assert!(
                page.body.contains("the receiver refused with 404"),
                "{}",
                page.body
            );
            break;
        }
        assert!(std::time::Instant::now() < deadline, "{}", page.body);
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let long = format!("/notifications?channel={}", "x".repeat(100));
    assert_eq!(admin.get(&long).await.status, StatusCode::BAD_REQUEST);
    sender.close().await;
}

eventlog_testing::on_both_backends!(
    backend: notifications_page_is_for_admins_and_tests_with_csrf,
);
