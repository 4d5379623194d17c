//! The admin built from an application's `EventLog` shares its store: one connection pool
//! for recording and the admin, on SQLite and PostgreSQL, served over real HTTP while the
//! log's writer sits idle (its runtime must keep driving the connections it opened).

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use axum::http::request::Parts;
use eventlog::EventLog;
use eventlog::store::Role;
use eventlog_web::AppState;
use eventlog_web::auth::host::{HostAuth, HostUser};

/// Everyone is an admin named "test" (the host's login is not what this test is about).
struct Everyone;

#[async_trait]
impl HostAuth for Everyone {
    async fn user(&self, _: &Parts) -> Option<HostUser> {
        Some(HostUser {
            name: "test".into(),
            role: Role::Admin,
        })
    }
}

/// Server connections to the test's PostgreSQL database other than the asking one.
async fn pg_connections(url: &str) -> i64 {
    let pool = sqlx::PgPool::connect(url).await.unwrap();
    let n = sqlx::query_scalar(
        "SELECT COUNT(*) FROM pg_stat_activity \
         WHERE datname = current_database() AND pid <> pg_backend_pid()",
    )
    .fetch_one(&pool)
    .await
    .unwrap();
    pool.close().await;
    n
}

async fn admin_shares_the_logs_pool(url: &str) {
    let log = EventLog::open(url).await.unwrap();
    let state = AppState::builder_from_log(&log)
        .host_auth(Arc::new(Everyone))
        .build();
    assert!(
        Arc::ptr_eq(state.store(), &log.store()),
        "the admin uses the log's store, not a second one"
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(eventlog_web::serve(
        listener,
        eventlog_web::app(state.clone()),
        async move {
            let _ = stop_rx.await;
        },
    ));

    let group = log.group_named("one pool").unwrap();
    for i in 0..20 {
        group
            .info(format!("recorded by the library #{i}"))
            .await
            .unwrap();
    }
    log.flush().await.unwrap();
    // The writer is idle now, waiting for events: the connections it opened must still
    // answer the admin's queries.
    tokio::time::sleep(Duration::from_millis(300)).await;

    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(15))
        .build()
        .unwrap();
    let page_url = format!("http://{addr}/events?group=one%20pool");
    // Concurrent requests, so that every pooled connection (the writer's too) serves one.
    let pages = futures::future::join_all((0..12).map(|_| {
        let client = client.clone();
        let page_url = page_url.clone();
        async move {
            let resp = client
                .get(&page_url)
                .send()
                .await
                .expect("the admin answers");
            (resp.status().as_u16(), resp.text().await.unwrap())
        }
    }))
    .await;
    for (status, page) in &pages {
        assert_eq!(*status, 200, "{page}");
        assert!(page.contains("recorded by the library #0"), "{page}");
        assert!(page.contains("recorded by the library #19"), "{page}");
    }

    let pool = state.store().pool_status();
    assert!(pool.open >= 1 && pool.open <= pool.max, "{pool:?}");
    if url.starts_with("postgres") {
        // Every connection the process holds to the database belongs to that one pool.
        assert_eq!(pg_connections(url).await, i64::from(pool.open), "{pool:?}");
    }

    // Recording goes on while the admin holds the store.
    group.warning("after the pages").await.unwrap();
    log.flush().await.unwrap();
    let page = client
        .get(&page_url)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(page.contains("after the pages"));

    let _ = stop_tx.send(());
    server.await.unwrap().unwrap();
    drop(state);
    let stats = log.close().await.unwrap();
    assert_eq!(stats.stored, 21);
}

eventlog_testing::on_both_backends!(admin_shares_the_logs_pool);
