//! Headless Chromium for the browser tests: a chromedriver per test file, sessions, the admin
//! served on a real socket, logging in, and axe-core checks. Needs `/usr/bin/chromedriver`
//! and Chromium (Debian packages `chromium`, `chromium-driver`); a missing driver fails the
//! test with a message.
#![allow(dead_code)]

use std::net::{SocketAddr, TcpStream};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use thirtyfour::prelude::*;

use crate::common::{Fixture, PASSWORD};

pub const CHROMEDRIVER: &str = "/usr/bin/chromedriver";
pub const CHROMIUM: &str = "/usr/lib/chromium/chromium";

/// axe-core, vendored (see `tests/vendor/axe-core/README.md`).
pub const AXE: &str = include_str!("../vendor/axe-core/axe.min.js");

/// A chromedriver of this test, killed on drop.
pub struct Driver {
    child: Child,
    pub port: u16,
    profile: tempfile::TempDir,
}

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub fn start_chromedriver() -> Driver {
    assert!(
        std::path::Path::new(CHROMEDRIVER).exists(),
        "{CHROMEDRIVER} not found: install the Debian packages `chromium` and `chromium-driver` \
         (apt-get install -y chromium chromium-driver, or run .ci/run)"
    );
    // Bind :0 to find a port; retry on the rare clash with another test process.
    for _ in 0..10 {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let mut child = Command::new(CHROMEDRIVER)
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {CHROMEDRIVER}: {e}"));
        for _ in 0..100 {
            if TcpStream::connect(("127.0.0.1", port)).is_ok() {
                return Driver {
                    child,
                    port,
                    profile: tempfile::tempdir().unwrap(),
                };
            }
            if let Ok(Some(_)) = child.try_wait() {
                break;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = child.kill();
    }
    panic!("chromedriver did not start listening");
}

pub async fn browser(driver: &Driver, width: u32, height: u32) -> WebDriver {
    let mut caps = DesiredCapabilities::chrome();
    caps.set_binary(CHROMIUM).unwrap();
    for arg in [
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-dev-shm-usage",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--disable-quic",
        "--no-first-run",
        "--hide-scrollbars",
    ] {
        caps.add_arg(arg).unwrap();
    }
    caps.add_arg(&format!("--window-size={width},{height}"))
        .unwrap();
    caps.add_arg(&format!(
        "--user-data-dir={}",
        driver.profile.path().display()
    ))
    .unwrap();
    WebDriver::new(format!("http://127.0.0.1:{}", driver.port), caps)
        .await
        .expect("start a Chromium session")
}

/// Chromium on the admin of `fx`: the admin served on a real socket (its address), a
/// chromedriver (keep it while the browser is used) and a 1280×800 window, logged in as
/// `user` if one is given.
pub async fn open_admin(fx: &Fixture, user: Option<&str>) -> (Driver, WebDriver, SocketAddr) {
    let addr = serve(fx).await;
    let driver = start_chromedriver();
    let b = browser(&driver, 1280, 800).await;
    if let Some(user) = user {
        log_in(&b, addr, user).await;
    }
    (driver, b, addr)
}

/// Serves the admin on a real socket; returns its address.
pub async fn serve(fx: &Fixture) -> SocketAddr {
    serve_router(fx.router()).await
}

/// Serves a router on a real socket; returns its address.
pub async fn serve_router(router: axum::Router) -> SocketAddr {
    eventlog_testing::http::serve_on_loopback(|listener| {
        eventlog_web::serve(listener, router, std::future::pending())
    })
    .await
}

/// The element `by` finds on the page; panics, naming the selector, when there is none.
pub async fn element(b: &WebDriver, by: By) -> WebElement {
    let what = format!("{by:?}");
    b.find(by).await.unwrap_or_else(|e| panic!("{what}: {e}"))
}

/// The text of the element `by` finds.
pub async fn text_of(b: &WebDriver, by: By) -> String {
    element(b, by).await.text().await.unwrap()
}

/// Clicks the element `by` finds.
pub async fn click(b: &WebDriver, by: By) {
    element(b, by).await.click().await.unwrap();
}

/// Types `text` into the form field named `name`.
pub async fn fill(b: &WebDriver, name: &str, text: &str) {
    let field = element(b, By::Name(name)).await;
    field.send_keys(text).await.unwrap();
}

/// Moves the pointer to the centre of the element `by` finds.
pub async fn hover(b: &WebDriver, by: By) {
    let target = element(b, by).await;
    b.action_chain()
        .move_to_element_center(&target)
        .perform()
        .await
        .unwrap();
}

/// The attribute `name` of `el`; panics when it has none.
pub async fn attr(el: &WebElement, name: &str) -> String {
    el.attr(name)
        .await
        .unwrap()
        .unwrap_or_else(|| panic!("no attribute {name}"))
}

pub async fn log_in(b: &WebDriver, addr: SocketAddr, user: &str) {
    b.goto(format!("http://{addr}/login")).await.unwrap();
    fill(b, "username", user).await;
    fill(b, "password", PASSWORD).await;
    click(b, By::Css("button[type=submit]")).await;
    // The login POST (Argon2) may take a moment under load: wait for the list.
    b.query(By::Id("event-rows"))
        .wait(Duration::from_secs(15), Duration::from_millis(100))
        .first()
        .await
        .expect("the list after login");
}

/// Emulates a device viewport (`mobile` also applies the page's viewport meta tag).
pub async fn viewport(b: &WebDriver, width: u32, height: u32, mobile: bool) {
    b.cdp()
        .send_raw(
            "Emulation.setDeviceMetricsOverride",
            serde_json::json!({"width": width, "height": height, "deviceScaleFactor": 1, "mobile": mobile}),
        )
        .await
        .unwrap();
}

/// Emulates the light or dark colour scheme.
pub async fn color_scheme(b: &WebDriver, dark: bool) {
    b.cdp()
        .send_raw(
            "Emulation.setEmulatedMedia",
            serde_json::json!({"features": [{"name": "prefers-color-scheme", "value": if dark { "dark" } else { "light" }}]}),
        )
        .await
        .unwrap();
}

/// `(scrollWidth, innerWidth)` of the current document.
pub async fn widths(b: &WebDriver) -> (i64, i64) {
    let v = b
        .execute(
            "return [document.documentElement.scrollWidth, window.innerWidth];",
            Vec::new(),
        )
        .await
        .unwrap();
    serde_json::from_value(v.json().clone()).unwrap()
}

/// Runs axe-core on the current page; returns its serious and critical violations as
/// `rule: target (summary)` lines.
pub async fn axe_violations(b: &WebDriver) -> Vec<String> {
    // WebDriver scripts are not subject to the page's Content-Security-Policy.
    b.execute(AXE, Vec::new()).await.unwrap();
    let v = b
        .execute_async(
            "var done = arguments[arguments.length - 1];
             axe.run(document, {resultTypes: ['violations']}).then(function (r) {
               done(r.violations
                 .filter(function (v) { return v.impact === 'serious' || v.impact === 'critical'; })
                 .map(function (v) {
                   return v.id + ' [' + v.impact + ']: ' + v.nodes.slice(0, 3).map(function (n) {
                     return n.target.join(' ') + ' (' + (n.failureSummary || '').replace(/\\s+/g, ' ') + ')';
                   }).join('; ');
                 }));
             }, function (e) { done(['axe failed: ' + e]); });",
            Vec::new(),
        )
        .await
        .unwrap();
    serde_json::from_value(v.json().clone()).unwrap()
}
