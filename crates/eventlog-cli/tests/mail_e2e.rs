//! E-mail end to end: the real `eventlog` binary (`log --send-mail`, `serve` receiving
//! `send_mail` over HTTP, `mail status`) against a real SMTP listener on loopback that can be
//! down for a while, on both backends.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use eventlog_testing::api::ApiClient;
use eventlog_testing::smtp::{Mode, SmtpSink, down_addr, header, part};

fn config_file(dir: &tempfile::TempDir, smtp_url: &str) -> String {
    let path = dir.path().join("eventlog.toml");
    std::fs::write(
        &path,
        format!(
            "[mail]\nurl = \"{smtp_url}\"\nfrom = \"Event Log <eventlog@example.com>\"\n\
             subject = \"[{{type}}] {{message}}\"\n\
             timeout_secs = 2\nretry_max_interval_secs = 1\nclose_timeout_secs = 5\n"
        ),
    )
    .unwrap();
    path.to_str().unwrap().to_owned()
}

/// `eventlog log` of an error event to be mailed to `ops@example.com`.
const LOG_A_MAILED_ERROR: [&str; 5] = [
    "log",
    "error",
    "Backup failed",
    "--send-mail",
    "ops@example.com",
];

fn eventlog(url: &str, config: &str) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_eventlog"));
    c.env("EVENTLOG_DATABASE_URL", url)
        .env("EVENTLOG_CONFIG", config);
    c
}

async fn log_send_mail_mails_that_event_only(url: &str) {
    let sink = SmtpSink::start(Mode::Accept).await;
    let dir = tempfile::tempdir().unwrap();
    let config = config_file(&dir, &sink.url());
    let mailed = eventlog(url, &config)
        .args(LOG_A_MAILED_ERROR)
        .args(["--initiator", "cron"])
        .output()
        .unwrap();
    eventlog_testing::process::assert_success(&mailed);
    let quiet = eventlog(url, &config)
        .args(["log", "info", "Backup started"])
        .output()
        .unwrap();
    assert!(quiet.status.success());
    // `log` waits for its mail before it exits.
    let mails = sink.mails();
    assert_eq!(mails.len(), 1, "one mail, for the event with a recipient");
    assert_eq!(mails[0].to, ["<ops@example.com>"]);
    assert_eq!(header(&mails[0].data, "Subject"), "[Error] Backup failed");
    let text = part(&mails[0].data, "text/plain");
    assert!(text.contains("The Event was Error on "), "{text}");
    assert!(text.contains("Backup failed"), "{text}");
    assert!(text.contains("-- cron"), "{text}");
}

struct Served(Child);

/// Starts `eventlog serve` on a free port and waits until it answers; returns it and its URL.
async fn serve(url: &str, config: &str) -> (Served, String) {
    let mut child = eventlog(url, config)
        .args(["serve", "--bind", "127.0.0.1:0"])
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stderr = child.stderr.take().unwrap();
    let served = Served(child);
    // The server prints its address; wait for it, then poll the health check.
    let mut lines = BufReader::new(stderr).lines();
    let base = lines
        .by_ref()
        .map_while(Result::ok)
        .find_map(|l| {
            l.split_whitespace()
                .find(|w| w.starts_with("http://"))
                .map(|w| w.trim_end_matches('/').to_owned())
        })
        .expect("serve prints its address");
    // Keep reading stderr so the server never blocks on a full pipe.
    std::thread::spawn(move || lines.for_each(drop));
    let http = reqwest::Client::new();
    for _ in 0..100 {
        if http.get(format!("{base}/healthz")).send().await.is_ok() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    (served, base)
}

impl Served {
    /// Stops the server as systemd would (SIGTERM) and waits for it to exit.
    fn stop(mut self) {
        let pid = self.0.id().to_string();
        let status = Command::new("kill").args(["-TERM", &pid]).status().unwrap();
        assert!(status.success());
        let start = std::time::Instant::now();
        while self.0.try_wait().unwrap().is_none() {
            assert!(
                start.elapsed() < Duration::from_secs(20),
                "serve did not stop on SIGTERM"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for Served {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

async fn http_send_mail_is_mailed_after_commit(url: &str) {
    let sink = SmtpSink::start(Mode::Accept).await;
    let dir = tempfile::tempdir().unwrap();
    let config = config_file(&dir, &sink.url());
    let token = eventlog(url, &config)
        .args(["token", "add", "mailer"])
        .output()
        .unwrap();
    let token = eventlog_testing::process::stdout_of(token)
        .trim()
        .to_owned();

    let (served, base) = serve(url, &config).await;
    let http = reqwest::Client::new();
    let response = http
        .post(format!("{base}/api/v1/events"))
        .bearer_auth(&token)
        .json(&serde_json::json!([
            {"type": "critical", "message": "Disk <full>", "send_mail": "oncall@example.com",
             "data": {"disk": "/var"}},
            {"type": "info", "message": "no mail for this one"}
        ]))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 201);
    let mut mails = Vec::new();
    for _ in 0..100 {
        mails = sink.mails();
        if !mails.is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(mails.len(), 1);
    assert_eq!(mails[0].to, ["<oncall@example.com>"]);
    assert_eq!(header(&mails[0].data, "Subject"), "[Critical] Disk <full>");
    let html = part(&mails[0].data, "text/html");
    assert!(
        html.contains("Disk &lt;full&gt;"),
        "escaped in HTML: {html}"
    );
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(
        sink.mails().len(),
        1,
        "nothing for the event without a recipient"
    );
    drop(served);
}

fn token(url: &str, config: &str) -> String {
    let token = eventlog(url, config)
        .args(["token", "add", "mailer"])
        .output()
        .unwrap();
    eventlog_testing::process::assert_success(&token);
    String::from_utf8(token.stdout).unwrap().trim().to_owned()
}

fn mail_status(url: &str, config: &str) -> serde_json::Value {
    let out = eventlog(url, config)
        .args(["mail", "status", "--json"])
        .output()
        .unwrap();
    eventlog_testing::process::assert_success(&out);
    serde_json::from_slice(&out.stdout).unwrap()
}

/// The SMTP server is down for about 5 s while 100 events with `send_mail` are posted to
/// `eventlog serve`, which is restarted (SIGTERM, start again) once in between. Once the
/// server is up, exactly 100 mails arrive, one per event, none twice; `mail status` counts them.
async fn an_smtp_outage_and_a_restart_deliver_every_mail_once(url: &str) {
    let addr = down_addr().await;
    let started = std::time::Instant::now();
    let dir = tempfile::tempdir().unwrap();
    let config = config_file(&dir, &format!("smtp://{addr}"));
    let token = token(url, &config);
    let post = async |base: &str, from: usize| {
        let api = ApiClient::new(reqwest::Client::new(), format!("{base}/api/v1"), &token);
        for chunk in 0..5 {
            let batch: serde_json::Value = (0..10)
                .map(|i| {
                    serde_json::json!({"type": "error", "send_mail": "oncall@example.com",
                        "message": format!("disk {}", from + chunk * 10 + i)})
                })
                .collect();
            let response = api.post_json("/events", &batch).await;
            assert_eq!(response.status().as_u16(), 201);
        }
    };
    let (served, base) = serve(url, &config).await;
    post(&base, 0).await;
    served.stop();
    let status = mail_status(url, &config);
    assert_eq!(status["queued"], 50, "{status}");
    assert_eq!(status["sent"], 0, "{status}");
    let (served, base) = serve(url, &config).await;
    post(&base, 50).await;
    tokio::time::sleep(Duration::from_secs(5).saturating_sub(started.elapsed())).await;
    let sink = SmtpSink::start_on(addr, Mode::Accept).await;
    let start = std::time::Instant::now();
    while sink.mails().len() < 100 && start.elapsed() < Duration::from_secs(30) {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // Time for a duplicate to show up, if there were one.
    tokio::time::sleep(Duration::from_millis(1_500)).await;
    served.stop();
    let mails = sink.mails();
    assert_eq!(mails.len(), 100, "exactly 100 mails");
    let ids: std::collections::HashSet<String> = mails
        .iter()
        .map(|m| header(&m.data, "Message-ID"))
        .collect();
    assert_eq!(ids.len(), 100, "none twice");
    let messages: std::collections::HashSet<String> =
        mails.iter().map(|m| header(&m.data, "Subject")).collect();
    let want: std::collections::HashSet<String> =
        (0..100).map(|i| format!("[Error] disk {i}")).collect();
    assert_eq!(messages, want, "one mail per event");
    let status = mail_status(url, &config);
    assert_eq!(
        (&status["queued"], &status["sent"], &status["given_up"]),
        (&0.into(), &100.into(), &0.into()),
        "{status}"
    );
    assert!(status["retried"].as_u64().unwrap() >= 100, "{status}");
    let text = eventlog(url, &config)
        .args(["mail", "status"])
        .output()
        .unwrap();
    let text = String::from_utf8(text.stdout).unwrap();
    assert!(text.contains("sent      100\n"), "{text}");
}

/// `log --send-mail` without a `[mail]` section is refused, before anything is stored.
async fn send_mail_without_a_mail_section_is_refused(url: &str) {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("eventlog.toml");
    std::fs::write(&config, "").unwrap();
    let config = config.to_str().unwrap();
    let out = eventlog(url, config)
        .args(LOG_A_MAILED_ERROR)
        .output()
        .unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("--send-mail needs a [mail] section in the configuration file"),
        "{stderr}"
    );
    // The URL alone is a working section: the message must not ask for more.
    assert!(
        stderr.contains("`url = \"smtp://host:port\"` is enough"),
        "{stderr}"
    );
    assert!(stderr.contains("EVENTLOG_MAIL__URL"), "{stderr}");
    assert!(out.stdout.is_empty());
    let store = eventlog::store::open(url).await.unwrap();
    assert_eq!(store.count(&Default::default()).await.unwrap(), 0);
}

eventlog_testing::on_both_backends!(
    log_send_mail_mails_that_event_only,
    http_send_mail_is_mailed_after_commit,
    an_smtp_outage_and_a_restart_deliver_every_mail_once,
    send_mail_without_a_mail_section_is_refused,
);
