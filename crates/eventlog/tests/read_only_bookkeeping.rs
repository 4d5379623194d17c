//! "Last used" bookkeeping is best effort: on a database that refuses every write (a
//! PostgreSQL database set read-only, as a full disk or a standby would), a token still
//! verifies and a session still lets its user in, though neither can record the use.

use eventlog::store::{self, Role, TokenScope};
use eventlog_testing::TestDb;

#[tokio::test]
async fn tokens_and_sessions_verify_when_their_use_cannot_be_written() {
    let db = TestDb::postgres().await;
    let store = store::open(db.url()).await.unwrap();
    let token = store
        .create_token("reader", TokenScope::Read)
        .await
        .unwrap();
    let user = store
        .create_user("alice", "not a real hash", Role::Admin)
        .await
        .unwrap()
        .unwrap();
    let now = eventlog::event::now();
    store
        .create_session("hash", user.id, "csrf", now + chrono::Duration::hours(12))
        .await
        .unwrap();

    // Every new connection to this database refuses writes.
    let name = db.url().rsplit('/').next().unwrap().to_owned();
    let admin_url = std::env::var(eventlog_testing::POSTGRES_URL_ENV).unwrap();
    let admin = sqlx::PgPool::connect(&admin_url).await.unwrap();
    let read_only = |on: &str| {
        sqlx::raw_sql(sqlx::AssertSqlSafe(format!(
            "ALTER DATABASE {name} SET default_transaction_read_only = {on}"
        )))
    };
    read_only("on").execute(&admin).await.unwrap();
    // The store's open connections end: the ones it opens instead refuse writes.
    sqlx::raw_sql(sqlx::AssertSqlSafe(format!(
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '{name}'"
    )))
    .execute(&admin)
    .await
    .unwrap();

    // Never used: verifying records the first use, which is refused.
    let verified = store.verify_token(&token).await.expect("verifies");
    assert_eq!(verified.map(|t| t.name).as_deref(), Some("reader"));
    // Seen long enough ago that the session records this request, which is refused.
    let later = now + chrono::Duration::minutes(40);
    let session = store
        .session("hash", later, chrono::Duration::hours(1))
        .await
        .expect("the session is read");
    assert!(session.is_some(), "the session still lets alice in");
    // The database really refuses writes: the bookkeeping was tried and failed.
    let err = store
        .create_token("writer", TokenScope::All)
        .await
        .expect_err("a read-only database");
    assert!(err.to_string().contains("read-only"), "{err}");
    store.close().await;

    // Writable again, so that the test database is dropped as usual.
    read_only("off").execute(&admin).await.unwrap();
}
