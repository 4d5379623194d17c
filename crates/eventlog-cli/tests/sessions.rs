//! Admin sessions against the real `eventlog serve`, over HTTP, on both backends: `user passwd`
//! and `user remove` end a user's sessions at once, sessions end after the idle timeout and
//! at their lifetime, ended sessions are purged from the database, and `secure_cookies` gives
//! `__Host-` cookies.

use crate::support;

use std::time::{Duration, Instant};

use support::{Serve, ServeSpec, add_user, eventlog, get_with_session, http, login, set_cookie};

const PASSWORD: &str = "correct horse battery";
const SESSION: &str = "eventlog_session";

/// Rows in the `sessions` table, read with a connection of the test's own.
async fn session_rows(url: &str) -> i64 {
    let sql = "SELECT COUNT(*) FROM sessions";
    if url.starts_with("sqlite:") {
        let pool = sqlx::SqlitePool::connect(url).await.unwrap();
        let n = sqlx::query_scalar(sql).fetch_one(&pool).await.unwrap();
        pool.close().await;
        n
    } else {
        let pool = sqlx::PgPool::connect(url).await.unwrap();
        let n = sqlx::query_scalar(sql).fetch_one(&pool).await.unwrap();
        pool.close().await;
        n
    }
}

/// `eventlog serve` on `url` with the configuration `config`, after adding `users` (admins
/// with [`PASSWORD`]); the server (stopped when dropped), its URL and a client.
fn serving(url: &str, users: &[&str], config: &str) -> (Serve, String, reqwest::Client) {
    for name in users {
        add_user(url, name, PASSWORD);
    }
    let server = Serve::start(ServeSpec {
        config,
        ..ServeSpec::new(url)
    });
    let base = server.url("");
    (server, base, http(Duration::from_secs(30)))
}

fn assert_sent_to_login((status, location): (u16, String), what: &str) {
    assert_eq!(status, 303, "{what}: expected a redirect to the login page");
    assert!(location.starts_with("/login?next="), "{what}: {location}");
}

/// A logged-in admin whose password is changed with `eventlog user passwd`, and one who is
/// removed with `eventlog user remove`: their next request with the old cookie goes to the
/// login page, while another user's session goes on.
async fn passwd_and_remove_end_the_users_sessions(url: &str) {
    let (_server, base, client) = serving(url, &["alice", "bob", "carol"], "");
    let alice = login(&client, &base, "", "alice", PASSWORD).await;
    let bob = login(&client, &base, "", "bob", PASSWORD).await;
    let carol = login(&client, &base, "", "carol", PASSWORD).await;
    for s in [&alice, &bob, &carol] {
        assert_eq!(
            get_with_session(&client, &base, SESSION, s, "/events")
                .await
                .0,
            200
        );
    }

    let out = eventlog(
        url,
        &["user", "passwd", "alice", "--password-stdin"],
        Some("a new password\n"),
    );
    eventlog_testing::process::assert_success(&out);
    assert_sent_to_login(
        get_with_session(&client, &base, SESSION, &alice, "/events").await,
        "alice after user passwd",
    );
    // The new password works, the old one no longer does.
    login(&client, &base, "", "alice", "a new password").await;
    let old = support::login_response(&client, &base, "", "alice", PASSWORD).await;
    assert_eq!(old.status(), 401);

    let out = eventlog(url, &["user", "remove", "bob"], None);
    eventlog_testing::process::assert_success(&out);
    assert_sent_to_login(
        get_with_session(&client, &base, SESSION, &bob, "/groups").await,
        "bob after user remove",
    );
    // A POST with the dead session does nothing either.
    let resp = client
        .post(format!("{base}/logout"))
        .header(reqwest::header::COOKIE, format!("{SESSION}={bob}"))
        .header(
            reqwest::header::CONTENT_TYPE,
            "application/x-www-form-urlencoded",
        )
        .body(support::form(&[("csrf", "x")]))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 303);

    // Nobody else was logged out.
    assert_eq!(
        get_with_session(&client, &base, SESSION, &carol, "/events")
            .await
            .0,
        200
    );
}

/// With `session_idle_timeout = "2s"`: a session used every half second stays valid well past
/// two seconds; left alone for longer than two seconds, it ends.
async fn idle_sessions_end_and_busy_ones_do_not(url: &str) {
    let (_server, base, client) =
        serving(url, &["alice"], "[server]\nsession_idle_timeout = \"2s\"\n");
    let session = login(&client, &base, "", "alice", PASSWORD).await;
    let start = Instant::now();
    while start.elapsed() < Duration::from_secs(5) {
        let (status, location) =
            get_with_session(&client, &base, SESSION, &session, "/groups").await;
        assert_eq!(
            status,
            200,
            "a busy session ended after {:?} ({location})",
            start.elapsed()
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    tokio::time::sleep(Duration::from_millis(2_500)).await;
    assert_sent_to_login(
        get_with_session(&client, &base, SESSION, &session, "/groups").await,
        "a session idle for 2.5 s",
    );
}

/// With `session_lifetime = "3s"`: a session ends three seconds after login however busy.
async fn sessions_end_at_their_lifetime(url: &str) {
    let (_server, base, client) = serving(url, &["alice"], "[server]\nsession_lifetime = \"3s\"\n");
    let resp = support::login_response(&client, &base, "", "alice", PASSWORD).await;
    let set = set_cookie(&resp, SESSION)
        .expect("session cookie")
        .to_owned();
    assert!(set.split(';').any(|a| a.trim() == "Max-Age=3"), "{set}");
    let session = support::cookie_value(&set);
    let start = Instant::now();
    let ended = loop {
        let (status, _) = get_with_session(&client, &base, SESSION, &session, "/groups").await;
        if status != 200 {
            break start.elapsed();
        }
        assert!(
            start.elapsed() < Duration::from_secs(15),
            "session never ended"
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    };
    assert!(
        ended >= Duration::from_millis(2_500),
        "ended early: {ended:?}"
    );
    assert_sent_to_login(
        get_with_session(&client, &base, SESSION, &session, "/groups").await,
        "a session past its lifetime",
    );
}

/// Sessions that ended by idling are deleted from the database by the server itself (not
/// only refused): after a login following the idle timeout, only the new session is left.
async fn ended_sessions_are_purged_from_the_database(url: &str) {
    let (_server, base, client) = serving(
        url,
        &["alice", "bob"],
        "[server]\nsession_idle_timeout = \"1s\"\n",
    );
    login(&client, &base, "", "alice", PASSWORD).await;
    login(&client, &base, "", "alice", PASSWORD).await;
    assert_eq!(session_rows(url).await, 2);
    tokio::time::sleep(Duration::from_millis(1_500)).await;
    let bob = login(&client, &base, "", "bob", PASSWORD).await;
    let start = Instant::now();
    loop {
        let rows = session_rows(url).await;
        if rows == 1 {
            break;
        }
        assert!(
            start.elapsed() < Duration::from_secs(10),
            "{rows} sessions are still stored: idle sessions are not purged"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(
        get_with_session(&client, &base, SESSION, &bob, "/groups")
            .await
            .0,
        200,
        "the purge took the live session too"
    );
}

/// With `secure_cookies = true`: every cookie is `Secure`, `HttpOnly`, `__Host-`-prefixed,
/// `Path=/` and without `Domain` (what the prefix requires, so that browsers accept it only
/// over HTTPS and no sibling subdomain can plant one); the unprefixed name is not accepted.
async fn secure_cookies_are_host_prefixed(url: &str) {
    let (_server, base, client) = serving(url, &["alice"], "[server]\nsecure_cookies = true\n");
    let page = client.get(format!("{base}/login")).send().await.unwrap();
    assert!(
        set_cookie(&page, "eventlog_login_csrf").is_none(),
        "an unprefixed cookie was set"
    );
    let resp = support::login_response(&client, &base, "__Host-", "alice", PASSWORD).await;
    assert_eq!(resp.status(), 303);
    let cookies: Vec<String> = resp
        .headers()
        .get_all(reqwest::header::SET_COOKIE)
        .iter()
        .map(|v| v.to_str().unwrap().to_owned())
        .collect();
    assert!(!cookies.is_empty());
    for c in &cookies {
        let attrs: Vec<&str> = c.split(';').map(str::trim).collect();
        assert!(attrs[0].starts_with("__Host-"), "{c}");
        for wanted in ["Secure", "HttpOnly", "Path=/", "SameSite=Lax"] {
            assert!(attrs.contains(&wanted), "{wanted} missing: {c}");
        }
        assert!(
            !attrs
                .iter()
                .any(|a| a.to_ascii_lowercase().starts_with("domain")),
            "{c}"
        );
    }
    let session = support::cookie_value(
        set_cookie(&resp, "__Host-eventlog_session").expect("__Host-eventlog_session"),
    );
    assert_eq!(
        get_with_session(
            &client,
            &base,
            "__Host-eventlog_session",
            &session,
            "/events"
        )
        .await
        .0,
        200
    );
    assert_sent_to_login(
        get_with_session(&client, &base, SESSION, &session, "/events").await,
        "the session under the unprefixed cookie name",
    );
}

eventlog_testing::on_both_backends!(
    passwd_and_remove_end_the_users_sessions,
    idle_sessions_end_and_busy_ones_do_not,
    sessions_end_at_their_lifetime,
    ended_sessions_are_purged_from_the_database,
    secure_cookies_are_host_prefixed
);
