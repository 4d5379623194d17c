//! HTTP as a browser speaks it to the admin: a client, cookies, the login form.
//!
//! For tests and benchmarks that drive a real server over a socket (`eventlog serve`, or
//! `eventlog_web::serve` on a bound listener). Failures panic with what went wrong.

use std::future::Future;
use std::net::SocketAddr;
use std::time::Duration;

use reqwest::header;

/// A client that follows no redirects (the admin answers a login or a missing session with
/// `303`, which a test wants to see) and gives up after `timeout`.
pub fn client(timeout: Duration) -> reqwest::Client {
    reqwest::Client::builder()
        .timeout(timeout)
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("build an HTTP client")
}

/// The `name=value` pairs of every cookie a response sets (attributes dropped).
pub fn cookies_of(resp: &reqwest::Response) -> Vec<String> {
    resp.headers()
        .get_all(header::SET_COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .filter_map(|v| v.split(';').next())
        .map(str::to_owned)
        .collect()
}

/// The `Set-Cookie` line of cookie `name` in a response, if it sets it (with its attributes).
pub fn set_cookie<'r>(resp: &'r reqwest::Response, name: &str) -> Option<&'r str> {
    resp.headers()
        .get_all(header::SET_COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find(|c| c.starts_with(&format!("{name}=")))
}

/// The value of a `Set-Cookie` line (`name=VALUE; …`).
pub fn cookie_value(set_cookie: &str) -> String {
    let pair = set_cookie.split(';').next().unwrap_or_default();
    pair.split_once('=').unwrap_or_default().1.to_owned()
}

/// An `application/x-www-form-urlencoded` body.
pub fn form(fields: &[(&str, &str)]) -> String {
    form_urlencoded::Serializer::new(String::new())
        .extend_pairs(fields)
        .finish()
}

/// Logs in through the form, as a browser does: fetches the login page for its CSRF cookie
/// and posts the form with it. `base` is the admin's URL (`http://ADDR`, or with its prefix);
/// `prefix` the cookie name prefix (`""`, or `"__Host-"` with `secure_cookies`). Returns the
/// POST's response.
pub async fn login_response(
    client: &reqwest::Client,
    base: &str,
    prefix: &str,
    user: &str,
    password: &str,
) -> reqwest::Response {
    let page = client
        .get(format!("{base}/login"))
        .send()
        .await
        .expect("GET /login");
    assert_eq!(page.status(), 200, "GET {base}/login");
    let csrf_name = format!("{prefix}eventlog_login_csrf");
    let csrf = cookie_value(set_cookie(&page, &csrf_name).expect("login CSRF cookie"));
    client
        .post(format!("{base}/login"))
        .header(header::COOKIE, format!("{csrf_name}={csrf}"))
        .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
        .body(form(&[
            ("username", user),
            ("password", password),
            ("csrf", &csrf),
        ]))
        .send()
        .await
        .expect("POST /login")
}

/// Logs in (see [`login_response`]) and returns the session cookie's value.
pub async fn login(
    client: &reqwest::Client,
    base: &str,
    prefix: &str,
    user: &str,
    password: &str,
) -> String {
    let resp = login_response(client, base, prefix, user, password).await;
    assert_eq!(resp.status(), 303, "login of {user} failed");
    cookie_value(set_cookie(&resp, &format!("{prefix}eventlog_session")).expect("session cookie"))
}

/// Serves on a free loopback port: binds a listener (so that nothing can take the port
/// between choosing it and serving), hands it to `serve` on a new task and returns its
/// address. For `eventlog_web::serve(listener, app, shutdown)`.
pub async fn serve_on_loopback<F, Fut>(serve: F) -> SocketAddr
where
    F: FnOnce(tokio::net::TcpListener) -> Fut,
    Fut: Future + Send + 'static,
    Fut::Output: Send + 'static,
{
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind a loopback port");
    let addr = listener.local_addr().expect("the listener's address");
    tokio::spawn(serve(listener));
    addr
}

/// The status of `GET url`.
pub async fn get_status(client: &reqwest::Client, url: &str) -> reqwest::StatusCode {
    client.get(url).send().await.expect("GET").status()
}
