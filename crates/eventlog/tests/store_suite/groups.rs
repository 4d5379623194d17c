//! Groups: their events, the groups page and summaries after deletes.

#![allow(clippy::unwrap_used)] // A test: a panic is the failure report.

use super::*;

eventlog_testing::on_every_backend!(
    db: group_events_are_in_time_order, groups_page_filters_and_paginates, summaries_follow_deletes,
);

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
