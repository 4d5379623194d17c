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
    sqlx::query("ANALYZE events")
        .execute(pg.pool())
        .await
        .unwrap();
    let fresh = store::open(db.url()).await.unwrap();
    let common: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM pg_stats WHERE attname = 'eventlog_words' \
         AND 'user' = ANY(most_common_elems::text::text[])",
    )
    .fetch_one(pg.pool())
    .await
    .unwrap();
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
