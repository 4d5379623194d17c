//! The event list: columns, filters, pagination, counts, escaping, export and the live tail.

use super::*;

eventlog_testing::on_both_backends!(
    backend: list_shows_columns_and_filters_work, pagination_follows_the_cursor,
    bad_input_is_a_400_naming_the_parameter, list_says_how_many_events_match_up_to_a_bound,
    user_supplied_text_is_escaped, export_csv_and_jsonl_follow_the_filter,
    live_tail_streams_new_events,
);

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
