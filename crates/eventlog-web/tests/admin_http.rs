// Over 500 lines on purpose: every admin route and permission around one fixture.
//! HTTP-level tests of every admin route, permission and filter, on SQLite and PostgreSQL.

use crate::common;

use std::time::Duration;

use axum::http::StatusCode;
use chrono::{DateTime, Datelike, Utc};
use common::*;
use eventlog::GroupId;

eventlog_testing::on_both_backends!(
    backend: healthz_needs_no_login_everything_else_does,
    login_sets_a_safe_cookie_and_logout_ends_the_session,
    login_checks_csrf_and_password_and_is_rate_limited,
    list_shows_columns_and_filters_work,
    pagination_follows_the_cursor,
    event_page_shows_group_overview_and_pretty_data,
    delete_is_admin_only_and_needs_confirmation_and_csrf,
    groups_page_shows_status_and_filters,
    export_csv_and_jsonl_follow_the_filter,
    live_tail_streams_new_events,
    user_supplied_text_is_escaped,
    mounts_under_a_prefix,
    bad_input_is_a_400_naming_the_parameter,
    list_says_how_many_events_match_up_to_a_bound,
    a_big_group_shows_a_window_with_paging_links,
);

async fn healthz_needs_no_login_everything_else_does(backend: &str) {
    let fx = Fixture::new(backend).await;
    let mut c = Client::new(fx.router());
    let r = c.get("/healthz").await;
    assert_eq!((r.status, r.body.as_str()), (StatusCode::OK, "ok"));
    for path in [
        "/events",
        "/events/1",
        "/events/delete?id=1",
        "/groups",
        "/events/export?format=csv",
        "/events/stream",
    ] {
        let r = c.get(path).await;
        assert_eq!(r.status, StatusCode::SEE_OTHER, "{path}");
        assert!(
            r.location().starts_with("/login?next="),
            "{path}: {}",
            r.location()
        );
    }
    let r = c.get("/").await;
    assert_eq!(r.location(), "/events");
    for path in ["/events/delete", "/logout"] {
        let r = c.post(path, &[("id", "1")]).await;
        assert_eq!(r.status, StatusCode::SEE_OTHER, "{path}");
        assert!(r.location().starts_with("/login"), "{path}");
    }
    let css = c.get("/static/admin.css").await;
    assert!(css.body.contains("prefers-color-scheme: dark"));
}

async fn login_sets_a_safe_cookie_and_logout_ends_the_session(backend: &str) {
    let fx = Fixture::new(backend).await;
    let mut c = Client::new(fx.router());
    let r = c.login("alice", PASSWORD).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    assert_eq!(r.location(), "/events");
    let session = r
        .set_cookies()
        .into_iter()
        .find(|c| c.starts_with("eventlog_session="))
        .expect("session cookie");
    assert!(session.contains("HttpOnly"), "{session}");
    assert!(session.contains("SameSite=Lax"), "{session}");
    assert!(session.contains("Path=/;"), "{session}");
    let list = c.get("/events").await;
    assert_eq!(list.status, StatusCode::OK);
    assert!(list.body.contains("alice (admin)"));
    // Logout needs the CSRF token.
    let r = c.post("/logout", &[("csrf", "forged")]).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    assert!(r.body.contains("CSRF token mismatch"));
    let token = c.cookies["eventlog_session"].clone();
    let csrf = c.csrf().await;
    let r = c.post("/logout", &[("csrf", &csrf)]).await;
    assert_eq!(r.location(), "/login");
    assert!(!c.cookies.contains_key("eventlog_session"));
    // The old token no longer works even if replayed.
    c.cookies.insert("eventlog_session".into(), token);
    assert_eq!(c.get("/events").await.status, StatusCode::SEE_OTHER);
    // `next` brings the user back to where they were going.
    let mut c = Client::new(fx.router());
    let r = c.get("/groups?q=x").await;
    assert_eq!(r.location(), "/login?next=%2Fgroups%3Fq%3Dx");
    let page = c.get(&r.location()["".len()..]).await;
    let csrf = hidden(&page.body, "csrf");
    let r = c
        .post(
            "/login",
            &[
                ("username", "victor"),
                ("password", PASSWORD),
                ("csrf", &csrf),
                ("next", "/groups?q=x"),
            ],
        )
        .await;
    assert_eq!(r.location(), "/groups?q=x");
}

async fn login_checks_csrf_and_password_and_is_rate_limited(backend: &str) {
    let fx = Fixture::new(backend).await;
    let throttle = |burst| eventlog_web::auth::Throttle {
        burst,
        period: Duration::from_secs(60),
    };
    let state = fx
        .builder()
        .login_limits(eventlog_web::auth::LoginLimits {
            per_user: throttle(3),
            per_address: throttle(100),
            ..Default::default()
        })
        .build();
    let mut c = Client::new(eventlog_web::app(state));
    // Without the login CSRF cookie/token pair.
    let r = c
        .post(
            "/login",
            &[("username", "alice"), ("password", PASSWORD), ("csrf", "x")],
        )
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    let r = c.login("alice", "wrong password").await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    assert!(r.body.contains("Wrong user name or password."));
    assert!(r.body.contains("value=\"alice\""), "user name kept");
    let r = c.login("nobody", PASSWORD).await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    let r = c.login("alice", "wrong again").await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    let r = c.login("alice", PASSWORD).await;
    assert_eq!(
        r.status,
        StatusCode::SEE_OTHER,
        "third attempt is in the burst"
    );
    c.cookies.remove("eventlog_session");
    // The burst (3 attempts) is spent: throttled, with the wait in Retry-After.
    let r = c.login("Alice", PASSWORD).await;
    assert_eq!(r.status, StatusCode::TOO_MANY_REQUESTS);
    assert!(r.body.contains("too many attempts"));
    let wait: u64 = r.headers["retry-after"].to_str().unwrap().parse().unwrap();
    assert!((1..=60).contains(&wait), "{wait}");
    assert!(!c.cookies.contains_key("eventlog_session"));
    // Another user is not affected.
    let r = c.login("victor", PASSWORD).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
}

async fn list_shows_columns_and_filters_work(backend: &str) {
    let fx = Fixture::new(backend).await;
    let now = Utc::now();
    let random = GroupId::random();
    let stamps = [
        ago(now, 3),
        ago(now, 2),
        now - chrono::Duration::days(40),
        now - chrono::Duration::days(400),
    ];
    // `date=today` and `date=year` start at midnight and on 1 January (UTC): just after
    // midnight, or early in the year, fewer of the events fall inside them.
    let in_range = |since: fn(&DateTime<Utc>) -> bool| stamps.iter().filter(|t| since(t)).count();
    let today = |t: &DateTime<Utc>| t.date_naive() == Utc::now().date_naive();
    let this_year = |t: &DateTime<Utc>| t.year() == Utc::now().year();
    let (in_today, in_year) = (in_range(today), in_range(this_year));
    let mut a = ev("info", "Order 1", "About to send 1000 mails", stamps[0]);
    a.initiator = Some("Mailer Daemon".into());
    a.data = Some(serde_json::json!({"customer": {"email": "x@example.com"}, "n": 3}));
    let mut b = ev("error", "Order 1", "Sending failed", stamps[1]);
    b.initiator = Some("Mailer Daemon".into());
    let mut c_ = eventlog::NewEvent::new("warning", random.clone(), "Disk almost full");
    c_.timestamp = stamps[2];
    let d = ev("legacy_kind", "Other", "Old style event", stamps[3]);
    fx.insert(vec![a, b, c_, d]).await;
    let mut c = Client::new(fx.router());
    c.login("victor", PASSWORD).await;
    let page = c.get("/events").await;
    assert_eq!(page.status, StatusCode::OK);
    assert_eq!(row_count(&page.body), 4);
    let body = &page.body;
    assert!(body.contains("3 minutes ago"), "relative time");
    assert!(body.contains("title=\"20"), "absolute time on hover");
    assert!(
        body.contains(&format!(">{}</a>", &random.as_str()[..8])),
        "short random group"
    );
    assert!(
        !body.contains(&format!(">{}</a>", random.as_str())),
        "full random id not shown as text"
    );
    for (shown, why) in [
        (">Order 1</a>", "named group whole"),
        ("class=\"label type-error\">Error</span>", "type colours"),
        (">Legacy_Kind</span>", "legacy type in title case"),
        ("Mailer Daemon", "initiator"),
        ("<svg", "chart"),
    ] {
        assert!(body.contains(shown), "{why}: {shown:?} missing");
    }
    assert!(
        !body.contains("name=\"id\""),
        "viewers get no delete checkboxes"
    );
    // Newest first by default; asc reverses.
    assert!(body.find("Sending failed").unwrap() < body.find("Old style event").unwrap());
    let asc = c.get("/events?order=asc").await.body;
    assert!(asc.find("Sending failed").unwrap() > asc.find("Old style event").unwrap());
    let cases: &[(&str, usize)] = &[
        ("q=SENDING", 1),
        ("q=mailer", 2),
        ("q=order%201", 2),
        ("type=error", 1),
        ("type=error&type=warning", 2),
        ("group=Order%201", 2),
        ("initiator=Mailer%20Daemon", 2),
        ("date=7d", 2),
        ("date=today", in_today),
        ("date=year", in_year),
        ("since=2000-01-01&until=2000-12-31", 0),
        ("data.customer.email=x%40example.com", 1),
        ("data.n=3", 1),
        ("data.n=4", 0),
        ("q=nothing-matches-this", 0),
    ];
    for (q, n) in cases {
        let r = c.get(&format!("/events?{q}")).await;
        assert_eq!(r.status, StatusCode::OK, "{q}: {}", r.body);
        // date=today/year may straddle midnight/new year in rare runs; allow for that only
        // where the boundary can move rows.
        assert_eq!(row_count(&r.body), *n, "{q}");
    }
    // Filters are kept in the form and shown as removable chips.
    let r = c.get("/events?group=Order%201&type=error").await;
    assert!(r.body.contains("group = Order 1"));
    assert!(r.body.contains("value=\"error\" checked"));
}

async fn pagination_follows_the_cursor(backend: &str) {
    let fx = Fixture::new(backend).await;
    let base = at("2026-01-01T00:00:00Z");
    let events = (0..150)
        .map(|i| {
            ev(
                "info",
                "G",
                &format!("event number {i:03}"),
                base + chrono::Duration::seconds(i),
            )
        })
        .collect();
    fx.insert(events).await;
    let mut c = Client::new(fx.router());
    c.login("alice", PASSWORD).await;
    let first = c.get("/events").await;
    assert_eq!(row_count(&first.body), 100);
    assert!(first.body.contains("event number 149"));
    let start = first.body.find("rel=\"next\" href=\"").expect("next link") + 17;
    let next = first.body[start..]
        .split('"')
        .next()
        .unwrap()
        .replace("&amp;", "&");
    assert!(next.starts_with("/events?cursor="), "{next}");
    let second = c.get(&next).await;
    assert_eq!(row_count(&second.body), 50);
    assert!(second.body.contains("event number 049"));
    assert!(!second.body.contains("event number 050"));
    assert!(!second.body.contains("rel=\"next\""), "last page");
    assert!(second.body.contains("First page"));
}

async fn event_page_shows_group_overview_and_pretty_data(backend: &str) {
    let fx = Fixture::new(backend).await;
    let t0 = at("2026-03-01T10:00:00Z");
    let secs = |s: i64| t0 + chrono::Duration::seconds(s);
    let mut first = ev("info", "Run 7", "start", t0);
    first.data = Some(serde_json::json!({"a": 1, "b": {"c": [1, 2]}}));
    let ids = fx
        .insert(vec![
            first,
            ev("info", "Run 7", "ten", secs(10)),
            ev("info", "Run 7", "five", secs(10 + 310)),
            ev("info", "Run 7", "same", secs(10 + 310)),
            ev(
                "critical",
                "Run 7",
                "big",
                secs(10 + 310 + 3 * 86_400 + 7510),
            ),
            ev("info", "Elsewhere", "not in group", secs(5)),
        ])
        .await;
    let mut c = Client::new(fx.router());
    c.login("victor", PASSWORD).await;
    let r = c.get(&format!("/events/{}", ids[0])).await;
    assert_eq!(r.status, StatusCode::OK);
    let b = &r.body;
    assert!(b.contains("Event Group Overview"));
    assert!(
        b.contains(">2026-03-01 10:00:00 UTC</time></a>"),
        "first row shows date and time"
    );
    assert!(b.contains(">10s later</time></a>"));
    assert!(b.contains(">5m 10s later</time></a>"));
    assert!(b.contains(">- same time</time></a>"));
    assert!(b.contains(">3d 2h 5m 10s later</time></a>"));
    assert!(!b.contains("not in group"));
    assert_eq!(b.matches("class=\"current\"").count(), 1);
    assert!(b.contains("This Event"));
    assert!(b.contains("<pre class=\"json\" id=\"event-data\" tabindex=\"0\">{\n  &#34;a&#34;: 1,\n  &#34;b&#34;: {\n    &#34;c&#34;: [\n"), "{b}");
    assert!(b.contains("<svg class=\"timeline\""));
    assert!(b.contains("</a> · 5 events over "), "{b}");
    // A group of one event says "1 event", not "1 events".
    let r = c.get(&format!("/events/{}", ids[5])).await;
    assert!(r.body.contains("</a> · 1 event</p>"), "{}", r.body);
    // The viewed event is highlighted wherever it is in the group.
    let r = c.get(&format!("/events/{}", ids[4])).await;
    let cur = r.body.find("class=\"current\"").unwrap();
    assert!(r.body[cur..].find(">big</a>").unwrap() < r.body[cur..].find("</tr>").unwrap());
    assert_eq!(c.get("/events/999999").await.status, StatusCode::NOT_FOUND);
    assert_eq!(c.get("/events/abc").await.status, StatusCode::NOT_FOUND);
}

async fn delete_is_admin_only_and_needs_confirmation_and_csrf(backend: &str) {
    let fx = Fixture::new(backend).await;
    let t = at("2026-02-01T00:00:00Z");
    let ids = fx
        .insert(vec![
            ev("info", "D", "one", t),
            ev("info", "D", "two", t),
            ev("info", "D", "three", t),
        ])
        .await;
    let q = format!("/events/delete?id={}&id={}", ids[0], ids[1]);
    let mut viewer = Client::new(fx.router());
    viewer.login("victor", PASSWORD).await;
    assert_eq!(viewer.get(&q).await.status, StatusCode::FORBIDDEN);
    let csrf = viewer.csrf().await;
    let r = viewer
        .post(
            "/events/delete",
            &[("csrf", &csrf), ("id", &ids[0].to_string())],
        )
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    assert!(r.body.contains("only admins"));

    let mut admin = Client::new(fx.router());
    admin.login("alice", PASSWORD).await;
    let list = admin.get("/events").await;
    assert!(list.body.contains("name=\"id\""), "admins get checkboxes");
    let confirm = admin.get(&q).await;
    assert_eq!(confirm.status, StatusCode::OK);
    assert!(confirm.body.contains("Delete 2 events?"));
    assert!(confirm.body.contains(">one<") && confirm.body.contains(">two<"));
    assert!(!confirm.body.contains(">three<"));
    let (a, b) = (ids[0].to_string(), ids[1].to_string());
    let r = admin
        .post(
            "/events/delete",
            &[("csrf", "forged"), ("id", &a), ("id", &b)],
        )
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    assert!(
        fx.store.get(ids[0]).await.unwrap().is_some(),
        "nothing deleted without CSRF"
    );
    let csrf = hidden(&confirm.body, "csrf");
    let r = admin
        .post("/events/delete", &[("csrf", &csrf), ("id", &a), ("id", &b)])
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
    assert!(fx.store.get(ids[0]).await.unwrap().is_none());
    assert!(fx.store.get(ids[1]).await.unwrap().is_none());
    assert!(fx.store.get(ids[2]).await.unwrap().is_some());
    assert_eq!(
        admin.get(&format!("/events/{a}")).await.status,
        StatusCode::NOT_FOUND
    );
    let r = admin.get("/events/delete").await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert!(r.body.contains("no events selected"));
}

async fn groups_page_shows_status_and_filters(backend: &str) {
    let fx = Fixture::new(backend).await;
    let t = Utc::now() - chrono::Duration::hours(1);
    // (type, group, message, seconds after `t`)
    let events = [
        ("info", "Mail run 1", "start", 0),
        ("error", "Mail run 1", "failed", 70),
        ("info", "Mail run 1", "end", 75),
        ("info", "Mail run 2", "start", 0),
        ("warning", "Mail run 2", "slow", 5),
        ("info", "Old run", "start", -30 * 86_400),
    ];
    fx.insert(
        events
            .into_iter()
            .map(|(ty, group, msg, secs)| ev(ty, group, msg, t + chrono::Duration::seconds(secs)))
            .collect(),
    )
    .await;
    let mut c = Client::new(fx.router());
    c.login("victor", PASSWORD).await;
    let r = c.get("/groups").await;
    assert_eq!(r.status, StatusCode::OK);
    let b = &r.body;
    let row1 = &b[b.find(">Mail run 1</a>").unwrap()..];
    let row1 = &row1[..row1.find("</tr>").unwrap()];
    assert!(row1.contains(">1m 15s<"), "duration: {row1}");
    assert!(row1.contains(">3<"), "count");
    assert!(
        row1.contains("class=\"label type-error\">Error</span>"),
        "status = most severe: {row1}"
    );
    let row2 = &b[b.find(">Mail run 2</a>").unwrap()..];
    assert!(row2[..row2.find("</tr>").unwrap()].contains(">Warning</span>"));
    let r = c.get("/groups?type=error&date=7d").await;
    assert!(
        r.body.contains("Mail run 1")
            && !r.body.contains("Mail run 2")
            && !r.body.contains("Old run")
    );
    let r = c.get("/groups?q=RUN%202").await;
    assert!(!r.body.contains("Mail run 1") && r.body.contains("Mail run 2"));
    assert!(
        r.body.contains("href=\"/events?group=Mail+run+2\""),
        "group links to its events"
    );
}

async fn export_csv_and_jsonl_follow_the_filter(backend: &str) {
    let fx = Fixture::new(backend).await;
    let t = at("2026-04-01T00:00:00Z");
    let mut e = ev("error", "E", "quote \" and, comma", t);
    e.data = Some(serde_json::json!({"k": "v"}));
    let events: Vec<_> = std::iter::once(e)
        .chain((0..1500).map(|i| {
            ev(
                "info",
                "E",
                &format!("bulk {i}"),
                t + chrono::Duration::seconds(i + 1),
            )
        }))
        .collect();
    fx.insert(events).await;
    let mut c = Client::new(fx.router());
    c.login("victor", PASSWORD).await;
    let r = c.get("/events/export?format=csv&type=error").await;
    assert_eq!(r.status, StatusCode::OK);
    assert!(
        r.headers["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/csv")
    );
    let lines: Vec<&str> = r.body.lines().collect();
    // The format of `eventlog export`, so a download imports with `eventlog import`.
    assert_eq!(
        lines[0],
        "uuid,type,group,timestamp,message,initiator,data,send_mail"
    );
    assert_eq!(lines.len(), 2);
    assert!(
        lines[1].contains(",error,E,2026-04-01T00:00:00.000000Z,"),
        "{}",
        lines[1]
    );
    assert!(
        lines[1].contains("\"quote \"\" and, comma\",,\"{\"\"k\"\":\"\"v\"\"}\","),
        "{}",
        lines[1]
    );
    // All 1501 across several store pages.
    let r = c.get("/events/export?format=jsonl").await;
    let lines: Vec<serde_json::Value> = r
        .body
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 1501);
    assert_eq!(lines[1500]["message"], "quote \" and, comma");
    let imported: Vec<_> = eventlog::export::read_jsonl(r.body.as_bytes())
        .collect::<Result<_, _>>()
        .expect("the download reads back as an import");
    assert_eq!(imported.len(), 1501);
    let r = c.get("/events/export?format=xml").await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert!(
        r.body
            .contains("format=&#34;xml&#34;: not one of: csv, jsonl"),
        "{}",
        r.body
    );
}

async fn live_tail_streams_new_events(backend: &str) {
    use futures_util::StreamExt;
    use tower::ServiceExt;
    let fx = Fixture::new(backend).await;
    let ids = fx.insert(vec![ev("info", "T", "before", Utc::now())]).await;
    let mut c = Client::new(fx.router());
    c.login("victor", PASSWORD).await;
    let req = c
        .request(
            "GET",
            &format!("/events/stream?type=error&after={}", ids[0]),
        )
        .body(axum::body::Body::empty())
        .unwrap();
    let resp = c.router.clone().oneshot(req).await.unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    assert_eq!(resp.headers()["content-type"], "text/event-stream");
    let mut body = resp.into_body().into_data_stream();
    fx.insert(vec![
        ev("info", "T", "filtered out", Utc::now()),
        ev("error", "T", "arrived <later>", Utc::now()),
    ])
    .await;
    let mut text = String::new();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while !text.contains("arrived") {
        let chunk = tokio::time::timeout_at(deadline, body.next())
            .await
            .expect("no live-tail message within 10 s")
            .unwrap()
            .unwrap();
        text.push_str(&String::from_utf8_lossy(&chunk));
    }
    assert!(text.contains("event: events"), "{text}");
    assert!(text.contains("arrived &#60;later&#62;"), "escaped: {text}");
    assert!(!text.contains("filtered out"), "filter applies: {text}");
    assert!(!text.contains(">before<"));
}

async fn user_supplied_text_is_escaped(backend: &str) {
    let fx = Fixture::new(backend).await;
    let xss = "<script>alert(1)</script>";
    let attr = "\" onmouseover=\"alert(2)\" x=\"";
    let mut e = ev(
        "<script>x</script>",
        "<script>g</script>",
        &format!("{xss}{attr}"),
        Utc::now(),
    );
    e.initiator = Some(format!("{attr}<img src=x onerror=alert(3)>"));
    e.data = Some(serde_json::json!({"html": xss, "q": attr}));
    let mut e2 = ev("info", "\"><svg onload=alert(4)>", "second", Utc::now());
    e2.initiator = Some("'><b>bold</b>".into());
    let ids = fx.insert(vec![e, e2]).await;
    let mut c = Client::new(fx.router());
    c.login("alice", PASSWORD).await;
    for path in [
        "/events".to_owned(),
        format!("/events/{}", ids[0]),
        format!("/events/{}", ids[1]),
        "/groups".to_owned(),
        format!("/events/delete?id={}&id={}", ids[0], ids[1]),
        format!("/events?q={}", "%3Cscript%3Ealert(5)%3C%2Fscript%3E"),
        format!("/events?group={}", "%22%3E%3Cscript%3E"),
    ] {
        let r = c.get(&path).await;
        assert_eq!(r.status, StatusCode::OK, "{path}");
        let b = &r.body;
        assert!(!b.contains("<script>"), "{path}: raw script tag");
        assert!(
            !b.contains("\" onmouseover=\"alert"),
            "{path}: attribute broken out"
        );
        assert!(!b.contains("<img src=x"), "{path}");
        assert!(!b.contains("<svg onload"), "{path}");
        assert!(!b.contains("<b>bold</b>"), "{path}");
    }
    let r = c.get(&format!("/events/{}", ids[0])).await;
    assert!(r.body.contains("&#60;script&#62;alert(1)&#60;/script&#62;"));
}

async fn mounts_under_a_prefix(backend: &str) {
    let fx = Fixture::new(backend).await;
    let ids = fx
        .insert(vec![ev("info", "P", "prefixed", Utc::now())])
        .await;
    let router = axum::Router::new().nest("/admin/eventlog", fx.router());
    let mut c = Client::new(router);
    c.prefix = "/admin/eventlog".into();
    let r = c.get("/events").await;
    assert_eq!(r.location(), "/admin/eventlog/login?next=%2Fevents");
    let page = c.get("/login").await;
    assert!(page.body.contains("action=\"/admin/eventlog/login\""));
    assert!(
        page.body
            .contains("href=\"/admin/eventlog/static/admin.css\"")
    );
    let r = c.login("alice", PASSWORD).await;
    assert_eq!(r.location(), "/admin/eventlog/events");
    let session = r
        .set_cookies()
        .into_iter()
        .find(|c| c.starts_with("eventlog_session="))
        .unwrap();
    assert!(session.contains("Path=/admin/eventlog;"), "{session}");
    let list = c.get("/events").await;
    assert_eq!(list.status, StatusCode::OK);
    assert!(
        list.body
            .contains(&format!("href=\"/admin/eventlog/events/{}\"", ids[0]))
    );
    assert!(list.body.contains("action=\"/admin/eventlog/logout\""));
    assert!(list.body.contains("href=\"/admin/eventlog/groups\""));
    assert!(c.get("/static/admin.js").await.body.contains("EventSource"));
    let root = c.get("").await;
    assert_eq!(root.location(), "/admin/eventlog/events");
}

async fn bad_input_is_a_400_naming_the_parameter(backend: &str) {
    let fx = Fixture::new(backend).await;
    let mut c = Client::new(fx.router());
    c.login("victor", PASSWORD).await;
    for (q, msg) in [
        (
            "/events?since=tomorrow",
            "since=&#34;tomorrow&#34;: not a time",
        ),
        ("/events?order=sideways", "order=&#34;sideways&#34;"),
        ("/events?cursor=garbage", "cursor=&#34;garbage&#34;"),
        ("/events?date=decade", "date=&#34;decade&#34;"),
        ("/groups?cursor=garbage", "cursor=&#34;garbage&#34;"),
        ("/events/stream?after=x", "after=&#34;x&#34;"),
    ] {
        let r = c.get(q).await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{q}");
        assert!(r.body.contains(msg), "{q}: {}", r.body);
    }
}

async fn list_says_how_many_events_match_up_to_a_bound(backend: &str) {
    let fx = Fixture::new(backend).await;
    let t = at("2026-02-01T00:00:00Z");
    let s = |n: i64| t + chrono::Duration::seconds(n);
    fx.insert(vec![
        ev("info", "A", "one", s(1)),
        ev("error", "A", "two", s(2)),
        ev("info", "B", "three", s(3)),
    ])
    .await;
    let mut c = Client::new(fx.router());
    c.login("victor", PASSWORD).await;
    let count = |body: &str| {
        let marker = "id=\"event-count\">";
        let start = body.find(marker).expect("the count") + marker.len();
        body[start..].split('<').next().unwrap().to_owned()
    };
    assert_eq!(count(&c.get("/events").await.body), "3 events");
    assert_eq!(count(&c.get("/events?type=error").await.body), "1 event");
    assert_eq!(count(&c.get("/events?q=nothing").await.body), "0 events");
    // Past the bound the count stops: "10,000+".
    let many: Vec<_> = (0..10_000)
        .map(|i| ev("info", "Many", "m", s(10 + i)))
        .collect();
    fx.insert(many).await;
    assert_eq!(count(&c.get("/events").await.body), "10,000+ events");
    assert_eq!(
        count(&c.get("/events?group=Many").await.body),
        "10,000 events"
    );
    assert_eq!(count(&c.get("/events?group=A").await.body), "2 events");
    // A group, search, initiator or data filter: the chart counts the newest 10,001 matches,
    // says so when there were more, and the count is what it counted.
    fx.insert(vec![ev("info", "Many", "m", s(20_000))]).await;
    let page = c.get("/events?group=Many").await.body;
    assert_eq!(count(&page), "10,000+ events");
    assert!(
        page.contains("counted: the newest 10,001 matches"),
        "the chart says what it counted"
    );
    // A frequent word: the search plan knows there are thousands; the chart tests only the
    // newest 1,000 events.
    let frequent = c.get("/events?q=m").await.body;
    assert_eq!(count(&frequent), "5,000+ events");
    assert!(frequent.contains("counted: the matches among the newest 1,000 events"));
    let whole = c.get("/events?group=A").await.body;
    assert!(whole.contains("<svg") && !whole.contains("counted: the newest"));
}

async fn a_big_group_shows_a_window_with_paging_links(backend: &str) {
    let fx = Fixture::new(backend).await;
    let t = at("2026-02-01T00:00:00Z");
    let events: Vec<_> = (0..5_000i64)
        .map(|i| {
            let mut e = ev(
                if i % 100 == 7 { "error" } else { "info" },
                "Big",
                &format!("step {i} of the nightly reindex finished without surprises"),
                t + chrono::Duration::seconds(i),
            );
            e.initiator = Some(format!("user:{}", 10_000 + i));
            e
        })
        .collect();
    let ids = fx.insert(events).await;
    let mut c = Client::new(fx.router());
    c.login("victor", PASSWORD).await;
    // The messages in the group table (not the viewed event's own, below it).
    let steps = |body: &str| -> Vec<i64> {
        let body = &body[..body.find("<h2>This Event").unwrap()];
        body.match_indices(">step ")
            .map(|(i, _)| body[i + 6..].split(' ').next().unwrap().parse().unwrap())
            .collect()
    };
    let link = |body: &str, marker: &str| -> String {
        let i = body
            .find(marker)
            .unwrap_or_else(|| panic!("no {marker} in page"));
        let start = body[..i].rfind("href=\"").unwrap() + 6;
        body[start..]
            .split('"')
            .next()
            .unwrap()
            .replace("&#38;", "&")
    };
    // Around the viewed event: 50 before, 50 after.
    let r = c.get(&format!("/events/{}", ids[2_500])).await;
    assert_eq!(r.status, StatusCode::OK);
    assert!(r.body.len() < 200_000, "{} bytes", r.body.len());
    assert_eq!(steps(&r.body), (2_450..=2_550).collect::<Vec<_>>());
    assert!(
        r.body.contains("</a> · 5,000 events over "),
        "the whole group is counted"
    );
    assert!(r.body.contains(" · 101 shown"));
    assert_eq!(r.body.matches("class=\"current\"").count(), 1);
    // Paging: later, earlier, first and last.
    let later = link(&r.body, ">101 later ›<");
    let r2 = c.get(&later).await;
    assert_eq!(steps(&r2.body), (2_551..=2_651).collect::<Vec<_>>());
    assert!(r2.body.len() < 200_000);
    let earlier = link(&r.body, ">‹ 101 earlier<");
    assert_eq!(
        steps(&c.get(&earlier).await.body),
        (2_349..=2_449).collect::<Vec<_>>()
    );
    let last = c.get(&link(&r.body, ">Last events »<")).await;
    assert_eq!(steps(&last.body), (4_899..=4_999).collect::<Vec<_>>());
    assert!(
        !last.body.contains("later ›"),
        "nothing after the last window"
    );
    assert!(last.body.contains("‹ 101 earlier"));
    let first = c.get(&link(&r.body, ">« First events<")).await;
    assert_eq!(steps(&first.body), (0..=100).collect::<Vec<_>>());
    assert!(
        !first.body.contains("earlier<"),
        "nothing before the first window"
    );
    // Near the start the window is cut, with no earlier link.
    let r = c.get(&format!("/events/{}", ids[3])).await;
    assert_eq!(steps(&r.body), (0..=53).collect::<Vec<_>>());
    assert!(!r.body.contains("« First events"));
    // Hostile positions are a 400.
    for bad in [
        "before=x",
        "after=1_",
        "at=middle",
        "before=999999999999999999_1",
    ] {
        let r = c.get(&format!("/events/{}?{bad}", ids[0])).await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{bad}");
    }
}
