//! Search: words and prefixes, frequent words, group ids, current right after a write.

#![allow(clippy::unwrap_used)] // A test: a panic is the failure report.

use super::*;

eventlog_testing::on_every_backend!(
    db: search_is_current_right_after_insert_and_delete, search_matches_word_prefixes,
    search_pages_a_frequent_word_and_a_word_others_start_with,
    search_finds_group_ids_and_their_prefix,
);

/// The search index is written in the insert transaction: an event is found as soon as it
/// is stored, with no upkeep in between, and a deleted one is gone at once.
async fn search_is_current_right_after_insert_and_delete(db: TestDb) {
    let store = open(&db).await;
    let inserted = store
        .insert_batch(&[
            ev("info", "g1", "Alpha mail sent", 1),
            ev("info", "g2", "beta MAIL queued", 2),
            ev("info", "g3", "gamma", 3),
        ])
        .await
        .unwrap();
    let mail = EventFilter {
        text: Some("mail".into()),
        ..Default::default()
    };
    assert_eq!(
        messages(&*store, &mail).await,
        ["Alpha mail sent", "beta MAIL queued"]
    );
    assert_eq!(
        store.maintain(1_000).await.unwrap(),
        0,
        "no search upkeep left"
    );
    store
        .insert_batch(&[ev("info", "g4", "delta Mail bounced", 4)])
        .await
        .unwrap();
    assert_eq!(messages(&*store, &mail).await.len(), 3);
    store.delete(&[inserted[0].id]).await.unwrap();
    assert_eq!(
        messages(&*store, &mail).await,
        ["beta MAIL queued", "delta Mail bounced"]
    );
    // A purged group's id is no longer found either.
    store.delete(&[inserted[2].id]).await.unwrap();
    let g3 = EventFilter {
        text: Some("g3".into()),
        ..Default::default()
    };
    assert!(messages(&*store, &g3).await.is_empty());
}

/// Search is by word prefix, the same on both backends: every word of the query (a run of
/// letters and digits) must start a word of the message or initiator, or every word must
/// start a word of the group id. Punctuation only separates words; LIKE wildcards mean
/// nothing.
async fn search_matches_word_prefixes(db: TestDb) {
    let store = open(&db).await;
    let mut by_user = ev("info", "g", "login", 7);
    by_user.initiator = Some("user:12345".into());
    store
        .insert_batch(&[
            ev("info", "g", "50% off", 1),
            ev("info", "g", "500 off", 2),
            ev("info", "g", "a_b", 3),
            ev("info", "g", "axb", 4),
            ev("info", "g", "back\\slash", 5),
            ev("info", "nightly-reindex", "Gateway timeout after 30 ms", 6),
            by_user,
        ])
        .await
        .unwrap();
    let f = |text: &str| EventFilter {
        text: Some(text.into()),
        ..Default::default()
    };
    assert_eq!(messages(&*store, &f("50%")).await, ["50% off", "500 off"]);
    assert_eq!(messages(&*store, &f("a_b")).await, ["a_b"]);
    assert_eq!(messages(&*store, &f("back\\sl")).await, ["back\\slash"]);
    assert!(
        messages(&*store, &f("k\\s")).await.is_empty(),
        "not a substring search"
    );
    assert!(
        messages(&*store, &f("%")).await.is_empty(),
        "no word, no match"
    );
    assert_eq!(
        messages(&*store, &f("TIME")).await,
        ["Gateway timeout after 30 ms"]
    );
    assert_eq!(messages(&*store, &f("out")).await, Vec::<String>::new());
    assert_eq!(
        messages(&*store, &f("gateway 30")).await,
        ["Gateway timeout after 30 ms"],
        "every word, in any order"
    );
    assert!(messages(&*store, &f("gateway 31")).await.is_empty());
    assert_eq!(
        messages(&*store, &f("user:1234")).await,
        ["login"],
        "initiator"
    );
    assert_eq!(
        messages(&*store, &f("nightly")).await,
        ["Gateway timeout after 30 ms"],
        "a word of the group id"
    );
    assert_eq!(
        messages(&*store, &f("nightly-re")).await,
        ["Gateway timeout after 30 ms"]
    );
}

/// A random group id is one word: its full text and its 8-character prefix both find it.
/// Enough matches that SQLite reads a frequent word along the time index (5,000 or more), and
/// words that are whole (`timeout`) or start longer words (`user`, `users`): every page, both
/// orders, is what the in-memory filter selects.
async fn search_pages_a_frequent_word_and_a_word_others_start_with(db: TestDb) {
    let store = open(&db).await;
    let mut all = Vec::new();
    for i in 0..11_000 {
        let msg = if i % 2 == 0 {
            format!("Gateway timeout {i}")
        } else {
            format!("ok {i}")
        };
        let mut e = ev("info", "g", &msg, i);
        e.initiator = Some(format!("user:{i}"));
        all.push(e);
    }
    all.push(ev("info", "g", "users report", 20_000));
    for batch in all.chunks(3_000) {
        store.insert_batch(batch).await.unwrap();
    }
    let stored = listed(&*store, &EventFilter::default(), Order::Asc, 20_000).await;
    assert_eq!(stored.len(), 11_001);
    for text in [
        "timeout",
        "TIMEOUT 10",
        "user:4242",
        "user",
        "users",
        "ok 1099",
    ] {
        let filter = EventFilter {
            text: Some(text.into()),
            ..Default::default()
        };
        for order in [Order::Desc, Order::Asc] {
            let mut want: Vec<i64> = stored
                .iter()
                .filter(|e| filter.matches(e))
                .map(|e| e.id)
                .collect();
            if order == Order::Desc {
                want.reverse();
            }
            let mut got = Vec::new();
            let mut after = None;
            // Three pages of 100 (or all there is).
            for _ in 0..3 {
                let page = store
                    .list(&filter, order, after.as_ref(), 100)
                    .await
                    .unwrap();
                got.extend(page.items.iter().map(|e| e.id));
                after = page.next;
                if after.is_none() {
                    break;
                }
            }
            want.truncate(300);
            assert_eq!(got, want, "{text:?} {order:?}");
        }
    }
    let first = |text: &str| EventFilter {
        text: Some(text.into()),
        ..Default::default()
    };
    let newest = store
        .list(&first("user"), Order::Desc, None, 1)
        .await
        .unwrap();
    assert_eq!(
        newest.items[0].message, "users report",
        "`user` starts `users`"
    );
    assert_eq!(
        messages(&*store, &first("user:4242")).await,
        ["Gateway timeout 4242"]
    );
}

async fn search_finds_group_ids_and_their_prefix(db: TestDb) {
    let store = open(&db).await;
    let group = GroupId::random();
    let mut a = NewEvent::new("info", group.clone(), "first of the group");
    a.timestamp = ev("info", "x", "x", 1).timestamp;
    let other = NewEvent::new("info", GroupId::random(), "another group");
    store.insert_batch(&[a, other]).await.unwrap();
    for text in [
        group.as_str(),
        &group.as_str()[..8],
        &group.as_str().to_uppercase(),
    ] {
        let found = messages(
            &*store,
            &EventFilter {
                text: Some(text.to_owned()),
                ..Default::default()
            },
        )
        .await;
        assert_eq!(found, ["first of the group"], "{text}");
    }
}
