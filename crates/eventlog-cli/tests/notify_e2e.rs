//! Notifications end to end: the real `eventlog serve` with a `[notify]` webhook, events posted
//! over HTTP, the receiver down, the server SIGKILLed mid-outage and mid-delivery, on both
//! backends.

use std::collections::{HashMap, HashSet};
use std::time::Duration;

use eventlog_testing::webhook::{Receiver, Reply, dead_addr};

use crate::support::{Serve, ServeSpec, http, token};

fn config(receiver: std::net::SocketAddr) -> String {
    format!(
        "[server]\nmetrics_bind = \"127.0.0.1:0\"\n\
         [notify]\nadmin_url = \"http://log.example.com\"\ntimeout_secs = 1\n\
         retry_max_interval_secs = 1\n\
         [[notify.channel]]\nname = \"oncall\"\nkind = \"webhook\"\n\
         url = \"http://{receiver}/hook\"\nsecret = \"0123456789abcdef0123\"\n\
         types = [\"error\"]\n"
    )
}

async fn post(server: &Serve, token: &str, from: usize, n: usize) {
    let batch: serde_json::Value = (from..from + n)
        .map(|i| serde_json::json!({"type": "error", "message": format!("disk {i}")}))
        .collect();
    let response = http(Duration::from_secs(10))
        .post(server.url("/api/v1/events"))
        .bearer_auth(token)
        .json(&batch)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 201);
}

/// 20 events are posted while the receiver is down and the server is SIGKILLed; 20 more are
/// posted to a second server while the receiver answers slowly, and that one is SIGKILLed
/// while it is sending. A third server delivers the rest. Every event arrives; an event that
/// arrived twice came with the same idempotency key both times; none arrives without one.
async fn every_notification_arrives_across_sigkill(url: &str) {
    let addr = dead_addr();
    let config = config(addr);
    let token = token(url);
    let first = Serve::start(ServeSpec {
        config: &config,
        ..ServeSpec::new(url)
    });
    post(&first, &token, 0, 20).await;
    tokio::time::sleep(Duration::from_millis(1500)).await;
    first.signal("KILL");
    drop(first);

    let receiver = Receiver::start_at(addr).await;
    // Slow answers: the kill lands between "sent" and "recorded" for some.
    receiver.answer_always(Reply::Slow(Duration::from_millis(300)));
    let second = Serve::start(ServeSpec {
        config: &config,
        ..ServeSpec::new(url)
    });
    post(&second, &token, 20, 20).await;
    receiver.wait_for(5, Duration::from_secs(20)).await;
    second.signal("KILL");
    drop(second);

    receiver.answer_always(Reply::Status(200, None));
    let third = Serve::start(ServeSpec {
        config: &config,
        ..ServeSpec::new(url)
    });
    let mut keys = HashSet::new();
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    while keys.len() < 40 {
        assert!(
            std::time::Instant::now() < deadline,
            "{} of 40 arrived",
            keys.len()
        );
        keys = receiver
            .received()
            .iter()
            .filter_map(|r| r.header("idempotency-key").map(str::to_owned))
            .collect();
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // Time for a duplicate to show up, if there were one.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let log = third.log();
    let metrics_addr = log
        .split("eventlog metrics on http://")
        .nth(1)
        .and_then(|rest| rest.split('/').next())
        .unwrap_or_else(|| panic!("no metrics address printed:\n{log}"));
    let metrics = http(Duration::from_secs(10))
        .get(format!("http://{metrics_addr}/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let sent: u64 = metrics
        .lines()
        .find_map(|l| l.strip_prefix("eventlog_notify_sent_total{channel=\"oncall\"} "))
        .unwrap_or_else(|| panic!("no sent counter for the channel:\n{metrics}"))
        .parse()
        .unwrap();
    assert!((1..=40).contains(&sent), "{sent}");
    assert!(
        !metrics.contains(&addr.to_string()),
        "no receiver URL in the metrics"
    );
    drop(third);
    let received = receiver.received();
    let mut messages_by_key: HashMap<String, HashSet<String>> = HashMap::new();
    for r in &received {
        let key = r
            .header("idempotency-key")
            .expect("every request has its key");
        let body = r.json();
        assert_eq!(
            body["uuid"].as_str(),
            Some(key),
            "the key is the event's uuid"
        );
        messages_by_key
            .entry(key.to_owned())
            .or_default()
            .insert(body["message"].as_str().unwrap().to_owned());
    }
    let messages: HashSet<String> = messages_by_key
        .values()
        .map(|m| {
            assert_eq!(m.len(), 1, "one key, one event");
            m.iter().next().unwrap().clone()
        })
        .collect();
    let want: HashSet<String> = (0..40).map(|i| format!("disk {i}")).collect();
    assert_eq!(messages, want);
    assert!(received.len() >= 40);
}

/// `eventlog log --notify NAME` (and `"notify"` over HTTP) sends the event to that channel although its type is not
/// routed there; `--no-notify` silences a routed type; a name the configuration does not
/// have is refused before anything is stored.
async fn cli_and_http_lists_override_the_routes(url: &str) {
    let receiver = Receiver::start().await;
    let config = config(receiver.addr);
    let server = Serve::start(ServeSpec {
        config: &config,
        ..ServeSpec::new(url)
    });
    let dir = tempfile::tempdir().unwrap();
    let config_path = dir.path().join("eventlog.toml");
    std::fs::write(&config_path, &config).unwrap();
    let log = |args: &[&str]| {
        std::process::Command::new(env!("CARGO_BIN_EXE_eventlog"))
            .arg("log")
            .args(args)
            .env("EVENTLOG_DATABASE_URL", url)
            .env("EVENTLOG_CONFIG", &config_path)
            .output()
            .unwrap()
    };
    let refused = log(&["info", "nowhere", "--notify", "nosuch"]);
    assert!(!refused.status.success());
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert!(
        stderr.contains("no [[notify.channel]] has that name"),
        "{stderr}"
    );
    eventlog_testing::process::assert_success(&log(&["info", "listed", "--notify", "oncall"]));
    eventlog_testing::process::assert_success(&log(&["error", "silenced", "--no-notify"]));
    // Over HTTP: a list that breaks the rule is a 400 naming it; a good one is followed.
    let token = token(url);
    let post = async |item: serde_json::Value| {
        http(Duration::from_secs(10))
            .post(server.url("/api/v1/events"))
            .bearer_auth(&token)
            .json(&item)
            .send()
            .await
            .unwrap()
    };
    let eleven: Vec<String> = (0..11).map(|i| format!("c{i}")).collect();
    for bad in [serde_json::json!(["no spaces"]), serde_json::json!(eleven)] {
        let refused =
            post(serde_json::json!({"type": "info", "message": "x", "notify": bad})).await;
        assert_eq!(refused.status().as_u16(), 400);
        let text = refused.text().await.unwrap();
        assert!(text.contains("notify channel"), "{text}");
    }
    let posted =
        post(serde_json::json!({"type": "info", "message": "over http", "notify": ["oncall"]}))
            .await;
    assert_eq!(posted.status().as_u16(), 201);
    receiver.wait_for(2, Duration::from_secs(10)).await;
    tokio::time::sleep(Duration::from_millis(1500)).await;
    drop(server);
    let mut messages: Vec<String> = receiver
        .received()
        .iter()
        .map(|r| r.json()["message"].as_str().unwrap().to_owned())
        .collect();
    messages.sort();
    assert_eq!(messages, ["listed", "over http"]);
}

eventlog_testing::on_both_backends!(
    every_notification_arrives_across_sigkill,
    cli_and_http_lists_override_the_routes,
);
