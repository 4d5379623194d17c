//! A frequent word's pages and chart on a log whose ids are not all in time order (old
//! events loaded last): read among the newest events first (SQLite gathers only the matches
//! with ids a window of the newest 20,000 events holds), they are exactly the pages and
//! counts of the whole log, whether the window fills the page or the word is rare among
//! recent events.

#![allow(clippy::unwrap_used)] // A test: a panic is the failure report.

use super::*;

eventlog_testing::on_every_backend!(
    db: a_frequent_word_pages_exactly_when_ids_are_out_of_time_order,
);

const EVENTS: i64 = 30_000;

/// The words of the event at `secs`: `tick` in 40% of the events; `tock` in 6,000 of the
/// oldest 10,000 only (frequent, and absent from the newest events); `edge` in every other
/// second up to 10,050, so that only 25 of its 5,025 events are among the newest 20,000.
fn words(secs: i64) -> Vec<&'static str> {
    let mut w = vec!["event"];
    if secs % 5 < 2 {
        w.push("tick");
    }
    if secs < 10_000 && secs % 5 < 3 {
        w.push("tock");
    }
    if secs < 10_050 && secs % 2 == 0 {
        w.push("edge");
    }
    w
}

async fn a_frequent_word_pages_exactly_when_ids_are_out_of_time_order(db: TestDb) {
    let store = open(&db).await;
    // Stored in time order, except the oldest 500, loaded last: their ids are the highest.
    let secs_of = |i: i64| {
        if i < EVENTS - 500 {
            i + 500
        } else {
            i - (EVENTS - 500)
        }
    };
    let mut all: Vec<(i64, i64)> = Vec::new(); // (id, secs)
    for chunk in (0..EVENTS).collect::<Vec<_>>().chunks(5_000) {
        let secs: Vec<i64> = chunk.iter().map(|&i| secs_of(i)).collect();
        let batch: Vec<NewEvent> = secs
            .iter()
            .map(|&s| ev("info", "g", &format!("{} {s}", words(s).join(" ")), s))
            .collect();
        let ids = store.insert_batch(&batch).await.unwrap();
        all.extend(ids.iter().zip(&secs).map(|(r, &s)| (r.id, s)));
    }
    for word in ["tick", "tock", "edge"] {
        let has = |e: &(i64, i64)| words(e.1).contains(&word);
        let filter = EventFilter {
            text: Some(word.into()),
            ..Default::default()
        };
        for order in [Order::Desc, Order::Asc] {
            let mut want: Vec<&(i64, i64)> = all.iter().filter(|e| has(e)).collect();
            want.sort_by_key(|e| (e.1, e.0));
            if order == Order::Desc {
                want.reverse();
            }
            // Three pages of 100 by their cursors: each the next 100 matches, in order.
            let mut after = None;
            for page_no in 0..3 {
                let page = store
                    .list(&filter, order, after.as_ref(), 100)
                    .await
                    .unwrap();
                let got: Vec<i64> = page.items.iter().map(|e| e.id).collect();
                let expected: Vec<i64> = want[page_no * 100..(page_no + 1) * 100]
                    .iter()
                    .map(|e| e.0)
                    .collect();
                assert_eq!(got, expected, "{word} {order:?} page {page_no}");
                after = page.next;
            }
        }
        // The chart of the newest 1,000 events: every match among them counted.
        let counts = store
            .histogram_newest(&filter, 10_001, 1_000)
            .await
            .unwrap();
        let mut newest: Vec<&(i64, i64)> = all.iter().collect();
        newest.sort_by_key(|e| std::cmp::Reverse((e.1, e.0)));
        let matches = newest.iter().take(1_000).filter(|e| has(e)).count() as u64;
        assert_eq!(counts.total, matches, "{word}: chart of the newest 1,000");
    }
}
