//! What a new user meets in the first hour: a group of one instant says so, and a very long
//! initiator does not squeeze the message column of the list (real Chromium).

use crate::common;
use crate::common::browser as browser_support;

use browser_support::*;
use chrono::Utc;
use common::*;
use thirtyfour::prelude::*;

/// Four events in the same second read "4 events at the same time", never "over - same
/// time"; a group over a while still reads "over …".
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_group_of_one_instant_says_at_the_same_time() {
    let fx = Fixture::new("sqlite").await;
    let now = Utc::now();
    let instant = now - chrono::Duration::minutes(5);
    let mut events: Vec<_> = (0..4)
        .map(|i| ev("info", "Instant", &format!("step {i}"), instant))
        .collect();
    // Sub-second apart still counts as the same second.
    events[3].timestamp = instant + chrono::Duration::milliseconds(300);
    events.push(ev(
        "info",
        "Long",
        "start",
        now - chrono::Duration::hours(2),
    ));
    events.push(ev("info", "Long", "end", now));
    let ids = fx.insert(events).await;
    let mut c = Client::new(fx.router());
    c.login("victor", PASSWORD).await;
    let page = c.get(&format!("/events/{}", ids[0])).await;
    assert!(
        page.body.contains("</a> · 4 events at the same time</p>"),
        "{}",
        page.body
    );
    assert!(!page.body.contains("over - same time"));
    let page = c.get(&format!("/events/{}", ids[4])).await;
    assert!(
        page.body.contains("</a> · 2 events over 2h"),
        "{}",
        page.body
    );
}

/// A 500-character initiator (the longest allowed) leaves the message most of the row on a
/// desktop-wide list.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_long_initiator_leaves_the_message_its_width() {
    let fx = Fixture::new("sqlite").await;
    let mut event = ev(
        "info",
        "Wide",
        "A message of several words that should read on one or two lines",
        Utc::now(),
    );
    event.initiator = Some("service-account ".repeat(32)[..500].to_owned());
    fx.insert(vec![event]).await;
    let (_driver, b, addr) = open_admin(&fx, Some("alice")).await;
    b.goto(format!("http://{addr}/events")).await.unwrap();
    let v = b
        .execute(
            "const m = document.querySelector('td.message').getBoundingClientRect(); \
             const i = document.querySelector('td.initiator').getBoundingClientRect(); \
             return [m.width, i.width, i.height];",
            Vec::new(),
        )
        .await
        .unwrap();
    let [message, initiator, initiator_height]: [f64; 3] =
        serde_json::from_value(v.json().clone()).unwrap();
    assert!(
        message > 400.0,
        "the message column is {message} px wide beside a {initiator} px initiator"
    );
    assert!(
        initiator_height < 60.0,
        "the initiator takes {initiator_height} px of height"
    );
    let title = element(&b, By::Css("td.initiator a"))
        .await
        .attr("title")
        .await
        .unwrap();
    assert_eq!(
        title.map(|t| t.len()),
        Some(500),
        "the full initiator is its title"
    );
}
