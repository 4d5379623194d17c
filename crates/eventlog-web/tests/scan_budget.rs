//! A filter no index narrows (a `data.KEY` condition on a key that is not declared) is
//! answered within a budget, on a real database: the admin list says how far it scanned and
//! links to keep scanning, the API reports the scan and its `next_cursor` continues it, and
//! following either finds every match exactly once; an export streams every match, a budget
//! at a time. The budget is a number of events here
//! (a small one, so that a hundred events need several pages), never a time.

#![allow(clippy::unwrap_used)] // A test: a panic is the failure report.

use std::collections::BTreeSet;

use axum::http::StatusCode;
use chrono::Duration;
use eventlog::store::{DataKey, ScanBudget};
use eventlog_testing::api::{self as api_client, ApiClient};
use serde_json::{Value, json};

use crate::common::*;

eventlog_testing::on_both_backends!(
    backend: the_admin_list_scans_within_its_budget_and_keeps_scanning_on_request,
    an_export_no_index_narrows_streams_every_match_a_budget_at_a_time,
    the_api_reports_its_scan_and_its_cursor_continues_it,
);

/// Scans of at most 25 events a page, whatever time they take.
fn budget() -> ScanBudget {
    ScanBudget {
        time: std::time::Duration::from_secs(3600),
        events: 25,
    }
}

/// 100 events a minute apart, the newest an hour ago; every seventh has `data.kind = rare`.
/// Returns the ids of the rare ones.
async fn seventh_rare(fx: &Fixture) -> BTreeSet<i64> {
    let start = chrono::Utc::now() - Duration::minutes(160);
    let events = (0..100)
        .map(|i| {
            let mut e = ev("info", "g", &format!("m{i}"), start + Duration::minutes(i));
            let kind = if i % 7 == 0 { "rare" } else { "common" };
            e.data = Some(json!({"kind": kind}));
            e
        })
        .collect();
    let ids = fx.insert(events).await;
    ids.iter().step_by(7).copied().collect()
}

/// The ids of the rows of a list page.
fn row_ids(html: &str) -> Vec<i64> {
    html.split("data-id=\"")
        .skip(1)
        .map(|s| s.split('"').next().unwrap().parse().unwrap())
        .collect()
}

/// The `href` of the element with this id, unescaped.
fn href_of(html: &str, id: &str) -> Option<String> {
    let at = html.find(&format!("id=\"{id}\""))?;
    let tag_start = html[..at].rfind('<')?;
    let tag = &html[tag_start..];
    let href = tag.split("href=\"").nth(1)?.split('"').next()?;
    Some(href.replace("&amp;", "&").replace("&#38;", "&"))
}

async fn the_admin_list_scans_within_its_budget_and_keeps_scanning_on_request(backend: &str) {
    let fx = Fixture::new(backend).await;
    let rare = seventh_rare(&fx).await;
    let mut c = Client::new(eventlog_web::app(
        fx.builder().scan_budget(budget()).build(),
    ));
    c.login("victor", PASSWORD).await;
    let mut path = "/events?data.kind=rare".to_owned();
    let mut found = Vec::new();
    let mut pages = 0;
    loop {
        let page = c.get(&path).await;
        assert_eq!(page.status, StatusCode::OK, "{}", page.body);
        pages += 1;
        found.extend(row_ids(&page.body));
        match href_of(&page.body, "keep-scanning") {
            Some(next) => {
                let which = if pages == 1 { "the newest" } else { "the next" };
                assert!(
                    page.body
                        .contains(&format!("scanned {which} 25 events in ")),
                    "{}",
                    page.body
                );
                assert!(page.body.contains("indexed_data_keys"));
                path = next;
            }
            None => {
                // The last 0 events (100 = 4 x 25): the walk reached the end.
                assert!(page.body.contains("scanned 0 events in "), "{}", page.body);
                break;
            }
        }
        assert!(pages < 10, "the continuation must end");
    }
    assert_eq!(pages, 5);
    assert_eq!(found.len(), rare.len(), "each match once: {found:?}");
    assert_eq!(found.iter().copied().collect::<BTreeSet<_>>(), rare);
    assert!(found.windows(2).all(|w| w[0] > w[1]), "newest first");

    // Declared, the key is read through its index: one page, no scan.
    fx.store
        .index_data_keys(&[DataKey::parse("kind").unwrap()])
        .await
        .unwrap();
    let page = c.get("/events?data.kind=rare").await;
    assert_eq!(row_ids(&page.body).len(), rare.len());
    assert!(!page.body.contains("scan-note"), "{}", page.body);
}

async fn an_export_no_index_narrows_streams_every_match_a_budget_at_a_time(backend: &str) {
    let fx = Fixture::new(backend).await;
    let rare = seventh_rare(&fx).await;
    // 25 events per step: the export of 100 events is read in five bounded steps, some with
    // no match, and holds every match once.
    let mut c = Client::new(eventlog_web::app(
        fx.builder().scan_budget(budget()).build(),
    ));
    c.login("victor", PASSWORD).await;
    let export = c.get("/events/export?format=jsonl&data.kind=rare").await;
    assert_eq!(export.status, StatusCode::OK, "{}", export.body);
    let messages: BTreeSet<String> = export
        .body
        .lines()
        .map(|l| {
            serde_json::from_str::<Value>(l).unwrap()["message"]
                .as_str()
                .unwrap()
                .to_owned()
        })
        .collect();
    assert_eq!(export.body.lines().count(), rare.len());
    let want: BTreeSet<String> = (0..100).step_by(7).map(|i| format!("m{i}")).collect();
    assert_eq!(messages, want);
}

async fn the_api_reports_its_scan_and_its_cursor_continues_it(backend: &str) {
    let fx = Fixture::new(backend).await;
    let rare = seventh_rare(&fx).await;
    let token = fx
        .store
        .create_token("t", eventlog::store::TokenScope::All)
        .await
        .unwrap();
    let state = fx.builder().scan_budget(budget()).build();
    let addr = crate::common::browser::serve_router(eventlog_web::app(state)).await;
    let api = ApiClient::new(
        reqwest::Client::new(),
        format!("http://{addr}/api/v1"),
        token,
    );
    let mut found = Vec::new();
    let mut path = "/events?data.kind=rare&order=asc&limit=3".to_owned();
    loop {
        let (status, page) = api.get_json(&path).await;
        assert_eq!(status, 200, "{page}");
        let scan = &page["scan"];
        assert!(scan["hint"].as_str().unwrap().contains("indexed_data_keys"));
        found.extend(
            page["events"]
                .as_array()
                .unwrap()
                .iter()
                .map(|e| e["id"].as_i64().unwrap()),
        );
        match page["next_cursor"].as_str() {
            Some(cursor) => {
                if page["events"].as_array().unwrap().len() < 3 {
                    assert_eq!(scan["complete"], false, "{page}");
                    assert_eq!(scan["scanned"], 25, "{page}");
                }
                path = format!("/events?data.kind=rare&order=asc&limit=3&cursor={cursor}");
            }
            None => break,
        }
        assert!(found.len() <= rare.len());
    }
    assert_eq!(
        found,
        rare.iter().copied().collect::<Vec<_>>(),
        "oldest first, each once"
    );

    fx.store
        .index_data_keys(&[DataKey::parse("kind").unwrap()])
        .await
        .unwrap();
    let (_, page) = api.get_json("/events?data.kind=rare&limit=1000").await;
    assert_eq!(page["scan"], Value::Null, "the index answers: {page}");
    assert_eq!(api_client::messages(&page).len(), rare.len());
    let (_, doc) = api.get_json("/openapi.json").await;
    assert!(doc["components"]["schemas"]["ScanReport"].is_object());
}
