//! `[database] read_database_url`: the admin's and the API's reads come from a streaming
//! replica made with `pg_basebackup`, writes go to the primary. Pausing the replica's replay
//! shows where each request went: new events are stored (on the primary) but not listed
//! until replay resumes.

use crate::support;

use std::time::{Duration, Instant};

use eventlog_testing::PgCluster;
use serde_json::json;
use support::{Serve, ServeSpec, http};

async fn listed(client: &reqwest::Client, server: &Serve, token: &str, group: &str) -> usize {
    let resp = client
        .get(server.url(&format!("/api/v1/events?group={group}&limit=500")))
        .bearer_auth(token)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let body: serde_json::Value = resp.json().await.unwrap();
    body["events"].as_array().unwrap().len()
}

async fn post(client: &reqwest::Client, server: &Serve, token: &str, group: &str, n: usize) {
    let body: Vec<_> = (0..n)
        .map(|i| json!({"type": "info", "message": format!("replicated {i}"), "group": group}))
        .collect();
    let resp = client
        .post(server.url("/api/v1/events"))
        .bearer_auth(token)
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 201, "{}", resp.text().await.unwrap());
}

async fn wait_listed(client: &reqwest::Client, server: &Serve, token: &str, group: &str, n: usize) {
    let started = Instant::now();
    loop {
        let seen = listed(client, server, token, group).await;
        if seen == n {
            return;
        }
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "the replica shows {seen} of {n} events of {group} after 30 s"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

async fn replica_sql(url: &str, sql: &'static str) {
    let pool = sqlx::PgPool::connect(url).await.unwrap();
    sqlx::query(sql).execute(&pool).await.unwrap();
    pool.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reads_come_from_the_replica_and_writes_from_the_primary() {
    let primary = PgCluster::start().expect("start a private PostgreSQL");
    // Reads and writes: a token of scope `all`.
    let out = support::eventlog(
        &primary.url(),
        &["token", "add", "replica", "--scope", "all"],
        None,
    );
    let token = eventlog_testing::process::stdout_of(out).trim().to_owned();
    support::add_user(&primary.url(), "ada", "correct horse battery");
    let replica = primary.start_replica().expect("start a streaming replica");
    let config = format!("[database]\nread_database_url = \"{}\"\n", replica.url());
    let server = Serve::start(ServeSpec {
        config: &config,
        ..ServeSpec::new(&primary.url())
    });
    let client = http(Duration::from_secs(20));

    post(&client, &server, &token, "streamed", 20).await;
    wait_listed(&client, &server, &token, "streamed", 20).await;

    // With replay paused, the primary stores new events but reads do not see them yet.
    replica_sql(&replica.url(), "SELECT pg_wal_replay_pause()").await;
    post(&client, &server, &token, "held", 5).await;
    let on_primary = eventlog::store::open(&primary.url())
        .await
        .unwrap()
        .group_events("held", 100)
        .await
        .unwrap();
    assert_eq!(on_primary.len(), 5, "writes go to the primary");
    assert_eq!(
        listed(&client, &server, &token, "held").await,
        0,
        "the API lists from the replica, whose replay is paused"
    );
    let one = client
        .get(server.url(&format!("/api/v1/events/{}", on_primary[0].uuid)))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(
        one.status(),
        404,
        "a single event is read from the replica too"
    );
    // The admin's list reads the replica too, and its live tail starts from the replica's
    // position: the events the replica has not replayed arrive through the tail.
    let cookie = support::session_cookie(&server, "ada", "correct horse battery").await;
    let page = client
        .get(server.url("/events"))
        .header(reqwest::header::COOKIE, &cookie)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        !page.contains("data-group=\"held\""),
        "listed from the replica"
    );
    let after = page
        .split("after=")
        .nth(1)
        .and_then(|rest| rest.split(['"', '&']).next())
        .expect("the page's live-tail position")
        .to_owned();
    let mut tail = client
        .get(server.url(&format!("/events/stream?after={after}")))
        .header(reqwest::header::COOKIE, &cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(tail.status(), 200);
    let mut streamed = String::new();
    let deadline = Instant::now() + Duration::from_secs(15);
    while streamed.matches("data-group=\"held\"").count() < 5 && Instant::now() < deadline {
        match tokio::time::timeout(Duration::from_secs(1), tail.chunk()).await {
            Ok(Ok(Some(chunk))) => streamed.push_str(&String::from_utf8_lossy(&chunk)),
            Ok(_) => break,
            Err(_) => {}
        }
    }
    assert_eq!(
        streamed.matches("data-group=\"held\"").count(),
        5,
        "the live tail brings what the replica lags behind with: {streamed}"
    );
    drop(tail);
    let group = client
        .get(server.url("/api/v1/groups/held"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(
        group.status(),
        404,
        "a group's summary is read from the replica with its events, not from the primary"
    );

    replica_sql(&replica.url(), "SELECT pg_wal_replay_resume()").await;
    wait_listed(&client, &server, &token, "held", 5).await;

    let health = client.get(server.url("/healthz")).send().await.unwrap();
    assert_eq!(health.status(), 200);
    let reads = client
        .get(server.url("/healthz/reads"))
        .send()
        .await
        .unwrap();
    assert_eq!(reads.status(), 200);
    replica.stop().unwrap();
    let health = client.get(server.url("/healthz")).send().await.unwrap();
    assert_eq!(
        health.status(),
        200,
        "ingest's health does not depend on the replica"
    );
    let reads = client
        .get(server.url("/healthz/reads"))
        .send()
        .await
        .unwrap();
    assert_eq!(
        reads.status(),
        503,
        "the reads check reports an unreachable replica"
    );
    post(&client, &server, &token, "after the replica", 3).await;
}
