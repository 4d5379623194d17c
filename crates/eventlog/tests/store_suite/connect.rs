//! Opening a store: unknown schemes, an unreachable server, a server that restarts.

#![allow(clippy::unwrap_used)] // A test: a panic is the failure report.

use super::*;

#[tokio::test]
async fn open_rejects_an_unknown_scheme() {
    let err = match store::open("mysql://u:pw@localhost/db").await {
        Err(e) => e.to_string(),
        Ok(_) => panic!("mysql must not open"),
    };
    assert!(err.contains("unsupported database URL"), "{err}");
    assert!(err.contains("postgres://"), "names what works: {err}");
    assert!(!err.contains("pw@"), "no password: {err}");
}

#[tokio::test]
async fn open_reports_an_unreachable_postgres_server() {
    // Port 1 on loopback: nothing listens there.
    let err = match store::open("postgres://u@127.0.0.1:1/db").await {
        Err(e) => e,
        Ok(_) => panic!("nothing listens on port 1"),
    };
    assert!(
        err.is_transient(),
        "a refused connection is worth retrying: {err}"
    );
    assert!(err.to_string().contains("database error"), "{err}");
}

#[tokio::test]
async fn postgres_store_fails_transiently_while_the_server_is_down_and_recovers() {
    let cluster = PgCluster::start().expect("start a private PostgreSQL cluster");
    let store = store::open(&cluster.url()).await.unwrap();
    store
        .insert_batch(&[ev("info", "g", "before", 1)])
        .await
        .unwrap();

    cluster.stop().unwrap();
    let err = store
        .insert_batch(&[ev("info", "g", "while down", 2)])
        .await
        .expect_err("the server is down");
    assert!(err.is_transient(), "worth retrying: {err}");

    cluster.restart().unwrap();
    let after = ev("info", "g", "after", 3);
    // Pooled connections died with the server: the pool replaces them, so a retry succeeds.
    let mut stored = false;
    for _ in 0..20 {
        match store.insert_batch(std::slice::from_ref(&after)).await {
            Ok(_) => {
                stored = true;
                break;
            }
            Err(err) => {
                assert!(err.is_transient(), "a restart is transient: {err}");
                tokio::time::sleep(std::time::Duration::from_millis(100)).await;
            }
        }
    }
    assert!(stored, "the store recovers after the restart");
    assert_eq!(
        messages(&*store, &EventFilter::default()).await,
        ["before", "after"],
        "nothing half-written while the server was down"
    );
}
