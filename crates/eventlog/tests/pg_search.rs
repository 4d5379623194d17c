//! PostgreSQL search plans that read the index's word statistics (`ANALYZE`): a word found
//! in every event beside a rare one (`user:2999`), and a word in more events than a plan
//! counts. The plans change how the matches are found, never which: every result is checked
//! against the search's meaning (each query word starts a word of the message or initiator).

#![allow(clippy::unwrap_used)] // A test: a panic is the failure report.

use std::collections::BTreeSet;

use eventlog::store::postgres::PostgresStore;
use eventlog::store::{self, EventFilter, Order, Store};
use eventlog::{GroupId, NewEvent};
use eventlog_testing::TestDb;

use crate::support::listed;

const EVENTS: usize = 12_000;

fn search(text: &str) -> EventFilter {
    EventFilter {
        text: Some(text.into()),
        ..EventFilter::default()
    }
}

/// Every page of a search, as (message, initiator).
/// Runs ANALYZE on the events, then counts the statistics of the word index (of the tables
/// whose name is LIKE `tables`) that list `word` among their most common words.
async fn analyze_and_count_common(pool: &sqlx::PgPool, tables: &str, word: &str) -> i64 {
    sqlx::query("ANALYZE events").execute(pool).await.unwrap();
    sqlx::query_scalar(
        "SELECT count(*) FROM pg_stats WHERE attname = 'eventlog_words' \
         AND tablename LIKE $1 AND $2 = ANY(most_common_elems::text::text[])",
    )
    .bind(tables)
    .bind(word)
    .fetch_one(pool)
    .await
    .unwrap()
}

async fn all_matches(store: &dyn Store, text: &str) -> BTreeSet<(String, Option<String>)> {
    let mut out = BTreeSet::new();
    let mut after = None;
    loop {
        let page = store
            .list(&search(text), Order::Desc, after.as_ref(), 500)
            .await
            .unwrap();
        out.extend(
            page.items
                .iter()
                .map(|e| (e.message.clone(), e.initiator.clone())),
        );
        match page.next {
            Some(c) => after = Some(c),
            None => return out,
        }
    }
}

#[tokio::test]
async fn searches_planned_from_word_statistics_find_the_same_events() {
    let db = TestDb::postgres().await;
    let store = store::open(db.url()).await.unwrap();
    let pg = PostgresStore::connect(db.url()).await.unwrap();
    let group = GroupId::named("stats").unwrap();
    let mut events: Vec<NewEvent> = (0..EVENTS)
        .map(|i| {
            let mut e = NewEvent::new("info", group.clone(), format!("Step {i} done"));
            e.initiator = Some(format!("user:{i}"));
            e
        })
        .collect();
    // `user` starts a word of the message here, `2999` is the initiator's.
    let mut prefix = NewEvent::new("info", group.clone(), "userland sync");
    prefix.initiator = Some("svc:2999".into());
    // Neither: no word starts with `user`.
    let mut other = NewEvent::new("info", group.clone(), "usr sync");
    other.initiator = Some("usr:2999".into());
    events.push(prefix);
    events.push(other);
    for batch in events.chunks(3_000) {
        store.insert_batch(batch).await.unwrap();
    }
    let expected: BTreeSet<(String, Option<String>)> = [
        ("Step 2999 done".to_owned(), Some("user:2999".to_owned())),
        ("userland sync".to_owned(), Some("svc:2999".to_owned())),
    ]
    .into_iter()
    .collect();

    // Before ANALYZE (no statistics) and after it (`user` in every event, `2999` rare).
    assert_eq!(all_matches(store.as_ref(), "user:2999").await, expected);
    let common = analyze_and_count_common(pg.pool(), "%", "user").await;
    let fresh = store::open(db.url()).await.unwrap();
    assert!(
        common >= 1,
        "ANALYZE keeps `user` among the index's common words"
    );
    assert_eq!(all_matches(fresh.as_ref(), "user:2999").await, expected);
    assert_eq!(all_matches(fresh.as_ref(), "USER 2999").await, expected);

    // One word in more events than a plan counts: the first page is the newest matches,
    // and paging reaches every one of them (not `usr`).
    let newest = listed(fresh.as_ref(), &search("user"), Order::Desc, 100).await;
    assert_eq!(newest.len(), 100);
    assert_eq!(newest[0].message, "userland sync");
    assert_eq!(newest[1].message, format!("Step {} done", EVENTS - 1));
    let everything = all_matches(fresh.as_ref(), "user").await;
    assert_eq!(everything.len(), EVENTS + 1);
    assert!(!everything.contains(&("usr sync".to_owned(), Some("usr:2999".to_owned()))));
    // A word the statistics do not know stays found by the index.
    assert_eq!(
        all_matches(fresh.as_ref(), "userland").await.len(),
        1,
        "userland"
    );
}

/// An event of `group` at `ts` with `message` and `initiator`.
fn event_at(
    group: &GroupId,
    ts: chrono::DateTime<chrono::Utc>,
    message: &str,
    initiator: &str,
) -> NewEvent {
    let mut e = NewEvent::new("info", group.clone(), message);
    e.timestamp = ts;
    e.initiator = Some(initiator.into());
    e
}

#[tokio::test]
async fn a_word_in_most_events_of_every_partition_is_tested_on_the_rare_words_rows() {
    let db = TestDb::postgres().await;
    let store = store::open(db.url()).await.unwrap();
    let pg = PostgresStore::connect(db.url()).await.unwrap();
    let now = chrono::Utc::now();
    let start = now - chrono::Duration::days(100);
    pg.create_partitions(start, now).await.unwrap();
    // Four months, `user` in every event (its initiator), 2999 in a few.
    let group = GroupId::named("crowd").unwrap();
    let at = |i: usize| start + chrono::Duration::minutes(10 * i as i64);
    let mut events: Vec<NewEvent> = (0..EVENTS)
        .map(|i| {
            event_at(
                &group,
                at(i),
                &format!("Step {i} done"),
                &format!("user:{i}"),
            )
        })
        .collect();
    // Matches, in other partitions: the common word after a space (the initiator), at the
    // start of the message, after punctuation (only splitting the text into words finds it).
    let odd = GroupId::named("odd").unwrap();
    let matching = [
        (100, "Step two done", "user:2999"),
        (5_000, "userland 2999 sync", "svc:1"),
        (9_000, "seen by x:User 29990", "svc:2"),
    ];
    // Not matches: no word starts with `user` (`user` inside a word, or `usr`).
    let other = [
        (200, "abuser 2999 sync", "svc:3"),
        (7_000, "usr 2999 sync", "usr:2999"),
    ];
    for (i, message, initiator) in matching.iter().chain(&other) {
        events.push(event_at(
            &odd,
            at(*i) + chrono::Duration::seconds(1),
            message,
            initiator,
        ));
    }
    // A group whose id has both words: each of its events matches.
    let named = GroupId::named("user-2999-batch").unwrap();
    events.push(event_at(&named, at(3_000), "nothing here", "svc:4"));
    for batch in events.chunks(3_000) {
        store.insert_batch(batch).await.unwrap();
    }
    let partitions = analyze_and_count_common(pg.pool(), "events_p%", "user").await;
    assert!(
        partitions >= 3,
        "`user` is common in each partition's statistics ({partitions})"
    );

    let fresh = PostgresStore::connect(db.url()).await.unwrap();
    let plan = fresh.search_plan("user:2999").await.unwrap().unwrap();
    assert_eq!(plan.looked_up, ["2999"], "{plan:?}");
    assert_eq!(plan.tested, ["user"], "{plan:?}");
    assert!(plan.few, "{plan:?}");
    let expected: BTreeSet<(String, Option<String>)> = matching
        .iter()
        .map(|(_, m, i)| ((*m).to_owned(), Some((*i).to_owned())))
        .chain([
            ("Step 2999 done".to_owned(), Some("user:2999".to_owned())),
            ("nothing here".to_owned(), Some("svc:4".to_owned())),
        ])
        .collect();
    let fresh = store::open(db.url()).await.unwrap();
    assert_eq!(all_matches(fresh.as_ref(), "user:2999").await, expected);

    // Paged one by one, both ways, and with the rest of a filter: the same events.
    for order in [Order::Desc, Order::Asc] {
        let mut seen = Vec::new();
        let mut after = None;
        loop {
            let page = fresh
                .list(&search("user 2999"), order, after.as_ref(), 1)
                .await
                .unwrap();
            seen.extend(page.items.iter().map(|e| e.timestamp));
            match page.next {
                Some(c) => after = Some(c),
                None => break,
            }
        }
        assert_eq!(seen.len(), expected.len(), "{order:?}");
        assert!(
            seen.windows(2).all(|w| match order {
                Order::Desc => w[0] > w[1],
                Order::Asc => w[0] < w[1],
            }),
            "{order:?}: {seen:?}"
        );
    }
    let in_group = EventFilter {
        group: Some("odd".into()),
        since: Some(at(1_000)),
        ..search("user:2999")
    };
    let page = fresh.list(&in_group, Order::Desc, None, 10).await.unwrap();
    let messages: Vec<&str> = page.items.iter().map(|e| e.message.as_str()).collect();
    assert_eq!(messages, ["seen by x:User 29990", "userland 2999 sync"]);
    // The chart counts what the list shows.
    let counts = fresh
        .histogram_newest(&search("user:2999"), 10_001, 1_000)
        .await
        .unwrap();
    assert_eq!(counts.total, expected.len() as u64);
    assert_eq!(counts.counted, store::Counted::All);
    assert_eq!(
        fresh
            .histogram_newest(&in_group, 10_001, 1_000)
            .await
            .unwrap()
            .total,
        2
    );
}
