//! Filters and pages: by type, time, text, group, initiator and data; order and keyset pagination.

#![allow(clippy::unwrap_used)] // A test: a panic is the failure report.

use super::*;

eventlog_testing::on_every_backend!(
    db: filter_by_types, filter_by_since_and_until, filter_by_text_ignores_case,
    filter_by_group_and_initiator, an_initiator_is_matched_exactly_whatever_its_words,
    filter_by_data_values, order_both_ways,
    keyset_pagination_with_identical_timestamps_loses_and_repeats_nothing,
    in_memory_filter_agrees_with_the_store,
);

async fn filter_by_types(db: TestDb) {
    let store = open(&db).await;
    store
        .insert_batch(&[
            ev("info", "g", "i", 1),
            ev("warning", "g", "w", 2),
            ev("error", "g", "e", 3),
        ])
        .await
        .unwrap();
    let f = |types: &[&str]| EventFilter {
        types: types.iter().map(|t| t.to_string()).collect(),
        ..Default::default()
    };
    assert_eq!(messages(&*store, &f(&["error"])).await, ["e"]);
    assert_eq!(messages(&*store, &f(&["info", "error"])).await, ["i", "e"]);
    assert_eq!(messages(&*store, &f(&[])).await, ["i", "w", "e"]);
    assert!(messages(&*store, &f(&["critical"])).await.is_empty());
}

async fn filter_by_since_and_until(db: TestDb) {
    let store = open(&db).await;
    store
        .insert_batch(&[
            ev("info", "g", "1", 10),
            ev("info", "g", "2", 20),
            ev("info", "g", "3", 30),
        ])
        .await
        .unwrap();
    let f = |since: Option<i64>, until: Option<i64>| EventFilter {
        since: since.map(at),
        until: until.map(at),
        ..Default::default()
    };
    assert_eq!(
        messages(&*store, &f(Some(20), None)).await,
        ["2", "3"],
        "since is inclusive"
    );
    assert_eq!(
        messages(&*store, &f(None, Some(20))).await,
        ["1"],
        "until is exclusive"
    );
    assert_eq!(messages(&*store, &f(Some(11), Some(31))).await, ["2", "3"]);
    assert!(messages(&*store, &f(Some(31), None)).await.is_empty());
}

async fn filter_by_text_ignores_case(db: TestDb) {
    let store = open(&db).await;
    let mut by_initiator = ev("info", "g1", "first", 1);
    by_initiator.initiator = Some("Mailer Daemon".into());
    store
        .insert_batch(&[
            by_initiator,
            ev("info", "Order-ABC", "second", 2),
            ev("info", "g3", "Mail Server QUIT", 3),
            ev("info", "g4", "unrelated", 4),
        ])
        .await
        .unwrap();
    let f = |text: &str| EventFilter {
        text: Some(text.into()),
        ..Default::default()
    };
    assert_eq!(
        messages(&*store, &f("mailer daemon")).await,
        ["first"],
        "initiator"
    );
    assert_eq!(
        messages(&*store, &f("order-abc")).await,
        ["second"],
        "group"
    );
    assert_eq!(
        messages(&*store, &f("server quit")).await,
        ["Mail Server QUIT"],
        "message"
    );
    assert_eq!(
        messages(&*store, &f("MAIL")).await,
        ["first", "Mail Server QUIT"],
        "any of the three fields"
    );
    assert_eq!(
        messages(&*store, &f("")).await.len(),
        4,
        "empty text: no filter"
    );
    assert!(messages(&*store, &f("nowhere")).await.is_empty());
}

async fn filter_by_group_and_initiator(db: TestDb) {
    let store = open(&db).await;
    let mut a = ev("info", "Order 1", "a", 1);
    a.initiator = Some("user:42".into());
    let mut b = ev("info", "Order 1", "b", 2);
    b.initiator = Some("user:4".into());
    let c = ev("info", "Order 11", "c", 3);
    store.insert_batch(&[a, b, c]).await.unwrap();
    let by_group = EventFilter {
        group: Some("Order 1".into()),
        ..Default::default()
    };
    assert_eq!(
        messages(&*store, &by_group).await,
        ["a", "b"],
        "exact group, not a prefix"
    );
    let by_initiator = EventFilter {
        initiator: Some("user:4".into()),
        ..Default::default()
    };
    assert_eq!(
        messages(&*store, &by_initiator).await,
        ["b"],
        "exact initiator"
    );
    let both = EventFilter {
        group: Some("Order 11".into()),
        initiator: Some("user:42".into()),
        ..Default::default()
    };
    assert!(
        messages(&*store, &both).await.is_empty(),
        "filters combine with AND"
    );
}

/// The initiator filter is an exact match, however it is read (SQLite reads it through the
/// search index's words, then compares): other initiators with the same words, in another
/// case or order, or the words in a message, are not it; a frequent one is counted whole.
async fn an_initiator_is_matched_exactly_whatever_its_words(db: TestDb) {
    let store = open(&db).await;
    let mut events = Vec::new();
    for (i, who) in [
        Some("user:42"),
        Some("User:42"),
        Some("user:420"),
        Some("user:42 admin"),
        Some("42 user"),
        Some("---"),
        Some("daemon mailer"),
        None,
    ]
    .into_iter()
    .enumerate()
    {
        let mut e = ev("info", "g", &format!("by {who:?}"), i as i64);
        e.initiator = who.map(str::to_owned);
        events.push(e);
    }
    events.push(ev("info", "g", "user:42 wrote this message", 20));
    // More than a search plan reads one by one: the frequent path.
    for i in 0..5_100 {
        let mut e = ev("error", "h", &format!("mailer daemon run {i}"), 100 + i);
        e.initiator = Some("Mailer Daemon".into());
        events.push(e);
    }
    store.insert_batch(&events).await.unwrap();
    let by = |who: &str| EventFilter {
        initiator: Some(who.into()),
        ..Default::default()
    };
    for (who, expected) in [
        ("user:42", 1),
        ("User:42", 1),
        ("user:420", 1),
        ("42 user", 1),
        ("---", 1),
        ("daemon mailer", 1),
        ("user", 0),
        ("Mailer Daemon", 5_100),
    ] {
        let filter = by(who);
        assert_eq!(store.count(&filter).await.unwrap(), expected, "count {who}");
        assert_eq!(
            store.count_at_most(&filter, 10_000).await.unwrap(),
            expected,
            "count_at_most {who}"
        );
        let charted: i64 = store
            .histogram(&filter, 86_400)
            .await
            .unwrap()
            .iter()
            .map(|r| r.2)
            .sum();
        assert_eq!(charted, expected as i64, "histogram {who}");
        let page = store.list(&filter, Order::Desc, None, 100).await.unwrap();
        assert_eq!(page.items.len() as u64, expected.min(100), "list {who}");
        assert!(
            page.items
                .iter()
                .all(|e| e.initiator.as_deref() == Some(who)),
            "list {who}: only that initiator"
        );
    }
    let newest = store
        .list(&by("Mailer Daemon"), Order::Desc, None, 3)
        .await
        .unwrap();
    let newest: Vec<_> = newest.items.iter().map(|e| e.message.as_str()).collect();
    assert_eq!(
        newest,
        [
            "mailer daemon run 5099",
            "mailer daemon run 5098",
            "mailer daemon run 5097"
        ]
    );
}

async fn filter_by_data_values(db: TestDb) {
    let store = open(&db).await;
    let mut a = ev("info", "g", "a", 1);
    a.data =
        Some(json!({"customer": {"email": "user@example.com"}, "n": 42, "ok": true, "price": 1.5}));
    let mut b = ev("info", "g", "b", 2);
    b.data = Some(json!({"customer": {"email": "other@example.com"}, "n": 7, "ok": false}));
    let mut c = ev("info", "g", "c", 3);
    c.data = Some(json!("just a string"));
    let d = ev("info", "g", "d", 4);
    store.insert_batch(&[a, b, c, d]).await.unwrap();
    let f = |conds: &[(&[&str], &str)]| EventFilter {
        data: conds
            .iter()
            .map(|(path, value)| DataMatch {
                path: path.iter().map(|k| k.to_string()).collect(),
                value: value.to_string(),
            })
            .collect(),
        ..Default::default()
    };
    assert_eq!(
        messages(&*store, &f(&[(&["customer", "email"], "user@example.com")])).await,
        ["a"]
    );
    assert_eq!(
        messages(&*store, &f(&[(&["n"], "7")])).await,
        ["b"],
        "number"
    );
    assert_eq!(
        messages(&*store, &f(&[(&["price"], "1.5")])).await,
        ["a"],
        "fraction"
    );
    assert_eq!(
        messages(&*store, &f(&[(&["ok"], "true")])).await,
        ["a"],
        "bool true"
    );
    assert_eq!(
        messages(&*store, &f(&[(&["ok"], "false")])).await,
        ["b"],
        "bool false"
    );
    assert_eq!(
        messages(&*store, &f(&[(&["ok"], "false"), (&["n"], "42")])).await,
        Vec::<String>::new(),
        "conditions combine with AND"
    );
    assert_eq!(
        messages(&*store, &f(&[(&["ok"], "true"), (&["n"], "42")])).await,
        ["a"]
    );
    assert!(
        messages(&*store, &f(&[(&["missing"], "x")]))
            .await
            .is_empty()
    );
    assert!(
        messages(&*store, &f(&[(&["customer"], "user@example.com")]))
            .await
            .is_empty()
    );
}

async fn order_both_ways(db: TestDb) {
    let store = open(&db).await;
    store
        .insert_batch(&[
            ev("info", "g", "2", 20),
            ev("info", "g", "1", 10),
            ev("info", "g", "3", 30),
        ])
        .await
        .unwrap();
    let all = EventFilter::default();
    let desc = store.list(&all, Order::Desc, None, 10).await.unwrap();
    let asc = store.list(&all, Order::Asc, None, 10).await.unwrap();
    let msgs = |p: &store::Page<eventlog::Event, Cursor>| {
        p.items
            .iter()
            .map(|e| e.message.clone())
            .collect::<Vec<_>>()
    };
    assert_eq!(msgs(&desc), ["3", "2", "1"]);
    assert_eq!(msgs(&asc), ["1", "2", "3"]);
    assert!(desc.next.is_none() && asc.next.is_none(), "one page only");
}

async fn keyset_pagination_with_identical_timestamps_loses_and_repeats_nothing(db: TestDb) {
    let store = open(&db).await;
    // 30 events: 10 at t=5, 10 at t=7 (in two batches), 10 at distinct times around them.
    let mut batch1: Vec<NewEvent> = (0..10)
        .map(|i| ev("info", "g", &format!("a{i}"), 5))
        .collect();
    batch1.extend((0..5).map(|i| ev("info", "g", &format!("b{i}"), 7)));
    let mut batch2: Vec<NewEvent> = (5..10)
        .map(|i| ev("info", "g", &format!("b{i}"), 7))
        .collect();
    batch2.extend((0..10).map(|i| ev("info", "g", &format!("c{i}"), i)));
    store.insert_batch(&batch1).await.unwrap();
    store.insert_batch(&batch2).await.unwrap();
    let all = EventFilter::default();
    for order in [Order::Desc, Order::Asc] {
        let mut seen = Vec::new();
        let mut cursor: Option<Cursor> = None;
        let mut pages = 0;
        loop {
            let page = store.list(&all, order, cursor.as_ref(), 7).await.unwrap();
            pages += 1;
            assert!(page.items.len() <= 7);
            seen.extend(page.items.iter().map(|e| (e.timestamp, e.id)));
            match page.next {
                // Through its URL form, as the admin uses it.
                Some(c) => cursor = Some(c.to_string().parse().unwrap()),
                None => break,
            }
        }
        assert_eq!(pages, 5, "{order:?}: 30 rows in pages of 7");
        let unique: HashSet<_> = seen.iter().collect();
        assert_eq!(seen.len(), 30, "{order:?}: every row once");
        assert_eq!(unique.len(), 30, "{order:?}: no row repeated");
        let mut sorted = seen.clone();
        sorted.sort();
        if order == Order::Desc {
            sorted.reverse();
        }
        assert_eq!(seen, sorted, "{order:?}: pages continue the order");
    }
    // A filter applies across pages too.
    let only_b = EventFilter {
        text: Some("b".into()),
        ..Default::default()
    };
    let p1 = store.list(&only_b, Order::Desc, None, 6).await.unwrap();
    let p2 = store
        .list(&only_b, Order::Desc, p1.next.as_ref(), 6)
        .await
        .unwrap();
    assert_eq!((p1.items.len(), p2.items.len()), (6, 4));
    assert!(p2.next.is_none());
}

/// The same filters, evaluated by the store and in memory, select the same events: one
/// case per filter key, and a few combined.
async fn in_memory_filter_agrees_with_the_store(db: TestDb) {
    let store = open(&db).await;
    let mut batch = Vec::new();
    let datas = [
        Some(json!({"customer": {"email": "user@example.com"}, "n": 42, "ok": true, "price": 1.5})),
        Some(json!({"customer": {"email": "other@example.com"}, "n": 7, "ok": false})),
        Some(json!({"n": "42", "tags": ["a", "b"], "none": null})),
        Some(json!("just a string")),
        None,
    ];
    let texts = [
        ("Mail server quit", Some("Mailer Daemon")),
        ("About to send 1000 mails", None),
        ("Café ouvert: User:4242 said \"Timeout\"", Some("user:42")),
        ("all emails sent!", Some("cron")),
        ("nothing to see", None),
    ];
    let groups = [
        "Order 1234",
        "mail-run-7",
        "0f3a9c2e5b7d4e1f8a6b3c9d2e5f7a1b",
        "Zürich batch",
    ];
    let types = ["info", "warning", "error", "critical"];
    for i in 0..40usize {
        let (msg, initiator) = texts[i % texts.len()];
        let mut e = ev(types[i % 4], groups[i % groups.len()], msg, i as i64 * 60);
        e.initiator = initiator.map(str::to_owned);
        e.data = datas[i % datas.len()].clone();
        batch.push(e);
    }
    store.insert_batch(&batch).await.unwrap();
    let data = |path: &[&str], value: &str| DataMatch {
        path: path.iter().map(|k| k.to_string()).collect(),
        value: value.to_owned(),
    };
    let text = |t: &str| EventFilter {
        text: Some(t.into()),
        ..Default::default()
    };
    let by_data = |path: &[&str], value: &str| EventFilter {
        data: vec![data(path, value)],
        ..Default::default()
    };
    let filters = vec![
        EventFilter::default(),
        EventFilter {
            types: vec!["error".into(), "critical".into()],
            ..Default::default()
        },
        EventFilter {
            since: Some(at(600)),
            ..Default::default()
        },
        EventFilter {
            until: Some(at(600)),
            ..Default::default()
        },
        EventFilter {
            since: Some(at(300)),
            until: Some(at(1200)),
            ..Default::default()
        },
        text("mail"),
        text("MAILER dae"),
        text("user 42"),
        text("café timeout"),
        text("order 12"),
        text("zür"),
        text("0f3a9c2e"),
        text("sent emails"),
        text("quit order"),
        text("%%%"),
        text("ail"),
        EventFilter {
            group: Some("mail-run-7".into()),
            ..Default::default()
        },
        EventFilter {
            initiator: Some("user:42".into()),
            ..Default::default()
        },
        by_data(&["customer", "email"], "user@example.com"),
        by_data(&["n"], "42"),
        by_data(&["price"], "1.5"),
        by_data(&["ok"], "false"),
        by_data(&["none"], "null"),
        by_data(&["customer"], "x"),
        EventFilter {
            types: vec!["info".into()],
            text: Some("mail".into()),
            group: Some("Order 1234".into()),
            ..Default::default()
        },
        EventFilter {
            types: vec!["warning".into()],
            since: Some(at(100)),
            data: vec![data(&["ok"], "true"), data(&["n"], "42")],
            ..Default::default()
        },
    ];
    let stored = listed(&*store, &EventFilter::default(), Order::Asc, 1000).await;
    assert_eq!(stored.len(), 40);
    let mut answers = HashSet::new();
    for f in &filters {
        let by_store = listed_ids(&*store, f, Order::Asc, 1000).await;
        let in_memory: Vec<i64> = stored
            .iter()
            .filter(|e| f.matches(e))
            .map(|e| e.id)
            .collect();
        assert_eq!(in_memory, by_store, "{f:?}");
        answers.insert(by_store);
    }
    assert!(answers.len() > 15, "the cases select different events");
}
