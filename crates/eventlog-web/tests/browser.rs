//! The admin in real headless Chromium: hover highlight of a group, JSON pretty-printing, the
//! live tail, dark mode. Needs `/usr/bin/chromedriver` and Chromium (Debian packages
//! `chromium`, `chromium-driver`); a missing driver fails the test with a message.
//! The screenshots in `docs/screenshots` come from `browser_pages.rs`.

use crate::common;
use std::time::Duration;

use browser_support::*;
use chrono::Utc;
use common::*;
use thirtyfour::prelude::*;

use crate::common::browser as browser_support;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hovering_a_row_highlights_its_whole_group() {
    let fx = Fixture::new("sqlite").await;
    let t = Utc::now() - chrono::Duration::minutes(10);
    let s = |n| t + chrono::Duration::seconds(n);
    fx.insert(vec![
        ev("info", "Alpha", "a1", s(1)),
        ev("info", "Beta", "b1", s(2)),
        ev("error", "Alpha", "a2", s(3)),
        ev("info", "Beta", "b2", s(4)),
        ev("info", "Alpha", "a3", s(5)),
    ])
    .await;
    let (_driver, b, _) = open_admin(&fx, Some("victor")).await;
    hover(&b, By::Css("tr[data-group='Alpha'] td.message")).await;
    let hl = b.find_all(By::Css("tr.hl")).await.unwrap();
    let mut groups = Vec::new();
    for r in &hl {
        groups.push(attr(r, "data-group").await);
    }
    assert_eq!(groups, ["Alpha", "Alpha", "Alpha"]);
    let bg = hl[0]
        .find(By::Css("td"))
        .await
        .unwrap()
        .css_value("background-color")
        .await
        .unwrap();
    let other = b.find(By::Css("tr[data-group='Beta'] td")).await.unwrap();
    assert_ne!(
        bg,
        other.css_value("background-color").await.unwrap(),
        "highlight is visible"
    );
    // Moving to a Beta row moves the highlight.
    hover(&b, By::Css("tr[data-group='Beta'] td.message")).await;
    let hl = b.find_all(By::Css("tr.hl")).await.unwrap();
    assert_eq!(hl.len(), 2);
    assert_eq!(attr(&hl[0], "data-group").await, "Beta");
    b.quit().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn event_data_is_pretty_printed() {
    let fx = Fixture::new("sqlite").await;
    let mut e = ev("info", "J", "with data", Utc::now());
    e.data = Some(serde_json::json!({"order": {"id": 42, "items": ["a", "b"]}, "ok": true}));
    let ids = fx.insert(vec![e]).await;
    let (_driver, b, addr) = open_admin(&fx, Some("victor")).await;
    b.goto(format!("http://{addr}/events/{}", ids[0]))
        .await
        .unwrap();
    let text = text_of(&b, By::Id("event-data")).await;
    assert_eq!(
        text,
        "{\n  \"order\": {\n    \"id\": 42,\n    \"items\": [\n      \"a\",\n      \"b\"\n    ]\n  },\n  \"ok\": true\n}"
    );
    b.quit().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn live_tail_shows_an_event_logged_after_the_page_loaded() {
    let fx = Fixture::new("sqlite").await;
    fx.insert(vec![ev("info", "L", "already there", Utc::now())])
        .await;
    let (_driver, b, _) = open_admin(&fx, Some("victor")).await;
    click(&b, By::Id("live-tail")).await;
    // Give the EventSource a moment to connect, then log an event.
    tokio::time::sleep(Duration::from_millis(300)).await;
    fx.insert(vec![ev("error", "L", "logged later", Utc::now())])
        .await;
    let row = b
        .query(By::XPath(
            "//tbody[@id='event-rows']/tr[1]//td[@class='message']",
        ))
        .with_text("logged later")
        .wait(Duration::from_secs(10), Duration::from_millis(100))
        .first()
        .await
        .expect("the new event appears at the top without a reload");
    assert_eq!(row.text().await.unwrap(), "logged later");
    let rows = b.find_all(By::Css("#event-rows tr")).await.unwrap();
    assert_eq!(rows.len(), 2);
    b.quit().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dark_mode_follows_the_browser() {
    let fx = Fixture::new("sqlite").await;
    fx.insert(vec![ev("info", "D", "dark", Utc::now())]).await;
    let (_driver, b, _) = open_admin(&fx, Some("victor")).await;
    let body_bg = |b: &WebDriver| {
        let b = b.clone();
        async move {
            b.find(By::Tag("body"))
                .await
                .unwrap()
                .css_value("background-color")
                .await
                .unwrap()
        }
    };
    let light = body_bg(&b).await;
    assert_eq!(light, "rgba(255, 255, 255, 1)");
    b.cdp()
        .send_raw(
            "Emulation.setEmulatedMedia",
            serde_json::json!({"features": [{"name": "prefers-color-scheme", "value": "dark"}]}),
        )
        .await
        .unwrap();
    let dark = body_bg(&b).await;
    assert_eq!(dark, "rgba(13, 17, 23, 1)");
    b.quit().await.unwrap();
}

/// Installed in every new document before its own scripts run: collects the
/// Content-Security-Policy violations the page reports.
const CSP_LISTENER: &str = "window.__csp = []; document.addEventListener('securitypolicyviolation', \
    function (e) { window.__csp.push(e.violatedDirective + ' ' + e.blockedURI + ' ' + e.sourceFile + ':' + e.lineNumber); });";

async fn csp_violations(b: &WebDriver) -> Vec<String> {
    let v = b
        .execute("return window.__csp || null;", Vec::new())
        .await
        .unwrap();
    serde_json::from_value(v.json().clone()).expect("the CSP listener is installed")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn type_colours_apply_under_the_content_security_policy() {
    let fx = Fixture::new("sqlite").await;
    let ids = fx
        .insert_ago(&[
            ("info", "Order 9", "started", 3),
            ("error", "Order 9", "failed", 2),
            ("critical", "Order 9", "on fire", 1),
        ])
        .await;
    let (_driver, b, addr) = open_admin(&fx, None).await;
    b.cdp()
        .send_raw(
            "Page.addScriptToEvaluateOnNewDocument",
            serde_json::json!({ "source": CSP_LISTENER }),
        )
        .await
        .unwrap();
    log_in(&b, addr, "victor").await;

    // Default types: error is red text (on a white label), critical white on red (from
    // /static/types.css).
    // The chart legend's swatch takes the type's colour from a class too.
    for (selector, property, colour) in [
        (
            "#event-rows span.label.type-critical",
            "color",
            "rgba(255, 255, 255, 1)",
        ),
        (
            "#event-rows span.label.type-critical",
            "background-color",
            "rgba(196, 0, 0, 1)",
        ),
        (
            "#event-rows span.label.type-error",
            "color",
            "rgba(196, 0, 0, 1)",
        ),
        (
            ".legend i.swatch-critical",
            "background-color",
            "rgba(196, 0, 0, 1)",
        ),
    ] {
        let shown = element(&b, By::Css(selector)).await;
        assert_eq!(
            shown.css_value(property).await.unwrap(),
            colour,
            "{property} of {selector}"
        );
    }
    assert_eq!(csp_violations(&b).await, Vec::<String>::new(), "list page");

    for path in [format!("/events/{}", ids[2]), "/groups".to_owned()] {
        b.goto(format!("http://{addr}{path}")).await.unwrap();
        let label = b.find(By::Css("span.label.type-critical")).await.unwrap();
        assert_eq!(
            label.css_value("background-color").await.unwrap(),
            "rgba(196, 0, 0, 1)",
            "{path}"
        );
        assert_eq!(csp_violations(&b).await, Vec::<String>::new(), "{path}");
    }

    // The policy is enforced and the listener sees it: an inline style attribute is blocked
    // and reported.
    b.execute(
        "var p = document.createElement('p'); p.setAttribute('style', 'color: blue'); \
         p.id = 'styled'; document.body.appendChild(p);",
        Vec::new(),
    )
    .await
    .unwrap();
    let mut reported = Vec::new();
    for _ in 0..50 {
        reported = csp_violations(&b).await;
        if !reported.is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(
        reported.iter().any(|v| v.starts_with("style-src")),
        "{reported:?}"
    );
    let styled = b.find(By::Id("styled")).await.unwrap();
    assert_ne!(
        styled.css_value("color").await.unwrap(),
        "rgba(0, 0, 255, 1)",
        "inline style is blocked"
    );
    b.quit().await.unwrap();
}
