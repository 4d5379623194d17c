//! The real `eventlog serve` as a child process, for tests of the server's behaviour under
//! faults (signals, slow clients, database outages).

#![allow(dead_code)] // Each test file uses a part.

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

#[allow(unused_imports)] // Each test file uses a part.
pub use eventlog_testing::http::{cookie_value, form, login, login_response, set_cookie};

/// A running `eventlog serve`; killed when dropped.
pub struct Serve {
    pub child: Child,
    pub addr: SocketAddr,
    stderr: Arc<Mutex<String>>,
    _dir: tempfile::TempDir,
}

/// How to start it.
pub struct ServeSpec<'a> {
    pub url: &'a str,
    /// `eventlog.toml` text.
    pub config: &'a str,
    /// `ulimit -n` for the child, through `sh -c`.
    pub fd_limit: Option<u32>,
    /// Where to listen (default: a free port chosen by the server).
    pub bind: Option<SocketAddr>,
    /// `--log-format`.
    pub log_format: Option<&'a str>,
}

impl<'a> ServeSpec<'a> {
    pub fn new(url: &'a str) -> Self {
        ServeSpec {
            url,
            config: "",
            fd_limit: None,
            bind: None,
            log_format: None,
        }
    }
}

impl Serve {
    pub fn start(spec: ServeSpec<'_>) -> Serve {
        let dir = tempfile::tempdir().unwrap();
        let config = dir.path().join("eventlog.toml");
        std::fs::write(&config, spec.config).unwrap();
        let bind = spec
            .bind
            .map(|a| a.to_string())
            .unwrap_or_else(|| "127.0.0.1:0".into());
        let exe = env!("CARGO_BIN_EXE_eventlog");
        let mut cmd = match spec.fd_limit {
            Some(n) => {
                let mut c = Command::new("sh");
                c.args([
                    "-c",
                    &format!("ulimit -n {n} && exec \"$0\" serve --bind {bind}"),
                    exe,
                ]);
                c
            }
            None => {
                let mut c = Command::new(exe);
                c.args(["serve", "--bind", &bind]);
                c
            }
        };
        if let Some(format) = spec.log_format {
            cmd.env("EVENTLOG_LOG_FORMAT", format);
        }
        let mut child = cmd
            .env("EVENTLOG_DATABASE_URL", spec.url)
            .env("EVENTLOG_CONFIG", &config)
            .env("EVENTLOG_LOG", "info")
            .current_dir(dir.path())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start eventlog serve");
        let stderr = child.stderr.take().unwrap();
        let log = Arc::new(Mutex::new(String::new()));
        let (tx, rx) = std::sync::mpsc::channel();
        // Told after the line is in the log: `log()` right after `start` shows it.
        collect_lines(stderr, log.clone(), move |line| {
            if let Some(rest) = line.split("listening on http://").nth(1) {
                let addr = rest.split('/').next().unwrap_or_default().to_owned();
                let _ = tx.send(addr);
            }
        });
        let addr = match rx.recv_timeout(Duration::from_secs(60)) {
            Ok(addr) => addr.parse().unwrap(),
            Err(_) => {
                let _ = child.kill();
                let _ = child.wait();
                panic!(
                    "eventlog serve did not start: {}",
                    log.lock().unwrap().as_str()
                );
            }
        };
        Serve {
            child,
            addr,
            stderr: log,
            _dir: dir,
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    /// What the server printed on stderr so far.
    pub fn log(&self) -> String {
        self.stderr.lock().unwrap().clone()
    }

    /// Peak resident memory of the server process so far (`VmHWM`), in MiB.
    pub fn peak_rss_mib(&self) -> u64 {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id()))
            .expect("read /proc/PID/status");
        let kib: u64 = status
            .lines()
            .find_map(|l| l.strip_prefix("VmHWM:"))
            .expect("VmHWM line")
            .trim()
            .trim_end_matches("kB")
            .trim()
            .parse()
            .unwrap();
        kib / 1024
    }

    pub fn signal(&self, signal: &str) {
        let status = Command::new("kill")
            .args([&format!("-{signal}"), &self.child.id().to_string()])
            .status()
            .unwrap();
        assert!(status.success(), "kill -{signal} failed");
    }

    /// Waits up to `limit` for the process to exit; its exit status, or `None`.
    pub fn wait_exit(&mut self, limit: Duration) -> Option<std::process::ExitStatus> {
        let start = Instant::now();
        while start.elapsed() < limit {
            if let Some(status) = self.child.try_wait().unwrap() {
                return Some(status);
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        None
    }
}

impl Drop for Serve {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Appends each line `reader` gives to `into` (with its newline), on a thread of its own, and
/// then hands it to `then`; until the reader ends or fails.
pub fn collect_lines<R: std::io::Read + Send + 'static>(
    reader: R,
    into: Arc<Mutex<String>>,
    mut then: impl FnMut(&str) + Send + 'static,
) {
    std::thread::spawn(move || {
        for line in BufReader::new(reader).lines() {
            let Ok(line) = line else { break };
            {
                let mut text = into.lock().unwrap();
                text.push_str(&line);
                text.push('\n');
            }
            then(&line);
        }
    });
}

/// Runs the `eventlog` binary to completion with the database URL.
pub fn eventlog(url: &str, args: &[&str], stdin: Option<&str>) -> std::process::Output {
    use std::io::Write as _;
    let mut child = Command::new(env!("CARGO_BIN_EXE_eventlog"))
        .args(args)
        .env("EVENTLOG_DATABASE_URL", url)
        .env("EVENTLOG_CONFIG", "eventlog.toml")
        .current_dir(std::env::temp_dir())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut input = child.stdin.take().unwrap();
    if let Some(text) = stdin {
        input.write_all(text.as_bytes()).unwrap();
    }
    drop(input);
    child.wait_with_output().unwrap()
}

/// Runs the `eventlog` binary to completion with the database URL, no configuration file and
/// no colours (`NO_COLOR`): its output as a script reads it.
pub fn eventlog_plain<S: AsRef<std::ffi::OsStr>>(url: &str, args: &[S]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_eventlog"))
        .args(args)
        .env("EVENTLOG_DATABASE_URL", url)
        .env("EVENTLOG_CONFIG", "eventlog.toml")
        .env("NO_COLOR", "1")
        .current_dir(std::env::temp_dir())
        .output()
        .expect("run eventlog")
}

/// A host application's login that makes every request a viewer's (the admin's own login is
/// tested elsewhere).
pub struct Viewer;

#[async_trait::async_trait]
impl eventlog_web::auth::host::HostAuth for Viewer {
    async fn user(
        &self,
        _: &axum::http::request::Parts,
    ) -> Option<eventlog_web::auth::host::HostUser> {
        Some(eventlog_web::auth::host::HostUser {
            name: "viewer".into(),
            role: eventlog::store::Role::Viewer,
        })
    }
}

/// The admin and API of `store` over a loopback socket, every request a [`Viewer`]'s, for the
/// rest of the test; its address.
pub async fn serve_to_viewers(store: Arc<dyn eventlog::store::Backend>) -> SocketAddr {
    let state = eventlog_web::AppState::builder(store, eventlog::EventTypes::default())
        .host_auth(Arc::new(Viewer))
        .build();
    eventlog_testing::http::serve_on_loopback(|listener| {
        eventlog_web::serve(listener, eventlog_web::app(state), std::future::pending())
    })
    .await
}

/// A new API token (`eventlog token add`).
pub fn token(url: &str) -> String {
    let out = eventlog(url, &["token", "add", "faults"], None);
    assert!(
        out.status.success(),
        "token add failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap().trim().to_owned()
}

/// A client that gives up after `timeout` and follows no redirects.
pub fn http(timeout: Duration) -> reqwest::Client {
    eventlog_testing::http::client(timeout)
}

/// Creates an admin user with `eventlog user add NAME --role admin`.
pub fn add_user(url: &str, name: &str, password: &str) {
    let out = eventlog(
        url,
        &["user", "add", name, "--role", "admin", "--password-stdin"],
        Some(&format!("{password}\n")),
    );
    assert!(
        out.status.success(),
        "user add failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Logs in through the form; the `Cookie` header value of the session.
pub async fn session_cookie(server: &Serve, user: &str, password: &str) -> String {
    let client = http(Duration::from_secs(20));
    let session = login(&client, &server.url(""), "", user, password).await;
    format!("eventlog_session={session}")
}

/// `GET path` with the session cookie; the status and the `Location` header.
pub async fn get_with_session(
    client: &reqwest::Client,
    base: &str,
    cookie_name: &str,
    session: &str,
    path: &str,
) -> (u16, String) {
    let resp = client
        .get(format!("{base}{path}"))
        .header(reqwest::header::COOKIE, format!("{cookie_name}={session}"))
        .send()
        .await
        .unwrap();
    let location = resp
        .headers()
        .get(reqwest::header::LOCATION)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    (resp.status().as_u16(), location)
}

/// The string field `key` of each object of a JSON array (`--json` output), in order.
pub fn fields<'v>(list: &'v serde_json::Value, key: &str) -> Vec<&'v str> {
    list.as_array()
        .unwrap_or_else(|| panic!("not a JSON array: {list}"))
        .iter()
        .map(|item| {
            item[key]
                .as_str()
                .unwrap_or_else(|| panic!("no {key}: {item}"))
        })
        .collect()
}
