//! The admin mounted inside a host application under `/admin/eventlog`, with the host's own
//! authentication plugged in place of eventlog's users (SQLite and PostgreSQL).

use std::sync::Arc;

use async_trait::async_trait;
use axum::Router;
use axum::body::Body;
use axum::http::request::Parts;
use axum::http::{Request, StatusCode, header};
use axum::routing::get;
use eventlog::store::{self, Role};
use eventlog::{EventTypes, GroupId, NewEvent};
use eventlog_testing::TestDb;
use eventlog_web::auth::host::{HostAuth, HostUser};
use eventlog_web::{AppState, app};
use tower::ServiceExt;

/// The host trusts `x-user` / `x-role` (as if set by its own login middleware).
struct HeaderAuth;

#[async_trait]
impl HostAuth for HeaderAuth {
    async fn user(&self, parts: &Parts) -> Option<HostUser> {
        let name = parts.headers.get("x-user")?.to_str().ok()?.to_owned();
        let role = match parts.headers.get("x-role").and_then(|r| r.to_str().ok()) {
            Some("admin") => Role::Admin,
            _ => Role::Viewer,
        };
        Some(HostUser { name, role })
    }
    fn login_url(&self) -> Option<String> {
        Some("/account/login".into())
    }
}

async fn host(db: &TestDb) -> (Router, i64) {
    let store = store::open(db.url()).await.unwrap();
    let ids = store
        .insert_batch(&[NewEvent::new("info", GroupId::random(), "hosted <event>")])
        .await
        .unwrap();
    let state = AppState::builder(store, EventTypes::default())
        .host_auth(Arc::new(HeaderAuth))
        .build();
    let router = Router::new()
        .route("/", get(|| async { "host home" }))
        .nest("/admin/eventlog", app(state));
    (router, ids[0].id)
}

async fn body(response: axum::response::Response) -> String {
    let bytes = axum::body::to_bytes(response.into_body(), 1 << 22)
        .await
        .unwrap();
    String::from_utf8(bytes.to_vec()).unwrap()
}

fn get_as(path: &str, user: Option<(&str, &str)>) -> Request<Body> {
    let mut r = Request::get(path);
    if let Some((name, role)) = user {
        r = r.header("x-user", name).header("x-role", role);
    }
    r.body(Body::empty()).unwrap()
}

async fn anonymous_requests_go_to_the_host_login(db: TestDb) {
    let (router, _) = host(&db).await;
    let r = router
        .clone()
        .oneshot(get_as("/admin/eventlog/events", None))
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    assert_eq!(r.headers()[header::LOCATION], "/account/login");
    let home = router.oneshot(get_as("/", None)).await.unwrap();
    assert_eq!(
        body(home).await,
        "host home",
        "the host's own routes are untouched"
    );
}

async fn host_users_see_the_admin_under_the_prefix(db: TestDb) {
    let (router, id) = host(&db).await;
    let r = router
        .oneshot(get_as("/admin/eventlog/events", Some(("carol", "viewer"))))
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let html = body(r).await;
    assert!(html.contains("carol"), "the host's user is shown");
    assert!(
        html.contains(&format!("/admin/eventlog/events/{id}")),
        "links keep the prefix"
    );
    assert!(
        html.contains("/admin/eventlog/static/"),
        "assets keep the prefix"
    );
    assert!(html.contains("hosted &#60;event&#62;") || html.contains("hosted &lt;event&gt;"));
    assert!(!html.contains("hosted <event>"), "escaped");
}

async fn host_roles_and_csrf_guard_deletes(db: TestDb) {
    let (router, id) = host(&db).await;
    let form = |csrf: &str, who: (&str, &str)| {
        Request::post("/admin/eventlog/events/delete")
            .header("x-user", who.0)
            .header("x-role", who.1)
            .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
            .body(Body::from(format!("csrf={csrf}&id={id}")))
            .unwrap()
    };
    let delete = async |csrf: &str, who| router.clone().oneshot(form(csrf, who)).await.unwrap();
    let viewer = delete("x", ("carol", "viewer")).await;
    assert_eq!(viewer.status(), StatusCode::FORBIDDEN);

    let dave_gets = async |path: String| {
        let request = get_as(&path, Some(("dave", "admin")));
        router.clone().oneshot(request).await.unwrap()
    };
    let confirm = dave_gets(format!("/admin/eventlog/events/delete?id={id}")).await;
    assert_eq!(confirm.status(), StatusCode::OK);
    let html = body(confirm).await;
    let csrf = crate::common::hidden(&html, "csrf");
    for (token, who, why) in [
        ("forged", ("dave", "admin"), "a wrong CSRF token is refused"),
        (csrf.as_str(), ("erin", "admin"), "tokens are per user"),
    ] {
        let refused = delete(token, who).await;
        assert_eq!(refused.status(), StatusCode::FORBIDDEN, "{why}");
    }
    let done = delete(&csrf, ("dave", "admin")).await;
    assert_eq!(done.status(), StatusCode::SEE_OTHER);
    assert!(
        done.headers()[header::LOCATION]
            .to_str()
            .unwrap()
            .starts_with("/admin/eventlog/events")
    );
    let gone = dave_gets(format!("/admin/eventlog/events/{id}")).await;
    assert_eq!(gone.status(), StatusCode::NOT_FOUND);
}

eventlog_testing::on_both_backends!(
    db: anonymous_requests_go_to_the_host_login,
    host_users_see_the_admin_under_the_prefix,
    host_roles_and_csrf_guard_deletes,
);
