//! `[server.proxy_auth]` against the real `eventlog serve`, over real TCP connections whose
//! source address the test chooses: a client on 127.0.0.1 plays the trusted authenticating
//! proxy, a client bound to 127.0.0.2 is anybody else on the network. The headers are written
//! by hand on the socket, so hostile values (NUL, control characters, Latin-1 bytes) reach
//! the server as a real client could send them.

use crate::support;

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::time::Duration;

use support::{Serve, ServeSpec, add_user, http, login, token};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};

const CONFIG: &str = r#"
[server.proxy_auth]
trusted_proxies = ["127.0.0.1/32", "::1/128"]
user_header = "X-Forwarded-User"
groups_header = "X-Forwarded-Groups"
admin_groups = ["ops"]
"#;

const TRUSTED: IpAddr = IpAddr::V4(Ipv4Addr::new(127, 0, 0, 1));
const UNTRUSTED: IpAddr = IpAddr::V4(Ipv4Addr::new(127, 0, 0, 2));

/// An HTTP answer read off the socket.
#[derive(Debug)]
struct Answer {
    status: u16,
    head: String,
    body: String,
}

impl Answer {
    fn header(&self, name: &str) -> Option<&str> {
        self.head.lines().find_map(|line| {
            let (k, v) = line.split_once(':')?;
            k.eq_ignore_ascii_case(name).then(|| v.trim())
        })
    }

    /// Asserts the status and that the body contains `text`; a failure names `case`.
    fn assert_says(&self, status: u16, text: &str, case: &str) {
        assert_eq!(self.status, status, "{case}: {}", self.body);
        assert!(
            self.body.contains(text),
            "{case}: {text:?} missing from {}",
            self.body
        );
    }
}

/// Sends one HTTP/1.1 request from a socket bound to `from`, with `headers` written as raw
/// bytes (`name: value\r\n` each), and reads the whole answer (the connection is closed
/// after it).
async fn send(
    server: SocketAddr,
    from: IpAddr,
    method: &str,
    path: &str,
    headers: &[&[u8]],
    body: &str,
) -> Answer {
    let socket = tokio::net::TcpSocket::new_v4().unwrap();
    socket.bind(SocketAddr::new(from, 0)).unwrap();
    let mut stream = socket.connect(server).await.unwrap();
    let mut request = format!(
        "{method} {path} HTTP/1.1\r\nHost: {server}\r\nConnection: close\r\nContent-Length: {}\r\n",
        body.len()
    )
    .into_bytes();
    for h in headers {
        request.extend_from_slice(h);
        request.extend_from_slice(b"\r\n");
    }
    request.extend_from_slice(b"\r\n");
    request.extend_from_slice(body.as_bytes());
    stream.write_all(&request).await.unwrap();
    let mut raw = Vec::new();
    tokio::time::timeout(Duration::from_secs(15), stream.read_to_end(&mut raw))
        .await
        .expect("the server answers within 15 s")
        .unwrap();
    let text = String::from_utf8_lossy(&raw).into_owned();
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    let status = head
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("no status line in {text:?}"));
    Answer {
        status,
        head: head.to_owned(),
        body: body.to_owned(),
    }
}

async fn get(server: SocketAddr, from: IpAddr, path: &str, headers: &[&[u8]]) -> Answer {
    send(server, from, "GET", path, headers, "").await
}

/// `POST /api/v1/events` of the JSON `event` with a bearer `token`.
async fn post_event(server: SocketAddr, from: IpAddr, token: &str, event: &str) -> Answer {
    let auth = format!("Authorization: Bearer {token}");
    let headers: &[&[u8]] = &[auth.as_bytes(), b"Content-Type: application/json"];
    send(server, from, "POST", "/api/v1/events", headers, event).await
}

/// The CSRF token of a page's forms.
fn csrf_of(page: &str) -> String {
    let at = page
        .find(r#"name="csrf" value=""#)
        .expect("a form with a CSRF token")
        + r#"name="csrf" value=""#.len();
    page[at..].split('"').next().unwrap().to_owned()
}

/// The password the tests give the stored user `carol`.
const CAROL_PASSWORD: &str = "correct horse battery";

/// Logs `carol` in through the form; her session cookie's value.
async fn log_in_carol(server: &Serve) -> String {
    let client = http(Duration::from_secs(30));
    login(&client, &server.url(""), "", "carol", CAROL_PASSWORD).await
}

fn start(url: &str) -> Serve {
    let mut spec = ServeSpec::new(url);
    spec.config = CONFIG;
    Serve::start(spec)
}

/// From the trusted proxy's address, the header logs the user in with the role its groups
/// give, without any stored user or password; the same header from 127.0.0.2 is refused
/// with 403 on every route, even with a valid session or token.
#[tokio::test]
async fn the_header_is_believed_from_the_proxy_only() {
    let db = eventlog_testing::TestDb::sqlite();
    let server = start(db.url());
    let addr = server.addr;

    let roles: [(&[&[u8]], &str); 2] = [
        (
            &[b"X-Forwarded-User: ann", b"X-Forwarded-Groups: dev, ops"],
            r#"ann <span class="role">(admin)</span>"#,
        ),
        (
            &[b"X-Forwarded-User: bob", b"X-Forwarded-Groups: dev,opsx"],
            r#"bob <span class="role">(viewer)</span>"#,
        ),
    ];
    for (headers, shown) in roles {
        get(addr, TRUSTED, "/events", headers)
            .await
            .assert_says(200, shown, shown);
    }
    // Admin-only pages follow the role.
    let confirm = "/events/delete?id=1";
    assert_eq!(
        get(addr, TRUSTED, confirm, &[b"X-Forwarded-User: bob"])
            .await
            .status,
        403
    );
    // Nobody was stored: proxy users need no password row.
    let users = support::eventlog(db.url(), &["user", "list"], None);
    let listed = String::from_utf8_lossy(&users.stdout);
    assert!(
        !listed.contains("ann") && !listed.contains("bob"),
        "{listed}"
    );

    // The same headers from another address: refused, whatever the route.
    for path in ["/events", "/login", "/groups", "/api/v1/events"] {
        let headers: &[&[u8]] = &[b"X-Forwarded-User: ann", b"X-Forwarded-Groups: ops"];
        get(addr, UNTRUSTED, path, headers).await.assert_says(
            403,
            "only accepted from the authenticating proxy",
            path,
        );
    }
    // A groups header alone is refused too (it could make a logged-in viewer an admin).
    let groups_only = get(addr, UNTRUSTED, "/events", &[b"X-Forwarded-Groups: ops"]).await;
    assert_eq!(groups_only.status, 403);
    // A real session does not make a spoofed header acceptable.
    add_user(db.url(), "carol", CAROL_PASSWORD);
    let session = log_in_carol(&server).await;
    let cookie = format!("Cookie: eventlog_session={session}");
    let with_session = get(addr, UNTRUSTED, "/events", &[cookie.as_bytes()]).await;
    assert_eq!(with_session.status, 200, "the session alone works");
    let spoofed = get(
        addr,
        UNTRUSTED,
        "/events",
        &[cookie.as_bytes(), b"X-Forwarded-User: ann"],
    )
    .await;
    assert_eq!(spoofed.status, 403);
    assert!(
        server.log().contains("untrusted address"),
        "{}",
        server.log()
    );
}

/// Without the header, a trusted address gets eventlog's own login (a redirect to the login
/// page, and a password login works), and API tokens work from anywhere.
#[tokio::test]
async fn without_the_header_login_and_tokens_work_as_before() {
    let db = eventlog_testing::TestDb::sqlite();
    add_user(db.url(), "carol", CAROL_PASSWORD);
    let all = {
        let out = support::eventlog(db.url(), &["token", "add", "ops", "--scope", "all"], None);
        assert!(out.status.success());
        String::from_utf8(out.stdout).unwrap().trim().to_owned()
    };
    let ingest = token(db.url());
    let server = start(db.url());
    let addr = server.addr;

    let anonymous = get(addr, TRUSTED, "/events", &[]).await;
    assert_eq!(anonymous.status, 303);
    assert!(
        anonymous
            .header("location")
            .is_some_and(|l| l.starts_with("/login?next=")),
        "{anonymous:?}"
    );
    log_in_carol(&server).await;

    let event = r#"{"type":"info","message":"through the API","group":"g1"}"#;
    for from in [TRUSTED, UNTRUSTED] {
        let posted = post_event(addr, from, &ingest, event).await;
        assert_eq!(posted.status, 201, "{from}: {}", posted.body);
    }
    let auth = format!("Authorization: Bearer {all}");
    let listed = get(addr, UNTRUSTED, "/api/v1/events", &[auth.as_bytes()]).await;
    assert_eq!(listed.status, 200);
    assert_eq!(listed.body.matches("through the API").count(), 2);
}

/// A proxy user's state-changing requests still need the page's CSRF token: an admin
/// deletes with it, and is refused without it or with another user's.
#[tokio::test]
async fn csrf_stays_on_for_proxy_users() {
    let db = eventlog_testing::TestDb::sqlite();
    let ingest = token(db.url());
    let server = start(db.url());
    let addr = server.addr;
    let posted = post_event(
        addr,
        TRUSTED,
        &ingest,
        r#"{"type":"info","message":"to delete","group":"g1"}"#,
    )
    .await;
    assert_eq!(posted.status, 201, "{}", posted.body);
    let id: serde_json::Value = serde_json::from_str(&posted.body).unwrap();
    let id = id["ids"][0].as_i64().unwrap();

    let ann: &[&[u8]] = &[
        b"X-Forwarded-User: ann",
        b"X-Forwarded-Groups: ops",
        b"Content-Type: application/x-www-form-urlencoded",
    ];
    let confirm = get(addr, TRUSTED, &format!("/events/delete?id={id}"), ann).await;
    assert_eq!(confirm.status, 200, "{}", confirm.body);
    let csrf = csrf_of(&confirm.body);
    let other = csrf_of(
        &get(
            addr,
            TRUSTED,
            "/events",
            &[b"X-Forwarded-User: dan", b"X-Forwarded-Groups: ops"],
        )
        .await
        .body,
    );
    assert_ne!(csrf, other, "each user has a token of their own");
    for bad in [format!("id={id}"), format!("id={id}&csrf={other}")] {
        send(addr, TRUSTED, "POST", "/events/delete", ann, &bad)
            .await
            .assert_says(403, "CSRF", &bad);
    }
    let deleted = send(
        addr,
        TRUSTED,
        "POST",
        "/events/delete",
        ann,
        &format!("id={id}&csrf={csrf}"),
    )
    .await;
    assert_eq!(deleted.status, 303, "{}", deleted.body);
    assert_eq!(
        get(addr, TRUSTED, &format!("/events/{id}"), ann)
            .await
            .status,
        404
    );
}

/// Hostile user headers from the trusted address get a 4xx, never a login or a 5xx: empty,
/// blank, too long, control characters, NUL, invalid UTF-8, sent twice, and a huge groups
/// header. A valid non-ASCII name is accepted.
#[tokio::test]
async fn hostile_header_values_are_refused() {
    let db = eventlog_testing::TestDb::sqlite();
    let server = start(db.url());
    let addr = server.addr;
    let long = format!("X-Forwarded-User: {}", "a".repeat(151));
    let groups = format!(
        "X-Forwarded-User: ann\r\nX-Forwarded-Groups: {}",
        "g,".repeat(5000)
    );
    let cases: Vec<(&str, Vec<u8>)> = vec![
        ("empty", b"X-Forwarded-User: ".to_vec()),
        ("blank", b"X-Forwarded-User:    \t ".to_vec()),
        ("too long", long.into_bytes()),
        ("control character", b"X-Forwarded-User: ann\x01".to_vec()),
        ("tab inside", b"X-Forwarded-User: a\tnn".to_vec()),
        ("DEL", b"X-Forwarded-User: ann\x7f".to_vec()),
        ("NUL", b"X-Forwarded-User: an\0n".to_vec()),
        ("Latin-1 byte", b"X-Forwarded-User: Jos\xe9".to_vec()),
        (
            "sent twice",
            b"X-Forwarded-User: ann\r\nX-Forwarded-User: root".to_vec(),
        ),
        ("huge groups", groups.into_bytes()),
    ];
    for (what, header) in &cases {
        let answer = get(addr, TRUSTED, "/events", &[header.as_slice()]).await;
        assert!(
            (400..500).contains(&answer.status),
            "{what}: {} {}",
            answer.status,
            answer.body
        );
    }
    // The server is still well, and a UTF-8 name (as proxies send it) works.
    let jose = get(
        addr,
        TRUSTED,
        "/events",
        &["X-Forwarded-User: José".as_bytes()],
    )
    .await;
    jose.assert_says(200, "José", "a UTF-8 name");
}
