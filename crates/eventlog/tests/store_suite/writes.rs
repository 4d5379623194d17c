//! Writing: inserts, repeats by uuid, imports, batches that must not break, concurrent writers.

#![allow(clippy::unwrap_used)] // A test: a panic is the failure report.

use super::*;

eventlog_testing::on_every_backend!(
    db: insert_and_get, same_uuid_twice_in_one_batch_is_stored_once,
    same_uuid_in_later_batches_is_stored_once, repeats_are_taken_back_from_the_right_summaries,
    imports_queue_no_mail, nul_characters_do_not_break_a_batch, any_json_data_reads_back_as_sent,
    concurrent_writers_lose_and_duplicate_nothing,
    concurrent_batches_creating_the_same_groups_agree_on_them,
);

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

/// `data` is any JSON value, and numbers at the edges of a double read back as sent
/// (PostgreSQL's jsonb writes the exact decimal: 309 digits for the largest double).
async fn any_json_data_reads_back_as_sent(db: TestDb) {
    let store = open(&db).await;
    let values = [
        json!([
            f64::MAX,
            f64::MIN_POSITIVE,
            5e-324,
            -1.5e300,
            u64::MAX,
            i64::MIN
        ]),
        json!("just a string"),
        json!(42),
        json!(true),
        json!({"nested": {"deep": [1, {"x": null}]}}),
    ];
    for (i, value) in values.into_iter().enumerate() {
        let mut e = ev("info", "g", "m", i as i64);
        e.data = Some(value.clone());
        let id = store.insert_batch(&[e]).await.unwrap()[0].id;
        let got = store.get(id).await.unwrap().unwrap();
        assert_eq!(got.data, Some(value));
    }
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
