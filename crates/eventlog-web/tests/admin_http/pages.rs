//! The event and group pages.

use super::*;

eventlog_testing::on_both_backends!(
    backend: event_page_shows_group_overview_and_pretty_data, groups_page_shows_status_and_filters,
    a_big_group_shows_a_window_with_paging_links,
);

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
