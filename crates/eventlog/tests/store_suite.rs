// Over 500 lines on purpose: the one contract every backend must meet, read as a whole.
//! The shared backend suite: every `Store` method, run once on SQLite and once on PostgreSQL.
//!
//! Each test is an `async fn(TestDb)`; `store_tests!` turns it into `sqlite::NAME` and
//! `postgres::NAME`. PostgreSQL comes from `scripts/test` (EVENTLOG_TEST_POSTGRES_URL); without
//! it the postgres tests fail, they never skip.

#![allow(clippy::unwrap_used)] // A test: a panic is the failure report.

use std::collections::HashSet;
use std::sync::Arc;

use chrono::{DateTime, Duration, TimeZone, Utc};
use eventlog::store::{
    self, Backend, Counted, Cursor, DataMatch, EventFilter, FollowCursor, GroupCursor, GroupFilter,
    NewestRequest, Order, PURGE_BATCH,
};
use eventlog::{GroupId, NewEvent};
use eventlog_testing::{PgCluster, TestDb};
use serde_json::json;

use crate::support::{charted, listed, listed_ids};

eventlog_testing::on_both_backends!(
    db: insert_and_get,
    same_uuid_twice_in_one_batch_is_stored_once,
    same_uuid_in_later_batches_is_stored_once,
    repeats_are_taken_back_from_the_right_summaries,
    imports_queue_no_mail,
    filter_by_types,
    filter_by_since_and_until,
    filter_by_text_ignores_case,
    search_is_current_right_after_insert_and_delete,
    search_matches_word_prefixes,
    search_pages_a_frequent_word_and_a_word_others_start_with,
    search_finds_group_ids_and_their_prefix,
    filter_by_group_and_initiator,
    filter_by_data_values,
    order_both_ways,
    keyset_pagination_with_identical_timestamps_loses_and_repeats_nothing,
    follow_returns_newer_events_in_id_order,
    follow_under_concurrent_writers_returns_each_event_once,
    in_memory_filter_agrees_with_the_store,
    group_events_are_in_time_order,
    groups_page_filters_and_paginates,
    summaries_follow_deletes,
    purge_by_age_and_type,
    purge_deletes_more_than_one_batch,
    count_and_histogram,
    histogram_equals_a_recount_after_inserts_repeats_deletes_and_purges,
    histogram_newest_counts_the_newest_matches,
    list_with_newest_equals_a_list_and_histogram_newest,
    nul_characters_do_not_break_a_batch,
    concurrent_writers_lose_and_duplicate_nothing,
    concurrent_batches_creating_the_same_groups_agree_on_them,
);

/// 2026-01-01T00:00:00Z plus `secs` seconds.
fn at(secs: i64) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).unwrap() + Duration::seconds(secs)
}

fn group(name: &str) -> GroupId {
    GroupId::named(name).unwrap()
}

/// An event of `ty` in group `g` at `at(secs)`.
fn ev(ty: &str, g: &str, msg: &str, secs: i64) -> NewEvent {
    let mut e = NewEvent::new(ty, group(g), msg);
    e.timestamp = at(secs);
    e
}

async fn open(db: &TestDb) -> Arc<dyn Backend> {
    store::open(db.url()).await.expect("open and migrate")
}

async fn messages(store: &dyn Backend, filter: &EventFilter) -> Vec<String> {
    let page = store.list(filter, Order::Asc, None, 1000).await.unwrap();
    page.items.into_iter().map(|e| e.message).collect()
}

async fn insert_and_get(db: TestDb) {
    let store = open(&db).await;
    assert_eq!(
        Some(store.backend()),
        eventlog::store::BackendKind::from_url(db.url())
    );
    let mut full = ev("warning", "Order 1", "All emails sent!", 5);
    full.initiator = Some("Mailer Daemon".into());
    full.data = Some(json!({"sent": 1000, "to": ["a@example.com"], "ok": true, "ratio": 0.5}));
    full.send_mail = Some("ops@example.com".into());
    let batch = vec![
        ev("info", "Order 1", "About to send 1000 mails", 1),
        full.clone(),
        ev("error", "Order 2", "Mail server quit", 9),
    ];
    let res = store.insert_batch(&batch).await.unwrap();
    assert_eq!(res.len(), 3);
    assert!(res.iter().all(|r| r.created));
    assert!(
        res[0].id < res[1].id && res[1].id < res[2].id,
        "ids follow input order: {res:?}"
    );

    let got = store.get(res[1].id).await.unwrap().expect("stored");
    assert_eq!(got.id, res[1].id);
    assert_eq!(got.uuid, full.uuid);
    assert_eq!(got.event_type, "warning");
    assert_eq!(got.group, "Order 1");
    assert_eq!(got.timestamp, at(5));
    assert_eq!(got.message, "All emails sent!");
    assert_eq!(got.data, full.data);
    assert_eq!(got.initiator.as_deref(), Some("Mailer Daemon"));
    assert_eq!(got.send_mail.as_deref(), Some("ops@example.com"));

    let plain = store.get(res[0].id).await.unwrap().unwrap();
    assert_eq!(
        (plain.data, plain.initiator, plain.send_mail),
        (None, None, None)
    );

    let by_uuid = store.get_by_uuid(batch[2].uuid).await.unwrap().unwrap();
    assert_eq!(by_uuid.id, res[2].id);
    assert!(store.get(res[2].id + 1000).await.unwrap().is_none());
    assert!(
        store
            .get_by_uuid(uuid::Uuid::new_v4())
            .await
            .unwrap()
            .is_none()
    );
    assert!(store.insert_batch(&[]).await.unwrap().is_empty());
}

async fn same_uuid_twice_in_one_batch_is_stored_once(db: TestDb) {
    let store = open(&db).await;
    let a = ev("info", "g", "a", 1);
    let b = ev("info", "g", "b", 2);
    let res = store
        .insert_batch(&[a.clone(), b, a.clone()])
        .await
        .unwrap();
    assert!(res[0].created && res[1].created);
    assert!(!res[2].created, "the repeat is not created: {res:?}");
    assert_eq!(res[2].id, res[0].id, "the repeat gets the first copy's id");
    assert_eq!(store.count(&EventFilter::default()).await.unwrap(), 2);
    let summary = store.group_summary("g").await.unwrap().unwrap();
    assert_eq!(summary.event_count, 2, "summary counts the event once");
}

async fn same_uuid_in_later_batches_is_stored_once(db: TestDb) {
    let store = open(&db).await;
    let a = ev("info", "g", "a", 1);
    let b = ev("error", "g", "b", 2);
    let first = store.insert_batch(&[a.clone(), b.clone()]).await.unwrap();
    let mut b_again = b.clone();
    b_again.message = "changed".into();
    let c = ev("info", "g", "c", 3);
    let second = store.insert_batch(&[b_again, c]).await.unwrap();
    assert!(!second[0].created);
    assert_eq!(second[0].id, first[1].id);
    assert!(second[1].created);
    assert_eq!(
        store.get(first[1].id).await.unwrap().unwrap().message,
        "b",
        "the stored event is not overwritten"
    );
    // A whole batch of repeats writes nothing and still answers with ids.
    let third = store.insert_batch(&[a, b]).await.unwrap();
    assert_eq!(
        third.iter().map(|r| (r.id, r.created)).collect::<Vec<_>>(),
        vec![(first[0].id, false), (first[1].id, false)]
    );
    assert_eq!(store.count(&EventFilter::default()).await.unwrap(), 3);
    let summary = store.group_summary("g").await.unwrap().unwrap();
    assert_eq!(summary.event_count, 3);
    assert_eq!((summary.first_at, summary.last_at), (at(1), at(3)));
}

/// A repeat (stored uuid) sent with another group, type and time: the summaries of the
/// batch's groups count only what was created, and a group made only of repeats is not kept.
async fn repeats_are_taken_back_from_the_right_summaries(db: TestDb) {
    let store = open(&db).await;
    let a = ev("error", "first", "a", 10);
    store.insert_batch(std::slice::from_ref(&a)).await.unwrap();
    let mut a_elsewhere = a.clone();
    a_elsewhere.group = group("second");
    a_elsewhere.event_type = "critical".into();
    a_elsewhere.timestamp = at(1);
    let mut only_repeat = a.clone();
    only_repeat.group = group("third");
    let res = store
        .import_batch(&[
            a_elsewhere,
            ev("info", "second", "b", 5),
            only_repeat,
            ev("info", "second", "c", 7),
        ])
        .await
        .unwrap();
    assert_eq!(
        res.iter().map(|r| r.created).collect::<Vec<_>>(),
        [false, true, false, true]
    );
    let second = store.group_summary("second").await.unwrap().unwrap();
    assert_eq!(
        (second.first_at, second.last_at, second.event_count),
        (at(5), at(7), 2),
        "the repeat's time and count are not the group's"
    );
    assert_eq!(
        second.types,
        ["info"],
        "the repeat's type is not the group's"
    );
    assert!(
        store.group_summary("third").await.unwrap().is_none(),
        "a group of repeats only is not kept"
    );
    let search = EventFilter {
        text: Some("third".into()),
        ..EventFilter::default()
    };
    assert!(messages(store.as_ref(), &search).await.is_empty());
    let first = store.group_summary("first").await.unwrap().unwrap();
    assert_eq!(
        (first.event_count, first.types.clone()),
        (1, vec!["error".to_owned()])
    );
    assert_eq!((first.first_at, first.last_at), (at(10), at(10)));
}

/// Imported events were mailed where they were recorded: importing (or re-importing) them
/// queues nothing, while recording the same kind of event does.
async fn imports_queue_no_mail(db: TestDb) {
    let store = open(&db).await;
    let mut mailed = ev("error", "g", "disk full", 1);
    mailed.send_mail = Some("ops@example.com".into());
    let res = store.import_batch(&[mailed.clone()]).await.unwrap();
    assert!(res[0].created);
    assert_eq!(
        store
            .get(res[0].id)
            .await
            .unwrap()
            .unwrap()
            .send_mail
            .as_deref(),
        Some("ops@example.com"),
        "the recipient is kept on the event"
    );
    assert_eq!(store.outbox_status().await.unwrap().queued, 0);
    store.import_batch(&[mailed]).await.unwrap();
    assert_eq!(store.outbox_status().await.unwrap().queued, 0);
    let mut recorded = ev("error", "g", "disk full again", 2);
    recorded.send_mail = Some("ops@example.com".into());
    store.insert_batch(&[recorded]).await.unwrap();
    assert_eq!(store.outbox_status().await.unwrap().queued, 1);
}

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

/// Follows from `cursor` until a read returns less than `limit`: the events and the cursor.
async fn follow_all(
    store: &dyn Backend,
    filter: &EventFilter,
    mut cursor: FollowCursor,
    limit: usize,
) -> (Vec<eventlog::Event>, FollowCursor) {
    let mut all = Vec::new();
    loop {
        let (events, next) = store.follow(filter, &cursor, limit).await.unwrap();
        let n = events.len();
        all.extend(events);
        cursor = next;
        if n < limit {
            return (all, cursor);
        }
    }
}

async fn follow_returns_newer_events_in_id_order(db: TestDb) {
    let store = open(&db).await;
    store
        .insert_batch(&[ev("info", "g", "old", 1)])
        .await
        .unwrap();
    let start = store.follow_start().await.unwrap();
    let all = EventFilter::default();
    assert!(store.follow(&all, &start, 10).await.unwrap().0.is_empty());
    let res = store
        .insert_batch(&[
            ev("info", "g", "1", 50),
            ev("error", "g", "2", 40),
            ev("info", "g", "3", 30),
            ev("error", "g", "4", 20),
        ])
        .await
        .unwrap();
    let (newer, end) = follow_all(&*store, &all, start.clone(), 10).await;
    assert_eq!(
        newer.iter().map(|e| e.id).collect::<Vec<_>>(),
        res.iter().map(|r| r.id).collect::<Vec<_>>(),
        "by id, whatever the timestamps"
    );
    // Page by page, through the text form a browser sends back.
    let (first, next) = store.follow(&all, &start, 3).await.unwrap();
    assert_eq!(first.len(), 3);
    let next: FollowCursor = next.to_string().parse().unwrap();
    let (rest, _) = store.follow(&all, &next, 3).await.unwrap();
    assert_eq!(
        rest.iter().map(|e| e.message.as_str()).collect::<Vec<_>>(),
        ["4"]
    );
    let errors = EventFilter {
        types: vec!["error".into()],
        ..Default::default()
    };
    let (newer_errors, _) = follow_all(&*store, &errors, start.clone(), 10).await;
    assert_eq!(
        newer_errors
            .iter()
            .map(|e| e.message.as_str())
            .collect::<Vec<_>>(),
        ["2", "4"]
    );
    assert!(store.follow(&all, &end, 10).await.unwrap().0.is_empty());
    // A bare id (an old link) follows the events after it.
    let (after_second, _) = follow_all(&*store, &all, FollowCursor::after_id(res[1].id), 10).await;
    assert_eq!(after_second.len(), 2);
    // A catch-up bounded by a later position stops there.
    let later = store.follow_start().await.unwrap();
    store
        .insert_batch(&[ev("info", "g", "5", 1)])
        .await
        .unwrap();
    let (caught_up, done) = follow_all(&*store, &all, start.until(&later), 2).await;
    assert_eq!(caught_up.len(), 4, "not the event stored after `later`");
    assert_eq!(done, later);
}

/// Writers on several connections while a reader follows in small pages: every event is
/// read once. On PostgreSQL one transaction also holds an event uncommitted while later
/// ones commit (ids become visible out of order): it is read once it commits.
async fn follow_under_concurrent_writers_returns_each_event_once(db: TestDb) {
    let store = open(&db).await;
    let all = EventFilter::default();
    let start = store.follow_start().await.unwrap();
    let held = match db.url().starts_with("postgres") {
        true => Some(hold_event_uncommitted(db.url(), "held back").await),
        false => None,
    };
    let writers: Vec<_> = (0..4)
        .map(|w| {
            let store = store.clone();
            tokio::spawn(async move {
                for b in 0..25 {
                    let batch: Vec<NewEvent> = (0..8)
                        .map(|i| ev("info", &format!("w{w}"), &format!("{w}-{b}-{i}"), i))
                        .collect();
                    store.insert_batch(&batch).await.unwrap();
                }
            })
        })
        .collect();
    let mut seen = Vec::new();
    let mut cursor = start;
    let mut writers_done = false;
    let mut held = held;
    loop {
        let (events, next) = store.follow(&all, &cursor, 7).await.unwrap();
        let n = events.len();
        seen.extend(events.into_iter().map(|e| e.message));
        cursor = next;
        if writers_done && held.is_none() && n < 7 {
            break;
        }
        if !writers_done && writers.iter().all(|w| w.is_finished()) {
            writers_done = true;
            if let Some(tx) = held.take() {
                // Later events were committed and read; now the earlier id commits.
                assert!(!seen.iter().any(|m| m == "held back"));
                tx.commit().await.unwrap();
            }
        }
        tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    }
    for w in writers {
        w.await.unwrap();
    }
    let stored = store.count(&all).await.unwrap() as usize;
    let unique: HashSet<&String> = seen.iter().collect();
    assert_eq!(unique.len(), seen.len(), "an event was read twice");
    assert_eq!(seen.len(), stored, "every stored event was read");
    if db.url().starts_with("postgres") {
        assert!(seen.iter().any(|m| m == "held back"));
    }
}

/// A raw transaction that inserts one event (its id drawn now) and is left open.
async fn hold_event_uncommitted(
    url: &str,
    message: &str,
) -> sqlx::Transaction<'static, sqlx::Postgres> {
    let pool = sqlx::PgPool::connect(url).await.unwrap();
    let mut tx = pool.begin().await.unwrap();
    let gid: i64 = sqlx::query_scalar(
        "INSERT INTO event_groups (group_id, first_at, last_at, event_count) \
         VALUES ('held', now(), now(), 1) RETURNING gid",
    )
    .fetch_one(&mut *tx)
    .await
    .unwrap();
    sqlx::query(
        "INSERT INTO events (ts, gid, uuid, event_type, message) VALUES (now(), $1, $2, 'info', $3)",
    )
    .bind(gid)
    .bind(uuid::Uuid::new_v4())
    .bind(message)
    .execute(&mut *tx)
    .await
    .unwrap();
    tx
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

async fn group_events_are_in_time_order(db: TestDb) {
    let store = open(&db).await;
    let res = store
        .insert_batch(&[
            ev("info", "G", "third", 30),
            ev("info", "G", "first", 10),
            ev("info", "other", "x", 20),
            ev("info", "G", "second-a", 20),
            ev("info", "G", "second-b", 20),
        ])
        .await
        .unwrap();
    let events = store.group_events("G", 100).await.unwrap();
    assert_eq!(
        events
            .iter()
            .map(|e| e.message.as_str())
            .collect::<Vec<_>>(),
        ["first", "second-a", "second-b", "third"],
        "time order, ties by id"
    );
    assert_eq!(events[1].id, res[3].id);
    assert_eq!(store.group_events("G", 2).await.unwrap().len(), 2);
    assert!(store.group_events("none", 10).await.unwrap().is_empty());
}

async fn groups_page_filters_and_paginates(db: TestDb) {
    let store = open(&db).await;
    store
        .insert_batch(&[
            ev("info", "mail-run-A", "a1", 10),
            ev("error", "mail-run-A", "a2", 20),
            ev("info", "B", "b1", 30),
            ev("info", "B", "b2", 35),
            ev("warning", "C", "c1", 40),
            ev("info", "D", "d1", 40),
        ])
        .await
        .unwrap();
    let names = |p: &store::Page<store::GroupSummary, GroupCursor>| {
        p.items.iter().map(|g| g.group.clone()).collect::<Vec<_>>()
    };
    let all = store
        .groups(&GroupFilter::default(), None, 10)
        .await
        .unwrap();
    assert_eq!(
        names(&all),
        ["D", "C", "B", "mail-run-A"],
        "last active first, ties by id desc"
    );
    let a = &all.items[3];
    assert_eq!((a.first_at, a.last_at, a.event_count), (at(10), at(20), 2));
    let mut types = a.types.clone();
    types.sort();
    assert_eq!(types, ["error", "info"]);

    let with_errors = GroupFilter {
        types: vec!["error".into(), "critical".into()],
        ..Default::default()
    };
    assert_eq!(
        names(&store.groups(&with_errors, None, 10).await.unwrap()),
        ["mail-run-A"]
    );
    let text = GroupFilter {
        text: Some("RUN-a".into()),
        ..Default::default()
    };
    assert_eq!(
        names(&store.groups(&text, None, 10).await.unwrap()),
        ["mail-run-A"]
    );
    let window = GroupFilter {
        since: Some(at(30)),
        until: Some(at(40)),
        ..Default::default()
    };
    assert_eq!(
        names(&store.groups(&window, None, 10).await.unwrap()),
        ["B"],
        "active at/after since and started before until"
    );

    let p1 = store
        .groups(&GroupFilter::default(), None, 1)
        .await
        .unwrap();
    let cursor: GroupCursor = p1.next.clone().unwrap().to_string().parse().unwrap();
    let p2 = store
        .groups(&GroupFilter::default(), Some(&cursor), 2)
        .await
        .unwrap();
    let p3 = store
        .groups(&GroupFilter::default(), p2.next.as_ref(), 2)
        .await
        .unwrap();
    assert_eq!(
        [names(&p1), names(&p2), names(&p3)].concat(),
        ["D", "C", "B", "mail-run-A"],
        "pages neither lose nor repeat groups with equal last times"
    );
    assert!(p3.next.is_none());

    let b = store.group_summary("B").await.unwrap().unwrap();
    assert_eq!(
        (b.event_count, b.types.clone()),
        (2, vec!["info".to_string()])
    );
    assert!(store.group_summary("nope").await.unwrap().is_none());
}

async fn summaries_follow_deletes(db: TestDb) {
    let store = open(&db).await;
    let res = store
        .insert_batch(&[
            ev("info", "A", "a1", 10),
            ev("error", "A", "a2", 20),
            ev("info", "A", "a3", 30),
            ev("info", "B", "b1", 40),
        ])
        .await
        .unwrap();
    let n = store
        .delete(&[res[0].id, res[1].id, 999_999])
        .await
        .unwrap();
    assert_eq!(n, 2, "only existing events count");
    assert!(store.get(res[0].id).await.unwrap().is_none());
    let a = store.group_summary("A").await.unwrap().unwrap();
    assert_eq!((a.first_at, a.last_at, a.event_count), (at(30), at(30), 1));
    assert_eq!(
        a.types,
        ["info"],
        "the error is gone from the group's types"
    );
    let errors = GroupFilter {
        types: vec!["error".into()],
        ..Default::default()
    };
    assert!(
        store
            .groups(&errors, None, 10)
            .await
            .unwrap()
            .items
            .is_empty()
    );

    assert_eq!(store.delete(&[res[2].id]).await.unwrap(), 1);
    assert!(
        store.group_summary("A").await.unwrap().is_none(),
        "an empty group disappears"
    );
    assert_eq!(
        store.group_summary("B").await.unwrap().unwrap().event_count,
        1
    );
    assert_eq!(store.delete(&[]).await.unwrap(), 0);
}

async fn purge_by_age_and_type(db: TestDb) {
    let store = open(&db).await;
    store
        .insert_batch(&[
            ev("info", "A", "old info", 10),
            ev("error", "A", "old error", 20),
            ev("error", "B", "old error B", 25),
            ev("info", "A", "new info", 100),
        ])
        .await
        .unwrap();
    let cut = at(50);
    assert_eq!(store.purge_count(cut, None).await.unwrap(), 3);
    assert_eq!(store.purge_count(cut, Some("error")).await.unwrap(), 2);
    assert_eq!(
        store.purge_count(at(10), None).await.unwrap(),
        0,
        "strictly older"
    );

    assert_eq!(store.purge(cut, Some("error")).await.unwrap(), 2);
    assert_eq!(
        messages(&*store, &EventFilter::default()).await,
        ["old info", "new info"]
    );
    assert!(store.group_summary("B").await.unwrap().is_none());
    let a = store.group_summary("A").await.unwrap().unwrap();
    assert_eq!(
        (a.first_at, a.event_count, a.types.clone()),
        (at(10), 2, vec!["info".into()])
    );

    assert_eq!(store.purge(cut, None).await.unwrap(), 1);
    let a = store.group_summary("A").await.unwrap().unwrap();
    assert_eq!(
        (a.first_at, a.last_at, a.event_count),
        (at(100), at(100), 1)
    );
    assert_eq!(store.purge(cut, None).await.unwrap(), 0);
    assert_eq!(store.count(&EventFilter::default()).await.unwrap(), 1);
}

async fn purge_deletes_more_than_one_batch(db: TestDb) {
    let store = open(&db).await;
    let old: Vec<NewEvent> = (0..PURGE_BATCH + 100)
        .map(|i| ev("info", &format!("g{}", i % 7), "old", (i % 1000) as i64))
        .collect();
    for chunk in old.chunks(2000) {
        store.insert_batch(chunk).await.unwrap();
    }
    store
        .insert_batch(&[ev("info", "g0", "new", 5000)])
        .await
        .unwrap();
    assert_eq!(
        store.purge_count(at(2000), None).await.unwrap(),
        (PURGE_BATCH + 100) as u64
    );
    assert_eq!(
        store.purge(at(2000), None).await.unwrap(),
        (PURGE_BATCH + 100) as u64
    );
    assert_eq!(store.count(&EventFilter::default()).await.unwrap(), 1);
    let g0 = store.group_summary("g0").await.unwrap().unwrap();
    assert_eq!(g0.event_count, 1);
    assert!(store.group_summary("g1").await.unwrap().is_none());
}

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

#[tokio::test]
async fn open_rejects_an_unknown_scheme() {
    let err = match store::open("mysql://u:pw@localhost/db").await {
        Err(e) => e.to_string(),
        Ok(_) => panic!("mysql must not open"),
    };
    assert!(err.contains("unsupported database URL"), "{err}");
    assert!(err.contains("postgres://"), "names what works: {err}");
    assert!(!err.contains("pw@"), "no password: {err}");
}

#[tokio::test]
async fn open_reports_an_unreachable_postgres_server() {
    // Port 1 on loopback: nothing listens there.
    let err = match store::open("postgres://u@127.0.0.1:1/db").await {
        Err(e) => e,
        Ok(_) => panic!("nothing listens on port 1"),
    };
    assert!(
        err.is_transient(),
        "a refused connection is worth retrying: {err}"
    );
    assert!(err.to_string().contains("database error"), "{err}");
}

async fn nul_characters_do_not_break_a_batch(db: TestDb) {
    let store = open(&db).await;
    // A group id cannot hold NUL at all (`GroupId::named` refuses control characters).
    assert!(GroupId::named("g\0x").is_err());
    let mut odd = ev("info", "gx", "before\0after", 1);
    odd.initiator = Some("a\0b".into());
    odd.data = Some(json!({"k\0": "v\0", "list": ["\0", 1]}));
    let res = store
        .insert_batch(&[odd, ev("info", "g", "fine", 2)])
        .await
        .unwrap();
    assert!(res.iter().all(|r| r.created), "{res:?}");
    let got = store.get(res[0].id).await.unwrap().unwrap();
    // SQLite keeps U+0000; PostgreSQL cannot store it and keeps U+FFFD instead.
    let nul = if store.backend() == eventlog::store::BackendKind::Postgres {
        "\u{fffd}"
    } else {
        "\0"
    };
    assert_eq!(got.message, format!("before{nul}after"));
    assert_eq!(got.group, "gx");
    assert_eq!(got.initiator, Some(format!("a{nul}b")));
    let mut data = serde_json::Map::new();
    data.insert(format!("k{nul}"), json!(format!("v{nul}")));
    data.insert("list".into(), json!([nul, 1]));
    assert_eq!(got.data, Some(serde_json::Value::Object(data)));
    let summary = store.group_summary(&got.group).await.unwrap().unwrap();
    assert_eq!(summary.event_count, 1);
}

#[tokio::test]
async fn postgres_store_fails_transiently_while_the_server_is_down_and_recovers() {
    let cluster = PgCluster::start().expect("start a private PostgreSQL cluster");
    let store = store::open(&cluster.url()).await.unwrap();
    store
        .insert_batch(&[ev("info", "g", "before", 1)])
        .await
        .unwrap();

    cluster.stop().unwrap();
    let err = store
        .insert_batch(&[ev("info", "g", "while down", 2)])
        .await
        .expect_err("the server is down");
    assert!(err.is_transient(), "worth retrying: {err}");

    cluster.restart().unwrap();
    let after = ev("info", "g", "after", 3);
    // Pooled connections died with the server: the pool replaces them, so a retry succeeds.
    let mut stored = false;
    for _ in 0..20 {
        match store.insert_batch(std::slice::from_ref(&after)).await {
            Ok(_) => {
                stored = true;
                break;
            }
            Err(err) => {
                assert!(err.is_transient(), "a restart is transient: {err}");
                tokio::time::sleep(std::time::Duration::from_millis(100)).await;
            }
        }
    }
    assert!(stored, "the store recovers after the restart");
    assert_eq!(
        messages(&*store, &EventFilter::default()).await,
        ["before", "after"],
        "nothing half-written while the server was down"
    );
}

async fn concurrent_writers_lose_and_duplicate_nothing(db: TestDb) {
    let store = open(&db).await;
    // 100 events every writer delivers (a retried delivery), in a different order per writer.
    let shared: Vec<NewEvent> = (0..100)
        .map(|i| ev("info", &format!("g{}", i % 5), &format!("shared {i}"), i))
        .collect();
    let mut writers = Vec::new();
    for w in 0..4 {
        let store = store.clone();
        let mut mine: Vec<NewEvent> = (0..250)
            .map(|i| {
                let ty = if i % 3 == 0 { "error" } else { "info" };
                ev(ty, &format!("g{}", i % 5), &format!("w{w} {i}"), i)
            })
            .collect();
        mine.extend(shared.iter().cloned());
        mine.rotate_left(w * 60);
        writers.push(tokio::spawn(async move {
            let mut created = 0;
            for chunk in mine.chunks(50) {
                // Writers racing on the same uuids may deadlock in PostgreSQL; that is a
                // transient error, and the writer retries the batch, as the real one does.
                let res = loop {
                    match store.insert_batch(chunk).await {
                        Ok(res) => break res,
                        Err(e) if e.is_transient() => continue,
                        Err(e) => panic!("{e}"),
                    }
                };
                created += res.iter().filter(|r| r.created).count();
            }
            created
        }));
    }
    let mut created = 0;
    for w in writers {
        created += w.await.unwrap();
    }
    assert_eq!(created, 4 * 250 + 100, "each event created exactly once");
    assert_eq!(store.count(&EventFilter::default()).await.unwrap(), 1100);
    let groups = store
        .groups(&GroupFilter::default(), None, 100)
        .await
        .unwrap();
    assert_eq!(groups.items.len(), 5);
    assert_eq!(
        groups.items.iter().map(|g| g.event_count).sum::<i64>(),
        1100
    );
    for g in &groups.items {
        let filter = EventFilter {
            group: Some(g.group.clone()),
            ..Default::default()
        };
        assert_eq!(
            g.event_count as u64,
            store.count(&filter).await.unwrap(),
            "{}",
            g.group
        );
    }
}

/// Batches written at the same time that create the same new groups (as an import's
/// overlapping batches do): each group ends up stored once, holding every event written to
/// it, with a summary that counts them.
async fn concurrent_batches_creating_the_same_groups_agree_on_them(db: TestDb) {
    let store = open(&db).await;
    store
        .insert_batch(&[ev("info", "shared", "before", 0)])
        .await
        .unwrap();
    const ROUNDS: usize = 10;
    for round in 0..ROUNDS {
        let writers: Vec<_> = (0..2)
            .map(|w| {
                let store = store.clone();
                let batch: Vec<NewEvent> = (0..90)
                    .map(|i| {
                        let g = match i % 4 {
                            0 => "shared".to_owned(),
                            k => format!("r{round}-g{k}"),
                        };
                        let ty = if i % 3 == 0 { "error" } else { "info" };
                        ev(
                            ty,
                            &g,
                            &format!("r{round} w{w} {i}"),
                            (round * 100 + i) as i64,
                        )
                    })
                    .collect();
                tokio::spawn(async move {
                    loop {
                        match store.insert_batch(&batch).await {
                            Ok(res) => break res.iter().filter(|r| r.created).count(),
                            Err(e) if e.is_transient() => continue,
                            Err(e) => panic!("{e}"),
                        }
                    }
                })
            })
            .collect();
        for w in writers {
            assert_eq!(w.await.unwrap(), 90);
        }
    }
    let groups = store
        .groups(&GroupFilter::default(), None, 100)
        .await
        .unwrap();
    assert_eq!(groups.items.len(), 1 + 3 * ROUNDS, "each group stored once");
    let mut total = 0;
    for g in &groups.items {
        let filter = EventFilter {
            group: Some(g.group.clone()),
            ..Default::default()
        };
        // Of 90 events, i % 4 == 0 and 1 are 23 each, 2 and 3 are 22 each; two writers.
        let expected = if g.group == "shared" {
            1 + 2 * 23 * ROUNDS
        } else if g.group.ends_with("g1") {
            2 * 23
        } else {
            2 * 22
        };
        assert_eq!(g.event_count as usize, expected, "{}", g.group);
        assert_eq!(
            store.count(&filter).await.unwrap(),
            expected as u64,
            "{}",
            g.group
        );
        let listed = store.group_events(&g.group, 1000).await.unwrap();
        assert_eq!(listed.len(), expected, "{}: its events listed", g.group);
        let summary = store.group_summary(&g.group).await.unwrap().unwrap();
        assert_eq!(summary.event_count as usize, expected);
        let mut types = summary.types.clone();
        types.sort();
        assert_eq!(types, ["error", "info"], "{}", g.group);
        total += expected;
    }
    assert_eq!(total, 1 + 2 * 90 * ROUNDS);
    assert_eq!(
        store.count(&EventFilter::default()).await.unwrap() as usize,
        total
    );
}
