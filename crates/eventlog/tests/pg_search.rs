//! PostgreSQL search plans that read the index's word statistics (`ANALYZE`): a word found
//! in every event beside a rare one (`user:2999`), and a word in more events than a plan
//! counts. The plans change how the matches are found, never which: every result is checked
//! against the search's meaning (each query word starts a word of the message or initiator).

#![allow(clippy::unwrap_used)] // A test: a panic is the failure report.

use std::collections::BTreeSet;

use eventlog::store::postgres::PostgresStore;
use eventlog::store::{self, EventFilter, Order, Store, WriteStore};
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

/// The words function as migration 0005 wrote it: 0015 replaced its body by a cheaper one,
/// keeping the index, which is only right while both give the same words for every text.
const WORDS_0005: &str = "CREATE FUNCTION words_0005(text) RETURNS tsvector \
     LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE \
     RETURN to_tsvector('simple'::regconfig, \
     regexp_replace(left($1, 100000), '[\\x01-\\x2f\\x3a-\\x40\\x5b-\\x60\\x7b-\\x7f]+', ' ', 'g'))";

#[tokio::test]
async fn the_cheaper_words_function_gives_the_words_of_the_first_one() {
    let db = TestDb::postgres().await;
    let store = PostgresStore::connect(db.url()).await.unwrap();
    store.migrate().await.unwrap();
    let pool = store.pool();
    sqlx::query(WORDS_0005).execute(pool).await.unwrap();
    // Random text: every ASCII character, spaces, non-ASCII letters, digits, punctuation,
    // spaces (no-break, ideographic) and invisible characters (zero-width, word joiner, byte
    // order mark, a combining accent), plain letters; and runs of spaces and punctuation,
    // words over PostgreSQL's 2,047-character limit, text past the 100,000-character cut.
    // One connection, so that the seed applies to the query (the same text every run).
    let mut conn = pool.acquire().await.unwrap();
    sqlx::query("SELECT setseed(0.15)")
        .execute(&mut *conn)
        .await
        .unwrap();
    let differ: i64 = sqlx::query_scalar(
        "WITH random_text AS (\
         SELECT string_agg(CASE \
           WHEN x < 0.45 THEN chr(1 + (x * 1000)::int % 127) \
           WHEN x < 0.6 THEN ' ' \
           WHEN x < 0.7 THEN (ARRAY['é','ß','中','—','…','«',chr(160),chr(12288),chr(769),'ـ','٣','½','²', \
             'ﬁ','😀','‐','·','¿','İ','ı',chr(8288),chr(8203),chr(65279),'\\','a.b','x-1','Ω'])[1 + (x * 1000)::int % 27] \
           ELSE chr(97 + (x * 1000)::int % 26) END, '' ORDER BY k) AS t \
         FROM (SELECT g, (random() * 80)::int AS n FROM generate_series(1, 20000) g) s, \
         LATERAL (SELECT k, random() AS x FROM generate_series(0, s.n) k) c \
         GROUP BY g), \
         edge(t) AS (VALUES ('a' || repeat(' ', 5000) || 'b'), ('a' || repeat('-', 5000) || 'b'), \
           ('a' || repeat(' ', 3000) || '-' || repeat(' ', 3000) || 'b c'), \
           (repeat('x', 3000) || '  y'), (' '), ('  '), ('-'), (''), \
           (E'a\\t\\t b\\n\\n-c\\r d'), (E'\\x01 \\x02a'), (repeat('ab-cd  e.f ', 20000) || 'z'), \
           (repeat('ab-cd  e.f ', 9999) || 'a  -  b')) \
         SELECT count(*) FROM (SELECT t FROM random_text UNION ALL SELECT t FROM edge) all_text \
         WHERE eventlog_words(t)::text IS DISTINCT FROM words_0005(t)::text",
    )
    .fetch_one(&mut *conn)
    .await
    .unwrap();
    assert_eq!(differ, 0, "texts whose words differ");
}

/// A session opened before migration 0015 (another server's pool) keeps finding the word
/// index for its searches: the migration makes every session reload the index expression
/// it cached with the old function body inlined.
#[tokio::test]
async fn a_session_open_across_the_words_migration_searches_through_the_index() {
    use sqlx::Connection as _;
    let db = TestDb::postgres().await;
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("migrations/postgres");
    let mut migrator = sqlx::migrate::Migrator::new(dir).await.unwrap();
    migrator.migrations = migrator
        .migrations
        .iter()
        .filter(|m| m.version < 15)
        .cloned()
        .collect::<Vec<_>>()
        .into();
    let mut old = sqlx::PgConnection::connect(db.url()).await.unwrap();
    migrator.run(&mut old).await.unwrap();
    sqlx::query("SET enable_seqscan = off")
        .execute(&mut old)
        .await
        .unwrap();
    let before = words_plan(&mut old).await;
    assert!(
        before.contains("Index Scan") && !before.contains("Seq Scan"),
        "{before}"
    );
    store::open(db.url()).await.unwrap();
    let after = words_plan(&mut old).await;
    // The query is planned with the new body, and the index still matches it.
    assert!(after.contains(r"\x21-\x2f"), "{after}");
    assert!(
        after.contains("Index Scan") && !after.contains("Seq Scan"),
        "{after}"
    );
}

/// The plan of a word search, as text.
async fn words_plan(conn: &mut sqlx::PgConnection) -> String {
    let rows: Vec<String> = sqlx::query_scalar(
        "EXPLAIN SELECT id FROM events \
         WHERE eventlog_words(message || ' ' || coalesce(initiator, '')) \
         @@ to_tsquery('simple', 'timeout:*')",
    )
    .fetch_all(conn)
    .await
    .unwrap();
    rows.join("\n")
}
