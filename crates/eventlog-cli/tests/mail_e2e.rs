//! E-mail end to end: the real `eventlog` binary (`log --send-mail`, and `serve` receiving
//! `send_mail` over HTTP) against a real SMTP listener on loopback, on both backends.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use eventlog_testing::smtp::{Mode, SmtpSink, header, part};

fn config_file(dir: &tempfile::TempDir, smtp_url: &str) -> String {
    let path = dir.path().join("eventlog.toml");
    std::fs::write(
        &path,
        format!(
            "[mail]\nurl = \"{smtp_url}\"\nfrom = \"Event Log <eventlog@example.com>\"\n\
             subject = \"[{{type}}] {{message}}\"\n"
        ),
    )
    .unwrap();
    path.to_str().unwrap().to_owned()
}

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
        .args([
            "log",
            "error",
            "Backup failed",
            "--send-mail",
            "ops@example.com",
        ])
        .args(["--initiator", "cron"])
        .output()
        .unwrap();
    assert!(
        mailed.status.success(),
        "{}",
        String::from_utf8_lossy(&mailed.stderr)
    );
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
    assert!(
        token.status.success(),
        "{}",
        String::from_utf8_lossy(&token.stderr)
    );
    let token = String::from_utf8(token.stdout).unwrap().trim().to_owned();

    let mut child = eventlog(url, &config)
        .args(["serve", "--bind", "127.0.0.1:0"])
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stderr = child.stderr.take().unwrap();
    let served = Served(child);
    // The server prints its address; wait for it, then poll the health check.
    let base = BufReader::new(stderr)
        .lines()
        .map_while(Result::ok)
        .find_map(|l| {
            l.split_whitespace()
                .find(|w| w.starts_with("http://"))
                .map(|w| w.trim_end_matches('/').to_owned())
        })
        .expect("serve prints its address");
    let http = reqwest::Client::new();
    for _ in 0..100 {
        if http.get(format!("{base}/healthz")).send().await.is_ok() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
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

eventlog_testing::on_both_backends!(
    log_send_mail_mails_that_event_only,
    http_send_mail_is_mailed_after_commit,
);
