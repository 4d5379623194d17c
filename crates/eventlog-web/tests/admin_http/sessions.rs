//! Logging in and out, CSRF, rate limits, permissions, and the admin under a prefix.

use super::*;

eventlog_testing::on_both_backends!(
    backend: healthz_needs_no_login_everything_else_does,
    login_sets_a_safe_cookie_and_logout_ends_the_session,
    login_checks_csrf_and_password_and_is_rate_limited,
    delete_is_admin_only_and_needs_confirmation_and_csrf, mounts_under_a_prefix,
);

async fn healthz_needs_no_login_everything_else_does(backend: &str) {
    let fx = Fixture::new(backend).await;
    let mut c = Client::new(fx.router());
    let r = c.get("/healthz").await;
    assert_eq!((r.status, r.body.as_str()), (StatusCode::OK, "ok"));
    for path in [
        "/events",
        "/events/1",
        "/events/delete?id=1",
        "/groups",
        "/events/export?format=csv",
        "/events/stream",
    ] {
        let r = c.get(path).await;
        assert_eq!(r.status, StatusCode::SEE_OTHER, "{path}");
        assert!(
            r.location().starts_with("/login?next="),
            "{path}: {}",
            r.location()
        );
    }
    let r = c.get("/").await;
    assert_eq!(r.location(), "/events");
    for path in ["/events/delete", "/logout"] {
        let r = c.post(path, &[("id", "1")]).await;
        assert_eq!(r.status, StatusCode::SEE_OTHER, "{path}");
        assert!(r.location().starts_with("/login"), "{path}");
    }
    let css = c.get("/static/admin.css").await;
    assert!(css.body.contains("prefers-color-scheme: dark"));
}

async fn login_sets_a_safe_cookie_and_logout_ends_the_session(backend: &str) {
    let fx = Fixture::new(backend).await;
    let mut c = Client::new(fx.router());
    let r = c.login("alice", PASSWORD).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    assert_eq!(r.location(), "/events");
    let session = r
        .set_cookies()
        .into_iter()
        .find(|c| c.starts_with("eventlog_session="))
        .expect("session cookie");
    assert!(session.contains("HttpOnly"), "{session}");
    assert!(session.contains("SameSite=Lax"), "{session}");
    assert!(session.contains("Path=/;"), "{session}");
    let list = c.get("/events").await;
    assert_eq!(list.status, StatusCode::OK);
    assert!(list.body.contains("alice (admin)"));
    // Logout needs the CSRF token.
    let r = c.post("/logout", &[("csrf", "forged")]).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    assert!(r.body.contains("CSRF token mismatch"));
    let token = c.cookies["eventlog_session"].clone();
    let csrf = c.csrf().await;
    let r = c.post("/logout", &[("csrf", &csrf)]).await;
    assert_eq!(r.location(), "/login");
    assert!(!c.cookies.contains_key("eventlog_session"));
    // The old token no longer works even if replayed.
    c.cookies.insert("eventlog_session".into(), token);
    assert_eq!(c.get("/events").await.status, StatusCode::SEE_OTHER);
    // `next` brings the user back to where they were going.
    let mut c = Client::new(fx.router());
    let r = c.get("/groups?q=x").await;
    assert_eq!(r.location(), "/login?next=%2Fgroups%3Fq%3Dx");
    let page = c.get(&r.location()["".len()..]).await;
    let csrf = hidden(&page.body, "csrf");
    let r = c
        .post(
            "/login",
            &[
                ("username", "victor"),
                ("password", PASSWORD),
                ("csrf", &csrf),
                ("next", "/groups?q=x"),
            ],
        )
        .await;
    assert_eq!(r.location(), "/groups?q=x");
}

async fn login_checks_csrf_and_password_and_is_rate_limited(backend: &str) {
    let fx = Fixture::new(backend).await;
    let throttle = |burst| eventlog_web::auth::Throttle {
        burst,
        period: Duration::from_secs(60),
    };
    let state = fx
        .builder()
        .login_limits(eventlog_web::auth::LoginLimits {
            per_user: throttle(3),
            per_address: throttle(100),
            ..Default::default()
        })
        .build();
    let mut c = Client::new(eventlog_web::app(state));
    // Without the login CSRF cookie/token pair.
    let r = c
        .post(
            "/login",
            &[("username", "alice"), ("password", PASSWORD), ("csrf", "x")],
        )
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    let r = c.login("alice", "wrong password").await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    assert!(r.body.contains("Wrong user name or password."));
    assert!(r.body.contains("value=\"alice\""), "user name kept");
    let r = c.login("nobody", PASSWORD).await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    let r = c.login("alice", "wrong again").await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    let r = c.login("alice", PASSWORD).await;
    assert_eq!(
        r.status,
        StatusCode::SEE_OTHER,
        "third attempt is in the burst"
    );
    c.cookies.remove("eventlog_session");
    // The burst (3 attempts) is spent: throttled, with the wait in Retry-After.
    let r = c.login("Alice", PASSWORD).await;
    assert_eq!(r.status, StatusCode::TOO_MANY_REQUESTS);
    assert!(r.body.contains("too many attempts"));
    let wait: u64 = r.headers["retry-after"].to_str().unwrap().parse().unwrap();
    assert!((1..=60).contains(&wait), "{wait}");
    assert!(!c.cookies.contains_key("eventlog_session"));
    // Another user is not affected.
    let r = c.login("victor", PASSWORD).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
}

async fn delete_is_admin_only_and_needs_confirmation_and_csrf(backend: &str) {
    let fx = Fixture::new(backend).await;
    let t = at("2026-02-01T00:00:00Z");
    let ids = fx
        .insert(vec![
            ev("info", "D", "one", t),
            ev("info", "D", "two", t),
            ev("info", "D", "three", t),
        ])
        .await;
    let q = format!("/events/delete?id={}&id={}", ids[0], ids[1]);
    let mut viewer = Client::new(fx.router());
    viewer.login("victor", PASSWORD).await;
    assert_eq!(viewer.get(&q).await.status, StatusCode::FORBIDDEN);
    let csrf = viewer.csrf().await;
    let r = viewer
        .post(
            "/events/delete",
            &[("csrf", &csrf), ("id", &ids[0].to_string())],
        )
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    assert!(r.body.contains("only admins"));

    let mut admin = Client::new(fx.router());
    admin.login("alice", PASSWORD).await;
    let list = admin.get("/events").await;
    assert!(list.body.contains("name=\"id\""), "admins get checkboxes");
    let confirm = admin.get(&q).await;
    assert_eq!(confirm.status, StatusCode::OK);
    assert!(confirm.body.contains("Delete 2 events?"));
    assert!(confirm.body.contains(">one<") && confirm.body.contains(">two<"));
    assert!(!confirm.body.contains(">three<"));
    let (a, b) = (ids[0].to_string(), ids[1].to_string());
    let r = admin
        .post(
            "/events/delete",
            &[("csrf", "forged"), ("id", &a), ("id", &b)],
        )
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    assert!(
        fx.store.get(ids[0]).await.unwrap().is_some(),
        "nothing deleted without CSRF"
    );
    let csrf = hidden(&confirm.body, "csrf");
    let r = admin
        .post("/events/delete", &[("csrf", &csrf), ("id", &a), ("id", &b)])
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
    assert!(fx.store.get(ids[0]).await.unwrap().is_none());
    assert!(fx.store.get(ids[1]).await.unwrap().is_none());
    assert!(fx.store.get(ids[2]).await.unwrap().is_some());
    assert_eq!(
        admin.get(&format!("/events/{a}")).await.status,
        StatusCode::NOT_FOUND
    );
    let r = admin.get("/events/delete").await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert!(r.body.contains("no events selected"));
}

async fn mounts_under_a_prefix(backend: &str) {
    let fx = Fixture::new(backend).await;
    let ids = fx
        .insert(vec![ev("info", "P", "prefixed", Utc::now())])
        .await;
    let router = axum::Router::new().nest("/admin/eventlog", fx.router());
    let mut c = Client::new(router);
    c.prefix = "/admin/eventlog".into();
    let r = c.get("/events").await;
    assert_eq!(r.location(), "/admin/eventlog/login?next=%2Fevents");
    let page = c.get("/login").await;
    assert!(page.body.contains("action=\"/admin/eventlog/login\""));
    assert!(
        page.body
            .contains("href=\"/admin/eventlog/static/admin.css\"")
    );
    let r = c.login("alice", PASSWORD).await;
    assert_eq!(r.location(), "/admin/eventlog/events");
    let session = r
        .set_cookies()
        .into_iter()
        .find(|c| c.starts_with("eventlog_session="))
        .unwrap();
    assert!(session.contains("Path=/admin/eventlog;"), "{session}");
    let list = c.get("/events").await;
    assert_eq!(list.status, StatusCode::OK);
    assert!(
        list.body
            .contains(&format!("href=\"/admin/eventlog/events/{}\"", ids[0]))
    );
    assert!(list.body.contains("action=\"/admin/eventlog/logout\""));
    assert!(list.body.contains("href=\"/admin/eventlog/groups\""));
    assert!(c.get("/static/admin.js").await.body.contains("EventSource"));
    let root = c.get("").await;
    assert_eq!(root.location(), "/admin/eventlog/events");
}
