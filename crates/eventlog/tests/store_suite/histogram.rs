//! Counts and the chart's histograms, checked against a recount.

#![allow(clippy::unwrap_used)] // A test: a panic is the failure report.

use super::*;

eventlog_testing::on_every_backend!(
    db: count_and_histogram, histogram_equals_a_recount_after_inserts_repeats_deletes_and_purges,
    list_with_newest_equals_a_list_and_histogram_newest, histogram_newest_counts_the_newest_matches,
);

async fn count_and_histogram(db: TestDb) {
    let store = open(&db).await;
    store
        .insert_batch(&[
            ev("info", "g", "1", 10),
            ev("info", "g", "2", 50),
            ev("error", "g", "3", 59),
            ev("error", "g", "4", 70),
            ev("info", "g", "5", 3600),
        ])
        .await
        .unwrap();
    assert_eq!(store.count(&EventFilter::default()).await.unwrap(), 5);
    let errors = EventFilter {
        types: vec!["error".into()],
        ..Default::default()
    };
    assert_eq!(store.count(&errors).await.unwrap(), 2);
    // Bounded counts: exact up to the bound, `bound + 1` beyond it.
    let all = EventFilter::default();
    assert_eq!(store.count_at_most(&all, 10).await.unwrap(), 5);
    assert_eq!(store.count_at_most(&all, 5).await.unwrap(), 5);
    assert_eq!(store.count_at_most(&all, 4).await.unwrap(), 5);
    assert_eq!(store.count_at_most(&all, 2).await.unwrap(), 3);
    assert_eq!(store.count_at_most(&all, 0).await.unwrap(), 1);
    assert_eq!(store.count_at_most(&errors, 1).await.unwrap(), 2);
    assert_eq!(store.count_at_most(&errors, 2).await.unwrap(), 2);
    assert_eq!(store.count_at_most(&all, u64::MAX).await.unwrap(), 5);

    let mut hist = store.histogram(&EventFilter::default(), 60).await.unwrap();
    hist.sort();
    assert_eq!(
        hist,
        vec![
            (at(0), "error".to_string(), 1),
            (at(0), "info".to_string(), 2),
            (at(60), "error".to_string(), 1),
            (at(3600), "info".to_string(), 1),
        ]
    );
    let until = EventFilter {
        until: Some(at(60)),
        ..Default::default()
    };
    assert_eq!(
        charted(&*store, &until, 3600).await,
        3,
        "the histogram applies the filter"
    );
}

/// The histogram recounted from the events themselves, in (bucket, type) order.
async fn recount(
    store: &dyn Backend,
    filter: &EventFilter,
    bucket: i64,
) -> Vec<(DateTime<Utc>, String, i64)> {
    let mut sums = std::collections::BTreeMap::new();
    let mut after = None;
    loop {
        let page = store
            .list(filter, Order::Asc, after.as_ref(), 1000)
            .await
            .unwrap();
        for e in &page.items {
            let b = e.timestamp.timestamp().div_euclid(bucket) * bucket;
            *sums
                .entry((
                    DateTime::from_timestamp(b, 0).unwrap(),
                    e.event_type.clone(),
                ))
                .or_insert(0i64) += 1;
        }
        match page.next {
            Some(c) => after = Some(c),
            None => break,
        }
    }
    sums.into_iter().map(|((t, ty), n)| (t, ty, n)).collect()
}

/// Every filter of type and time the chart asks for (ranges on and off the hour, one inside
/// a single hour) and every bucket width, compared with a recount.
async fn assert_histograms_match_a_recount(store: &dyn Backend, when: &str) {
    let filters = [
        EventFilter::default(),
        EventFilter {
            types: vec!["error".into(), "warning".into()],
            ..Default::default()
        },
        EventFilter {
            since: Some(at(3600 + 1800)),
            ..Default::default()
        },
        EventFilter {
            until: Some(at(5 * 3600 + 7)),
            ..Default::default()
        },
        EventFilter {
            since: Some(at(2 * 3600 + 59)),
            until: Some(at(26 * 3600 + 1)),
            types: vec!["info".into()],
            ..Default::default()
        },
        EventFilter {
            since: Some(at(3 * 3600 + 10)),
            until: Some(at(3 * 3600 + 3000)),
            ..Default::default()
        },
        EventFilter {
            since: Some(at(3600)),
            until: Some(at(4 * 3600)),
            ..Default::default()
        },
    ];
    for filter in &filters {
        for bucket in [60, 3600, 3 * 3600, 86_400] {
            let mut got = store.histogram(filter, bucket).await.unwrap();
            got.sort();
            assert_eq!(
                got,
                recount(store, filter, bucket).await,
                "{when}: histogram of {filter:?} in buckets of {bucket} s"
            );
        }
    }
}

async fn histogram_equals_a_recount_after_inserts_repeats_deletes_and_purges(db: TestDb) {
    let store = open(&db).await;
    let types = ["info", "warning", "error"];
    // 30 hours, a few events an hour at uneven seconds, the types taking turns.
    let events: Vec<NewEvent> = (0..240)
        .map(|i| {
            ev(
                types[i % 3],
                &format!("g{}", i % 7),
                "m",
                i as i64 * 450 + 13,
            )
        })
        .collect();
    let stored = store.insert_batch(&events[..120]).await.unwrap();
    store.insert_batch(&events[120..]).await.unwrap();
    assert_histograms_match_a_recount(store.as_ref(), "after inserts").await;

    // The same events again (a retry), with a new one among them: only the new one counts.
    let mut again = events[100..140].to_vec();
    again.push(ev("error", "late", "m", 7 * 3600 + 5));
    store.insert_batch(&again).await.unwrap();
    assert_histograms_match_a_recount(store.as_ref(), "after a repeated batch").await;

    let ids: Vec<i64> = stored.iter().step_by(5).map(|s| s.id).collect();
    assert_eq!(store.delete(&ids).await.unwrap(), ids.len() as u64);
    assert_histograms_match_a_recount(store.as_ref(), "after deletes").await;

    // A purge in the middle of an hour, then one of a type.
    store.purge(at(4 * 3600 + 1234), None).await.unwrap();
    store.purge(at(9 * 3600), Some("warning")).await.unwrap();
    assert_histograms_match_a_recount(store.as_ref(), "after purges").await;
    let total = charted(store.as_ref(), &EventFilter::default(), 86_400).await;
    assert_eq!(
        total as u64,
        store.count(&EventFilter::default()).await.unwrap()
    );
}

async fn list_with_newest_equals_a_list_and_histogram_newest(db: TestDb) {
    let store = open(&db).await;
    // A rare word (planned as ids), a frequent one (tested row by row), a group.
    let events: Vec<NewEvent> = (0..6_000)
        .map(|i| {
            let msg = if i % 1_000 == 3 {
                "rare kiwi"
            } else {
                "common word"
            };
            ev(if i % 3 == 0 { "error" } else { "info" }, "g", msg, i * 10)
        })
        .collect();
    store.insert_batch(&events).await.unwrap();
    let filters = [
        EventFilter {
            text: Some("kiwi".into()),
            ..Default::default()
        },
        EventFilter {
            text: Some("common".into()),
            ..Default::default()
        },
        EventFilter {
            text: Some("word".into()),
            types: vec!["error".into()],
            ..Default::default()
        },
        EventFilter {
            group: Some("g".into()),
            since: Some(at(30_000)),
            ..Default::default()
        },
    ];
    let cursor = Cursor {
        timestamp: at(45_000),
        id: i64::MAX,
    };
    for filter in &filters {
        // The chart's filter may differ from the list's (a range cut at now): both kinds.
        let narrower = EventFilter {
            until: Some(at(50_000)),
            ..filter.clone()
        };
        for (after, newest) in [(None, filter), (Some(&cursor), &narrower)] {
            let request = NewestRequest {
                filter: newest,
                matches: 500,
                events: 300,
            };
            let (page, counts) = store
                .list_with_newest(filter, Order::Desc, after, 50, &request)
                .await
                .unwrap();
            let alone = store.list(filter, Order::Desc, after, 50).await.unwrap();
            let ids = |p: &store::Page<eventlog::Event, Cursor>| {
                p.items.iter().map(|e| e.id).collect::<Vec<_>>()
            };
            assert_eq!(ids(&page), ids(&alone), "{filter:?}");
            assert!(!page.items.is_empty(), "{filter:?}");
            assert_eq!(page.next, alone.next, "{filter:?}");
            assert_eq!(
                counts,
                store.histogram_newest(newest, 500, 300).await.unwrap(),
                "{newest:?}"
            );
            assert!(counts.total > 0, "{newest:?}");
        }
    }
}

async fn histogram_newest_counts_the_newest_matches(db: TestDb) {
    let store = open(&db).await;
    // 30 events with the word, one every 50 s, and others between them.
    let mut events = Vec::new();
    for i in 0..30 {
        events.push(ev(
            if i % 2 == 0 { "info" } else { "error" },
            "g",
            "alpha here",
            i * 50,
        ));
        events.push(ev("info", "h", "beta there", i * 50 + 1));
    }
    store.insert_batch(&events).await.unwrap();
    let alpha = EventFilter {
        text: Some("alpha".into()),
        ..Default::default()
    };
    let all = store.histogram_newest(&alpha, 100, 1000).await.unwrap();
    assert_eq!(
        all.counted,
        Counted::All,
        "30 matches, bound 100: every one"
    );
    assert_eq!(all.total, 30);
    assert_eq!(all.range, Some((at(0), at(29 * 50))));
    assert_eq!(all.rows, recount(store.as_ref(), &alpha, 60).await);

    let newest = store.histogram_newest(&alpha, 10, 1000).await.unwrap();
    assert_eq!(newest.counted, Counted::NewestMatches);
    assert_eq!(newest.total, 10);
    assert_eq!(
        newest.range,
        Some((at(20 * 50), at(29 * 50))),
        "the newest 10, oldest first"
    );
    let since = EventFilter {
        since: Some(at(20 * 50)),
        ..alpha.clone()
    };
    assert_eq!(newest.rows, recount(store.as_ref(), &since, 60).await);

    let group = EventFilter {
        group: Some("h".into()),
        until: Some(at(10 * 50)),
        ..Default::default()
    };
    let counted = store.histogram_newest(&group, 10, 1000).await.unwrap();
    assert_eq!(
        counted.counted,
        Counted::NewestMatches,
        "exactly the bound: there may be more"
    );
    assert_eq!(counted.range, Some((at(1), at(9 * 50 + 1))));
    assert_eq!(counted.rows, recount(store.as_ref(), &group, 60).await);

    let none = EventFilter {
        text: Some("gamma".into()),
        ..Default::default()
    };
    assert_eq!(
        store.histogram_newest(&none, 10, 1000).await.unwrap(),
        Default::default()
    );

    // A frequent word (thousands of matches): only the newest 100 events are tested.
    let frequent: Vec<NewEvent> = (0..7_000)
        .map(|i| {
            let word = if i % 7 != 0 { "delta now" } else { "other" };
            ev("info", "f", word, 10_000 + i)
        })
        .collect();
    store.insert_batch(&frequent).await.unwrap();
    let delta = EventFilter {
        text: Some("delta".into()),
        ..Default::default()
    };
    let sampled = store.histogram_newest(&delta, 10_001, 100).await.unwrap();
    let from = at(10_000 + 6_900);
    assert!(
        matches!(sampled.counted, Counted::Since { from: f, at_least } if f == from && at_least >= 5_000),
        "{:?}",
        sampled.counted
    );
    let expected = (6_900..7_000).filter(|i| i % 7 != 0).count() as u64;
    assert_eq!(
        sampled.total, expected,
        "six in seven of the newest 100 events"
    );
    let tested = EventFilter {
        since: Some(from),
        ..delta.clone()
    };
    assert_eq!(sampled.rows, recount(store.as_ref(), &tested, 60).await);
}
