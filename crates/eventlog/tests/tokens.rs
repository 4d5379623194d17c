//! API tokens on both backends: only hashes are stored, revoked tokens stop working.

use eventlog::store::{self, TokenError, TokenScope};
use eventlog_testing::TestDb;

async fn tokens_create_verify_list_revoke(db: TestDb) {
    let store = store::open(db.url()).await.unwrap();
    let token = store.create_token("ci", TokenScope::Ingest).await.unwrap();
    assert!(token.starts_with("evl_"));
    let verified = store.verify_token(&token).await.unwrap().expect("valid");
    assert_eq!(verified.name, "ci");
    assert_eq!(verified.scope, TokenScope::Ingest);
    assert_eq!(store.verify_token("evl_0000").await.unwrap(), None);
    assert_eq!(store.verify_token("").await.unwrap(), None);

    let err = store.create_token("ci", TokenScope::All).await.unwrap_err();
    assert!(matches!(err, TokenError::Exists(_)));
    assert_eq!(
        err.to_string(),
        "a token named \"ci\" already exists; revoke it first or choose another name"
    );
    let err = store
        .create_token("two words", TokenScope::All)
        .await
        .unwrap_err();
    assert!(err.to_string().contains("is invalid"), "{err}");

    let other = store
        .create_token("billing", TokenScope::Read)
        .await
        .unwrap();
    let list = store.list_tokens().await.unwrap();
    let names: Vec<_> = list.iter().map(|t| t.name.as_str()).collect();
    assert_eq!(names, ["billing", "ci"]);
    let scopes: Vec<_> = list.iter().map(|t| t.scope).collect();
    assert_eq!(scopes, [TokenScope::Read, TokenScope::Ingest]);
    assert!(list[1].last_used_at.is_some(), "ci was used");
    assert!(list[0].last_used_at.is_none(), "billing was not");

    assert!(store.revoke_token("ci").await.unwrap());
    assert!(!store.revoke_token("ci").await.unwrap());
    assert_eq!(store.verify_token(&token).await.unwrap(), None);
    let verified = store.verify_token(&other).await.unwrap().expect("valid");
    assert_eq!(
        (verified.name.as_str(), verified.scope),
        ("billing", TokenScope::Read)
    );
}

async fn only_the_hash_is_stored(db: TestDb) {
    let store = store::open(db.url()).await.unwrap();
    let token = store
        .create_token("secret-keeper", TokenScope::All)
        .await
        .unwrap();
    drop(store);
    if db.url().starts_with("sqlite") {
        let path = db.url().trim_start_matches("sqlite://");
        let mut bytes = std::fs::read(path).unwrap();
        for suffix in ["-wal", "-shm"] {
            if let Ok(more) = std::fs::read(format!("{path}{suffix}")) {
                bytes.extend(more);
            }
        }
        let hex = &token[4..];
        assert!(
            !bytes.windows(hex.len()).any(|w| w == hex.as_bytes()),
            "the secret is in the database file"
        );
        let hash = eventlog::store::tokens::hash_token(&token);
        assert!(bytes.windows(hash.len()).any(|w| w == hash.as_bytes()));
    } else {
        let pool = sqlx::PgPool::connect(db.url()).await.unwrap();
        let stored: Vec<String> = sqlx::query_scalar("SELECT token_hash FROM api_tokens")
            .fetch_all(&pool)
            .await
            .unwrap();
        assert_eq!(stored, [eventlog::store::tokens::hash_token(&token)]);
        assert!(!stored[0].contains(&token[4..]));
    }
}

eventlog_testing::on_both_backends!(db: tokens_create_verify_list_revoke, only_the_hash_is_stored);
