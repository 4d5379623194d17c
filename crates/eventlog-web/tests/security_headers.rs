//! Security headers on admin and API responses, and pages that work under the
//! Content-Security-Policy (no `style=` attributes, no inline script; type colours from the
//! generated `/static/types.css`).

use crate::common;

use axum::http::StatusCode;
use chrono::Utc;
use common::*;
use eventlog::{EventType, EventTypes};

const CSP: &str = "default-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'";

fn colourful_types() -> EventTypes {
    EventTypes::new(vec![
        EventType::new("info", "Info"),
        EventType::new("mail_sent", "Mail sent").with_colors(Some("#fff"), Some("rgb(0, 128, 0)")),
        EventType::new("error", "Error").with_colors(Some("red"), None),
        EventType::new("critical", "Critical").with_colors(Some("white"), Some("#c00")),
    ])
    .expect("valid types")
}

fn assert_security_headers(r: &Resp, what: &str) {
    let h = |name: &str| {
        r.headers
            .get(name)
            .unwrap_or_else(|| panic!("{what}: no {name} header"))
            .to_str()
            .unwrap()
            .to_owned()
    };
    assert_eq!(h("content-security-policy"), CSP, "{what}");
    assert_eq!(h("x-frame-options"), "DENY", "{what}");
    assert_eq!(h("x-content-type-options"), "nosniff", "{what}");
    assert_eq!(h("referrer-policy"), "same-origin", "{what}");
}

fn assert_no_store(r: &Resp, what: &str) {
    let cc = r
        .headers
        .get("cache-control")
        .unwrap_or_else(|| panic!("{what}: no cache-control"))
        .to_str()
        .unwrap();
    assert!(cc.contains("no-store"), "{what}: cache-control {cc}");
}

/// Nothing a strict CSP would block: no `style=` attribute, no `<style>` element, no inline
/// script body, no `on…=` handler attribute.
fn assert_csp_clean(html: &str, what: &str) {
    let lower = html.to_ascii_lowercase();
    assert!(
        !lower.contains("style="),
        "{what}: style attribute in {html}"
    );
    assert!(
        !lower.contains("<style"),
        "{what}: <style> element in {html}"
    );
    for (i, _) in lower.match_indices("<script") {
        let tag_end = i + lower[i..].find('>').expect("closed script tag");
        assert!(
            lower[..tag_end].rfind("src=").is_some_and(|s| s > i),
            "{what}: script without src in {html}"
        );
        assert!(
            lower[tag_end + 1..].starts_with("</script>"),
            "{what}: inline script body in {html}"
        );
    }
    for attr in [
        " onclick=",
        " onload=",
        " onerror=",
        " onchange=",
        " onsubmit=",
    ] {
        assert!(!lower.contains(attr), "{what}: {attr} handler in {html}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_response_carries_the_security_headers() {
    let fx = Fixture::new("sqlite").await;
    let ids = fx
        .insert_ago(&[
            ("info", "Order 1", "started", 3),
            ("mail_sent", "Order 1", "mailed", 2),
            ("critical", "Order 1", "on fire", 1),
            ("legacy_kind", "Order 2", "old", 1),
        ])
        .await;
    let state = eventlog_web::AppState::builder(fx.store.clone(), colourful_types()).build();
    let mut c = Client::new(eventlog_web::app(state));

    // Anonymous: the login page and the redirect to it.
    let login = c.get("/login").await;
    assert_eq!(login.status, StatusCode::OK);
    assert_security_headers(&login, "login page");
    assert_no_store(&login, "login page");
    assert_csp_clean(&login.body, "login page");
    let redirect = c.get("/events").await;
    assert_eq!(redirect.status, StatusCode::SEE_OTHER);
    assert_security_headers(&redirect, "redirect to login");

    let r = c.login("alice", PASSWORD).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);

    let event = format!("/events/{}", ids[2]);
    let delete = format!("/events/delete?id={}", ids[1]);
    for path in [
        "/events",
        "/events?type=mail_sent",
        event.as_str(),
        "/groups",
        delete.as_str(),
    ] {
        let r = c.get(path).await;
        assert_eq!(r.status, StatusCode::OK, "{path}: {}", r.body);
        assert_security_headers(&r, path);
        assert_no_store(&r, path);
        assert_csp_clean(&r.body, path);
    }
    // Configured colours are classes on the labels, in every view that shows them.
    let list = c.get("/events").await;
    assert!(list.body.contains("type-mail_sent"), "{}", list.body);
    assert!(list.body.contains("type-critical"), "{}", list.body);
    let groups = c.get("/groups").await;
    assert!(groups.body.contains("type-critical"), "{}", groups.body);
    let page = c.get(&event).await;
    assert!(page.body.contains("type-critical"), "{}", page.body);
    assert!(page.body.contains("/static/types.css"), "{}", page.body);

    for path in ["/events/export?format=csv", "/events/export?format=jsonl"] {
        let r = c.get(path).await;
        assert_eq!(r.status, StatusCode::OK, "{path}");
        assert_security_headers(&r, path);
        assert_no_store(&r, path);
    }

    // Error pages too.
    let missing = c.get("/events/999999").await;
    assert_eq!(missing.status, StatusCode::NOT_FOUND);
    assert_security_headers(&missing, "404 page");
    assert_csp_clean(&missing.body, "404 page");

    // API reads (token auth) are never cached either.
    let token = fx
        .store
        .create_token("reader", eventlog::store::TokenScope::All)
        .await
        .unwrap();
    for path in ["/api/v1/events", &format!("/api/v1/events/{}", ids[0])] {
        let req = c
            .request("GET", path)
            .header("authorization", format!("Bearer {token}"))
            .body(axum::body::Body::empty())
            .unwrap();
        let r = c.send(req).await;
        assert_eq!(r.status, StatusCode::OK, "{path}: {}", r.body);
        assert_security_headers(&r, path);
        assert_no_store(&r, path);
    }

    // Static assets keep their own, cacheable policy.
    for path in ["/static/admin.css", "/static/admin.js", "/static/types.css"] {
        let r = c.get(path).await;
        assert_eq!(r.status, StatusCode::OK, "{path}");
        assert_security_headers(&r, path);
        let cc = r.headers["cache-control"].to_str().unwrap();
        assert!(!cc.contains("no-store"), "{path}: {cc}");
        assert_eq!(r.headers["x-content-type-options"], "nosniff");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn types_css_carries_the_configured_colours() {
    let fx = Fixture::new("sqlite").await;
    let state = eventlog_web::AppState::builder(fx.store.clone(), colourful_types()).build();
    let mut c = Client::new(eventlog_web::app(state));
    // Public like the other assets: the login page needs no colours, but a stylesheet must
    // not redirect to a login page.
    let r = c.get("/static/types.css").await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.headers["content-type"], "text/css; charset=utf-8");
    let css = r.body;
    assert!(
        css.contains(".type-mail_sent { color: #fff; background: rgb(0, 128, 0); }"),
        "{css}"
    );
    // A text colour alone is drawn on white, so its contrast is the same in both themes.
    assert!(
        css.contains(".type-error { color: red; background: #ffffff; border-color: transparent; }"),
        "{css}"
    );
    assert!(
        css.contains(".type-critical { color: white; background: #c00; }"),
        "{css}"
    );
    // A type without colours gets no label rule, only its chart swatch.
    assert!(!css.contains(".type-info {"), "{css}");
    assert!(css.contains(".swatch-info {"), "{css}");
    assert!(
        css.contains(".swatch-critical { background: #cc0000; }"),
        "{css}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_chart_legend_uses_classes_not_style_attributes() {
    let fx = Fixture::new("sqlite").await;
    let now = Utc::now();
    fx.insert(vec![
        ev("mail_sent", "g", "a", now - chrono::Duration::hours(2)),
        ev("legacy_kind", "g", "b", now - chrono::Duration::hours(1)),
    ])
    .await;
    let state = eventlog_web::AppState::builder(fx.store.clone(), colourful_types()).build();
    let mut c = Client::new(eventlog_web::app(state));
    c.login("alice", PASSWORD).await;
    let list = c.get("/events").await;
    assert!(
        list.body.contains("<figure class=\"chart\">"),
        "{}",
        list.body
    );
    assert!(list.body.contains("swatch-mail_sent"), "{}", list.body);
    assert_csp_clean(&list.body, "list with chart");
}
