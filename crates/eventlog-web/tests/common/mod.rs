//! Shared test support: a real database (SQLite file or PostgreSQL), users, and a client that
//! drives the router in process (`oneshot`) with a cookie jar.
#![allow(dead_code)]

pub mod browser;

use std::collections::HashMap;

use axum::Router;
use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use chrono::{DateTime, Utc};
use eventlog::store::{Backend, Role};
use eventlog::{EventTypes, GroupId, NewEvent};
use eventlog_testing::TestDb;
use eventlog_web::{AppState, app};
use tower::ServiceExt;

pub const PASSWORD: &str = "correct horse battery";

/// A fresh store with an admin `alice` and a viewer `victor`.
pub struct Fixture {
    pub db: TestDb,
    pub store: std::sync::Arc<dyn Backend>,
}

impl Fixture {
    pub async fn new(backend: &str) -> Fixture {
        let db = TestDb::backend(backend).await;
        let store = eventlog::store::open(db.url()).await.expect("open store");
        let hash = eventlog_web::auth::password::hash_password(PASSWORD).unwrap();
        store
            .create_user("alice", &hash, Role::Admin)
            .await
            .unwrap()
            .unwrap();
        store
            .create_user("victor", &hash, Role::Viewer)
            .await
            .unwrap()
            .unwrap();
        Fixture { db, store }
    }

    /// The settings of [`Fixture::state`], to change some before `build()`.
    pub fn builder(&self) -> eventlog_web::AppStateBuilder {
        AppState::builder(self.store.clone(), EventTypes::default())
            .poll_interval(std::time::Duration::from_millis(100))
    }

    pub fn state(&self) -> AppState {
        self.builder().build()
    }

    pub fn router(&self) -> Router {
        app(self.state())
    }

    /// Inserts events `(type, group, message, minutes before now)`; returns their ids.
    pub async fn insert_ago(&self, events: &[(&str, &str, &str, i64)]) -> Vec<i64> {
        let now = Utc::now();
        let events = events
            .iter()
            .map(|&(ty, group, msg, minutes)| ev(ty, group, msg, ago(now, minutes)))
            .collect();
        self.insert(events).await
    }

    /// Inserts events; returns their ids.
    pub async fn insert(&self, events: Vec<NewEvent>) -> Vec<i64> {
        self.store
            .insert_batch(&events)
            .await
            .unwrap()
            .iter()
            .map(|i| i.id)
            .collect()
    }
}

/// An event at `ts` in a named group.
pub fn ev(ty: &str, group: &str, msg: &str, ts: DateTime<Utc>) -> NewEvent {
    let mut e = NewEvent::new(ty, GroupId::named(group).unwrap(), msg);
    e.timestamp = ts;
    e
}

/// `minutes` before `now`.
pub fn ago(now: DateTime<Utc>, minutes: i64) -> DateTime<Utc> {
    now - chrono::Duration::minutes(minutes)
}

pub fn at(rfc3339: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(rfc3339)
        .unwrap()
        .with_timezone(&Utc)
}

/// A response, read whole.
pub struct Resp {
    pub status: StatusCode,
    pub headers: axum::http::HeaderMap,
    pub body: String,
}

impl Resp {
    pub fn location(&self) -> &str {
        self.headers
            .get(header::LOCATION)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
    }
    pub fn set_cookies(&self) -> Vec<String> {
        self.headers
            .get_all(header::SET_COOKIE)
            .iter()
            .map(|v| v.to_str().unwrap().to_owned())
            .collect()
    }
}

/// A browser-like client: keeps cookies, calls the router in process.
pub struct Client {
    pub router: Router,
    pub prefix: String,
    pub cookies: HashMap<String, String>,
}

impl Client {
    pub fn new(router: Router) -> Client {
        Client {
            router,
            prefix: String::new(),
            cookies: HashMap::new(),
        }
    }

    pub async fn send(&mut self, req: Request<Body>) -> Resp {
        let resp = self.router.clone().oneshot(req).await.unwrap();
        let status = resp.status();
        let headers = resp.headers().clone();
        for c in headers.get_all(header::SET_COOKIE) {
            let c = c.to_str().unwrap();
            let (kv, attrs) = c.split_once(';').unwrap_or((c, ""));
            let (k, v) = kv.split_once('=').unwrap();
            if attrs.contains("Max-Age=0") {
                self.cookies.remove(k);
            } else {
                self.cookies.insert(k.to_owned(), v.to_owned());
            }
        }
        let bytes = axum::body::to_bytes(resp.into_body(), usize::MAX)
            .await
            .unwrap();
        Resp {
            status,
            headers,
            body: String::from_utf8_lossy(&bytes).into_owned(),
        }
    }

    fn cookie_header(&self) -> String {
        self.cookies
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join("; ")
    }

    pub fn request(&self, method: &str, path: &str) -> axum::http::request::Builder {
        Request::builder()
            .method(method)
            .uri(format!("{}{path}", self.prefix))
            .header(header::COOKIE, self.cookie_header())
    }

    pub async fn get(&mut self, path: &str) -> Resp {
        let req = self.request("GET", path).body(Body::empty()).unwrap();
        self.send(req).await
    }

    pub async fn post(&mut self, path: &str, form: &[(&str, &str)]) -> Resp {
        let body = serde_urlencoded::to_string(form).unwrap();
        let req = self
            .request("POST", path)
            .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
            .body(Body::from(body))
            .unwrap();
        self.send(req).await
    }

    /// Logs in through the form; returns the POST's response.
    pub async fn login(&mut self, user: &str, password: &str) -> Resp {
        let page = self.get("/login").await;
        assert_eq!(page.status, StatusCode::OK, "{}", page.body);
        let csrf = hidden(&page.body, "csrf");
        self.post(
            "/login",
            &[("username", user), ("password", password), ("csrf", &csrf)],
        )
        .await
    }

    /// The CSRF token of the logged-in session, taken from a page's logout form.
    pub async fn csrf(&mut self) -> String {
        let page = self.get("/groups").await;
        hidden(&page.body, "csrf")
    }
}

/// The value of the first hidden input named `name`.
pub fn hidden(html: &str, name: &str) -> String {
    let marker = format!("name=\"{name}\" value=\"");
    let start = html
        .find(&marker)
        .unwrap_or_else(|| panic!("no hidden input {name} in {html}"))
        + marker.len();
    html[start..].split('"').next().unwrap().to_owned()
}

/// Number of event rows on a list page.
pub fn row_count(html: &str) -> usize {
    html.matches("<tr data-group=").count()
}
