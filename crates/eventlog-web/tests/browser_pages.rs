//! Every admin page in real headless Chromium, in one browser session: the phone layout
//! (390 × 844: no sideways scrolling), axe-core accessibility checks (no serious or critical
//! violation, light and dark), the chart covering what the list shows with bars that narrow
//! the list, distinct chart colours in severity order, the group highlight on keyboard focus,
//! and the viewer's time zone option.
//!
//! With `EVENTLOG_SCREENSHOTS=DIR` set, `screenshots` writes the pictures of
//! `docs/screenshots` there (see `docs/screenshots/README.md`).

use crate::common;

use std::collections::BTreeMap;
use std::time::Duration;

use browser_support::*;
use chrono::{DateTime, Utc};
use common::*;
use thirtyfour::components::SelectElement;
use thirtyfour::prelude::*;

use crate::common::browser as browser_support;

/// A year of events: a few a week, in groups, of every default type, with long messages and
/// initiators; the newest is a day old (so "now" is not the end of the data).
fn year_of_events(now: DateTime<Utc>) -> Vec<eventlog::NewEvent> {
    let mut events = Vec::new();
    let types = ["info", "warning", "error", "critical"];
    for i in 0..120i64 {
        let t = now - chrono::Duration::days(1) - chrono::Duration::hours(i * 70);
        let ty = if i % 9 == 0 {
            types[3]
        } else if i % 5 == 0 {
            types[2]
        } else if i % 4 == 0 {
            types[1]
        } else {
            types[0]
        };
        let mut e = ev(
            ty,
            &format!("Order {}", 1000 + i / 3),
            &format!(
                "Payment step {} for the customer's order took longer than expected; retrying with the fallback provider",
                i % 3 + 1
            ),
            t,
        );
        e.initiator = Some(format!("user:{}@customers.example.com", 1_000_000 + i));
        events.push(e);
    }
    events
}

async fn assert_fits(b: &WebDriver, what: &str) {
    let (scroll, inner) = widths(b).await;
    assert!(
        scroll <= inner,
        "{what}: the document is {scroll} px wide in a {inner} px viewport"
    );
}

async fn assert_accessible(b: &WebDriver, what: &str) {
    let v = axe_violations(b).await;
    assert!(
        v.is_empty(),
        "{what}: axe-core found serious violations:\n{}",
        v.join("\n")
    );
}

async fn js<T: serde::de::DeserializeOwned>(b: &WebDriver, script: &str) -> T {
    let v = b.execute(script, Vec::new()).await.unwrap();
    serde_json::from_value(v.json().clone()).unwrap_or_else(|e| panic!("{script}: {e}: {v:?}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn admin_pages_in_chromium() {
    let fx = Fixture::new("sqlite").await;
    let now = Utc::now();
    let events = year_of_events(now);
    let first = events.iter().map(|e| e.timestamp).min().unwrap();
    let ids = fx.insert(events).await;
    let (_driver, b, addr) = open_admin(&fx, None).await;

    // --- Phone: every page fits 390 px and passes axe -------------------------------------
    viewport(&b, 390, 844, true).await;
    b.goto(format!("http://{addr}/login")).await.unwrap();
    assert_fits(&b, "login").await;
    assert_accessible(&b, "login (phone)").await;
    log_in(&b, addr, "alice").await;
    let pages = [
        ("list", "/events".to_owned()),
        ("event page", format!("/events/{}", ids[10])),
        ("groups page", "/groups".to_owned()),
    ];
    for (what, path) in &pages {
        b.goto(format!("http://{addr}{path}")).await.unwrap();
        assert_fits(&b, what).await;
        assert_accessible(&b, &format!("{what} (phone)")).await;
        // The header stays one tidy line: user name and "Log out" side by side.
        let (who, button): (f64, f64) = js(
            &b,
            "return [document.querySelector('.who').getBoundingClientRect().top, \
             document.querySelector('.logout button').getBoundingClientRect().top];",
        )
        .await;
        assert!((who - button).abs() < 12.0, "{what}: {who} vs {button}");
    }
    b.goto(format!("http://{addr}/events")).await.unwrap();
    // Filters fold away on a phone; the search stays.
    let open: bool = js(&b, "return document.querySelector('details.more').open;").await;
    assert!(!open, "filters are folded on a phone");
    assert!(
        b.find(By::Css("input[type=search]"))
            .await
            .unwrap()
            .is_displayed()
            .await
            .unwrap()
    );
    // Legend entries never wrap inside themselves.
    let heights: Vec<f64> = js(
        &b,
        "return Array.from(document.querySelectorAll('figcaption .legend, figcaption time')).map(function (e) { return e.getBoundingClientRect().height; });",
    )
    .await;
    assert!(!heights.is_empty());
    assert!(heights.iter().all(|h| *h < 22.0), "{heights:?}");

    // --- Desktop, light and dark: axe on every page ----------------------------------------
    viewport(&b, 1280, 800, false).await;
    for dark in [false, true] {
        color_scheme(&b, dark).await;
        for (what, path) in &pages {
            b.goto(format!("http://{addr}{path}")).await.unwrap();
            assert_fits(&b, what).await;
            assert_accessible(&b, &format!("{what} (desktop, dark: {dark})")).await;
        }
    }
    color_scheme(&b, false).await;

    // --- The chart covers the data's extent for "Any time" -------------------------------
    b.goto(format!("http://{addr}/events")).await.unwrap();
    let from: String = js(
        &b,
        "return document.querySelector('figcaption .from time').getAttribute('datetime');",
    )
    .await;
    assert_eq!(
        DateTime::parse_from_rfc3339(&from).unwrap().timestamp(),
        first.timestamp(),
        "the chart starts at the first event"
    );
    let count = text_of(&b, By::Id("event-count")).await;
    assert_eq!(count, "120 events");
    // The newest bar reaches the right edge: the chart ends at the data, not at "now".
    let right: f64 = js(
        &b,
        "var r = Array.from(document.querySelectorAll('figure.chart rect.hit')).pop(); \
         return parseFloat(r.getAttribute('x')) + parseFloat(r.getAttribute('width'));",
    )
    .await;
    assert!(right > 980.0, "{right}");
    // Legend in severity order; error and critical have distinct colours.
    let legend: Vec<String> = js(
        &b,
        "return Array.from(document.querySelectorAll('figcaption .legend')).map(function (e) { return e.textContent.trim(); });",
    )
    .await;
    assert_eq!(legend, ["Info", "Warning", "Error", "Critical"]);
    let swatches: BTreeMap<String, String> = js(
        &b,
        "var o = {}; document.querySelectorAll('figcaption .legend i').forEach(function (i) { \
         o[i.className] = getComputedStyle(i).backgroundColor; }); return o;",
    )
    .await;
    assert_ne!(swatches["swatch-error"], swatches["swatch-critical"]);
    let distinct: std::collections::BTreeSet<&String> = swatches.values().collect();
    assert_eq!(distinct.len(), 4, "{swatches:?}");

    // --- Clicking a bar narrows the list to its bucket -----------------------------------
    let bars = b.find_all(By::Css("figure.chart svg a")).await.unwrap();
    let bar = &bars[bars.len() / 2];
    let label = bar.attr("aria-label").await.unwrap().unwrap();
    let expected: usize = label.split(' ').next().unwrap().parse().unwrap();
    bar.click().await.unwrap();
    b.query(By::Css("p.chips, details.more"))
        .wait(Duration::from_secs(5), Duration::from_millis(50))
        .first()
        .await
        .unwrap();
    let url = b.current_url().await.unwrap();
    let query: BTreeMap<String, String> = url.query_pairs().into_owned().collect();
    assert!(
        query.contains_key("since") && query.contains_key("until"),
        "{url}"
    );
    let rows = b.find_all(By::Css("#event-rows tr")).await.unwrap();
    assert_eq!(rows.len(), expected, "{label}: {url}");
    let since = DateTime::parse_from_rfc3339(&format!("{}:00Z", query["since"])).unwrap();
    let until = DateTime::parse_from_rfc3339(&format!("{}:00Z", query["until"])).unwrap();
    for r in &rows {
        let t = attr(&r.find(By::Css("time")).await.unwrap(), "datetime").await;
        let t = DateTime::parse_from_rfc3339(&t).unwrap();
        assert!(since <= t && t < until, "{t} in {since}..{until}");
    }
    // The filter form shows the bucket.
    let shown = attr(&element(&b, By::Name("since")).await, "value").await;
    assert_eq!(shown, query["since"]);
    // The narrowed chart covers exactly the bucket.
    let from: String = js(
        &b,
        "return document.querySelector('figcaption .from time').getAttribute('datetime');",
    )
    .await;
    assert_eq!(DateTime::parse_from_rfc3339(&from).unwrap(), since);

    // --- Keyboard focus highlights the group like hovering --------------------------------
    b.goto(format!("http://{addr}/events")).await.unwrap();
    let group: String = js(
        &b,
        "var r = document.querySelector('#event-rows tr:nth-child(2)'); \
         r.querySelector('td.message a').focus(); return r.dataset.group;",
    )
    .await;
    let hl = b.find_all(By::Css("#event-rows tr.hl")).await.unwrap();
    let same = b
        .find_all(By::Css(format!("#event-rows tr[data-group='{group}']")))
        .await
        .unwrap();
    assert!(!hl.is_empty());
    assert_eq!(hl.len(), same.len());
    for r in &hl {
        assert_eq!(attr(r, "data-group").await, group);
    }
    let live = attr(&element(&b, By::Id("event-rows")).await, "aria-live").await;
    assert_eq!(live, "polite");

    // --- Times: relative, absolute on hover and in the text; the viewer's zone ------------
    let title = |b: WebDriver| async move {
        js::<(String, String, String)>(
            &b,
            "var t = document.querySelector('#event-rows time'); \
             return [t.getAttribute('title'), t.querySelector('.vh').textContent, t.childNodes[0].textContent];",
        )
        .await
    };
    let (abs, hidden, rel) = title(b.clone()).await;
    assert!(abs.ends_with(" UTC"), "{abs}");
    assert_eq!(hidden, format!(" ({abs})"));
    assert!(rel.ends_with(" ago"), "{rel}");
    b.cdp()
        .send_raw(
            "Emulation.setTimezoneOverride",
            serde_json::json!({"timezoneId": "Asia/Kolkata"}),
        )
        .await
        .unwrap();
    b.refresh().await.unwrap();
    let select = b.find(By::Id("tz-select")).await.unwrap();
    assert!(
        select.is_displayed().await.unwrap(),
        "the option shows with JS"
    );
    SelectElement::new(&select)
        .await
        .unwrap()
        .select_by_value("local")
        .await
        .unwrap();
    let (abs, hidden, _) = title(b.clone()).await;
    assert!(abs.ends_with(" UTC+05:30"), "{abs}");
    assert_eq!(hidden, format!(" ({abs})"));
    // Remembered on the next page.
    b.goto(format!("http://{addr}/groups")).await.unwrap();
    let group_title: String = js(
        &b,
        "return document.querySelector('table.groups time').getAttribute('title');",
    )
    .await;
    assert!(group_title.ends_with(" UTC+05:30"), "{group_title}");
    b.quit().await.unwrap();
}

/// The pictures in `docs/screenshots`: list, event page and groups page at desktop
/// (1280 × 800) and phone (390 × 844) size, light and dark. Runs only with
/// `EVENTLOG_SCREENSHOTS=DIR`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn screenshots() {
    let Ok(dir) = std::env::var("EVENTLOG_SCREENSHOTS") else {
        return;
    };
    let dir = std::path::PathBuf::from(dir);
    std::fs::create_dir_all(&dir).unwrap();
    let fx = Fixture::new("sqlite").await;
    let ids = fx.insert(year_of_events(Utc::now())).await;
    let (_driver, b, addr) = open_admin(&fx, Some("alice")).await;
    let pages = [
        ("events", "/events".to_owned()),
        ("event", format!("/events/{}", ids[7])),
        ("groups", "/groups".to_owned()),
    ];
    for (size, (w, h, mobile)) in [("desktop", (1280, 800, false)), ("phone", (390, 844, true))] {
        viewport(&b, w, h, mobile).await;
        for dark in [false, true] {
            color_scheme(&b, dark).await;
            for (name, path) in &pages {
                b.goto(format!("http://{addr}{path}")).await.unwrap();
                let scheme = if dark { "dark" } else { "light" };
                b.screenshot(&dir.join(format!("{name}-{size}-{scheme}.png")))
                    .await
                    .unwrap();
            }
        }
    }
    b.quit().await.unwrap();
}
