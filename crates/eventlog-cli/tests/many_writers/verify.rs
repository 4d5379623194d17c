//! The checks after a load: every acknowledged event stored once, nothing else stored, and
//! every group summary equal to a recount from the events.

use super::*;

/// Reads every stored event and every group summary through the public Store API and checks
/// them against `acked`, the uuids the writers were told are stored.
pub(super) async fn stored_exactly_once_and_summaries_recount(url: &str, acked: &HashSet<Uuid>) {
    let total_acked = acked.len();
    // Every stored event, through the public Store API, and the groups recounted from them.
    let store = store::open(url).await.expect("open the store");
    let mut stored = HashSet::with_capacity(total_acked);
    let mut recount: HashMap<String, Recount> = HashMap::new();
    let mut cursor = None;
    loop {
        let page = store
            .list(&EventFilter::default(), Order::Asc, cursor.as_ref(), 10_000)
            .await
            .unwrap();
        for e in &page.items {
            assert!(stored.insert(e.uuid), "event {} is stored twice", e.uuid);
            let r = recount.entry(e.group.clone()).or_insert_with(|| Recount {
                count: 0,
                first_at: e.timestamp,
                last_at: e.timestamp,
                types: BTreeSet::new(),
            });
            r.count += 1;
            r.first_at = r.first_at.min(e.timestamp);
            r.last_at = r.last_at.max(e.timestamp);
            r.types.insert(e.event_type.clone());
        }
        match page.next {
            Some(next) => cursor = Some(next),
            None => break,
        }
    }
    let missing: Vec<_> = acked.difference(&stored).take(10).collect();
    assert!(
        missing.is_empty(),
        "{} acknowledged events are not stored, e.g. {missing:?}",
        acked.difference(&stored).count()
    );
    let unacknowledged: Vec<_> = stored.difference(acked).take(10).collect();
    assert!(
        unacknowledged.is_empty(),
        "{} stored events were never acknowledged, e.g. {unacknowledged:?}",
        stored.difference(acked).count()
    );
    assert_eq!(
        store.count(&EventFilter::default()).await.unwrap(),
        stored.len() as u64
    );

    let mut summaries: HashMap<String, Recount> = HashMap::new();
    let mut cursor = None;
    loop {
        let page = store
            .groups(&GroupFilter::default(), cursor.as_ref(), 1_000)
            .await
            .unwrap();
        for s in &page.items {
            let old = summaries.insert(s.group.clone(), Recount::from(s));
            assert!(old.is_none(), "group {:?} is listed twice", s.group);
        }
        match page.next {
            Some(next) => cursor = Some(next),
            None => break,
        }
    }
    let mut wrong = Vec::new();
    for (group, counted) in &recount {
        match summaries.get(group) {
            Some(summary) if summary == counted => {}
            other => wrong.push(format!("{group:?}: summary {other:?}, recount {counted:?}")),
        }
    }
    for group in summaries.keys().filter(|g| !recount.contains_key(*g)) {
        wrong.push(format!("{group:?}: a summary without events"));
    }
    assert!(
        wrong.is_empty(),
        "{} of {} group summaries differ from a recount, e.g.:\n{}",
        wrong.len(),
        recount.len(),
        wrong[..wrong.len().min(10)].join("\n")
    );
    // The shared groups were written by every process; read them one by one too.
    for k in 0..SHARED_GROUPS {
        let name = shared_group(k);
        let summary = store
            .group_summary(&name)
            .await
            .unwrap()
            .expect("shared group");
        assert_eq!(Recount::from(&summary), recount[&name], "{name}");
    }
}
