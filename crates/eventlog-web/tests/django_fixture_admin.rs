//! A database written by django-eventlog 2.2.2 (the shared SQLite fixture), imported with
//! `eventlog::django`, viewed in the admin: the legacy type in title case, the unicode text,
//! the data django-eventlog could not serialize shown as the string it stored.

use crate::common;

use axum::http::StatusCode;
use common::{Client, Fixture, PASSWORD};
use eventlog::django::DjangoSource;

mod sqlite {
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn imported_fixture_in_the_admin() {
        super::imported_fixture_in_the_admin("sqlite").await;
    }
}

mod postgres {
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn imported_fixture_in_the_admin() {
        super::imported_fixture_in_the_admin("postgres").await;
    }
}

/// The first `/events/ID` link of a page (ID numeric).
fn first_event_link(html: &str) -> String {
    html.match_indices("href=\"/events/")
        .map(|(i, m)| &html[i + m.len()..])
        .find_map(|rest| {
            let id: String = rest.chars().take_while(char::is_ascii_digit).collect();
            (!id.is_empty()).then(|| format!("/events/{id}"))
        })
        .unwrap_or_else(|| panic!("no event link in {html}"))
}

async fn imported_fixture_in_the_admin(backend: &str) {
    let fx = Fixture::new(backend).await;
    let dir = tempfile::tempdir().unwrap();
    let source = DjangoSource::open(
        eventlog_testing::fixtures::django_sqlite_copy(dir.path())
            .to_str()
            .unwrap(),
    )
    .await
    .unwrap();
    assert!(source.has_data());
    let summary = source
        .import_into(fx.store.as_ref(), 500, |_| {})
        .await
        .unwrap();
    source.close().await;
    assert_eq!((summary.read, summary.created), (1_013, 1_013));

    let mut c = Client::new(fx.router());
    assert_eq!(
        c.login("victor", PASSWORD).await.status,
        StatusCode::SEE_OTHER
    );

    // A type no longer configured shows as its name in title case, as in django-eventlog.
    let legacy = c.get("/events?group=legacy").await;
    assert_eq!(legacy.status, StatusCode::OK, "{}", legacy.body);
    assert!(legacy.body.contains("Legacy_Event"), "{}", legacy.body);
    assert!(legacy.body.contains("Left over from an old type"));

    let order = c.get("/events?group=Order+1234&type=warning").await;
    assert_eq!(order.status, StatusCode::OK, "{}", order.body);
    assert!(
        order.body.contains("Ünïcödé ✓ — ordre reçu"),
        "{}",
        order.body
    );
    let page = c.get(&first_event_link(&order.body)).await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.body);
    assert!(page.body.contains("Ünïcödé ✓ — ordre reçu"));
    // The repr django-eventlog stored for data it could not serialize, shown as that string.
    assert!(
        page.body.contains("Decimal(") && page.body.contains("1.10"),
        "{}",
        page.body
    );
    // The group's other events are on its timeline.
    assert!(page.body.contains("Sent order to Shopify"), "{}", page.body);
    assert!(page.body.contains("Payment provider unreachable"));
}
