//! `GET /metrics` of the real `eventlog serve`, read over HTTP after known traffic: the
//! counters say exactly what was stored, refused, duplicated, mailed and requested.

use crate::support;

use std::time::{Duration, Instant};

use eventlog_testing::TestDb;
use eventlog_testing::smtp::{Mode, SmtpSink};
use serde_json::json;
use support::{Serve, ServeSpec, http};

/// A sample's labels, `(name, value)` each.
type Labels<'a> = &'a [(&'a str, &'a str)];

/// The value of the sample `name{labels…}` (labels in any order, all given ones present).
fn sample(text: &str, name: &str, labels: &[(&str, &str)]) -> Option<f64> {
    text.lines()
        .filter(|l| !l.starts_with('#'))
        .find_map(|line| {
            let (series, value) = line.rsplit_once(' ')?;
            let (metric, rest) = series.split_once('{').unwrap_or((series, ""));
            if metric != name {
                return None;
            }
            let all = labels
                .iter()
                .all(|(k, v)| rest.contains(&format!("{k}=\"{v}\"")));
            all.then(|| value.parse().ok()).flatten()
        })
}

fn metrics_addr(server: &Serve) -> String {
    let log = server.log();
    let rest = log
        .split("eventlog metrics on http://")
        .nth(1)
        .unwrap_or_else(|| panic!("no metrics address printed:\n{log}"));
    rest.split('/').next().unwrap().to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_count_known_traffic_on_their_own_address() {
    let db = TestDb::sqlite();
    let sink = SmtpSink::start(Mode::Accept).await;
    // Scope `all`: the test also reads events back.
    let out = support::eventlog(
        db.url(),
        &["token", "add", "metrics", "--scope", "all"],
        None,
    );
    let token = eventlog_testing::process::stdout_of(out).trim().to_owned();
    let config = format!(
        "[server]\nmetrics_bind = \"127.0.0.1:0\"\n\
         [mail]\nurl = \"{}\"\nfrom = \"eventlog@example.com\"\n",
        sink.url()
    );
    let server = Serve::start(ServeSpec {
        config: &config,
        ..ServeSpec::new(db.url())
    });
    let metrics_url = format!("http://{}/metrics", metrics_addr(&server));
    let client = http(Duration::from_secs(15));
    let post = |body: serde_json::Value| {
        client
            .post(server.url("/api/v1/events"))
            .bearer_auth(&token)
            .json(&body)
            .send()
    };

    // 3 new events in two requests, one of them mailed; then one repeated id (a duplicate)
    // and a request of two items refused for the second one's unknown type.
    let id = uuid::Uuid::now_v7();
    let first = post(json!([
        {"type": "info", "message": "one", "id": id},
        {"type": "info", "message": "two", "send_mail": "ops@example.com"},
    ]))
    .await
    .unwrap();
    assert_eq!(first.status(), 201);
    let second = post(json!({"type": "warning", "message": "three"}))
        .await
        .unwrap();
    assert_eq!(second.status(), 201);
    let again = post(json!({"type": "info", "message": "one", "id": id}))
        .await
        .unwrap();
    assert_eq!(again.status(), 201);
    let refused = post(json!([
        {"type": "info", "message": "fine"},
        {"type": "nope", "message": "bad type"},
    ]))
    .await
    .unwrap();
    assert_eq!(refused.status(), 400);
    // Two reads of one event by id, and two paths no route matches.
    for path in ["/api/v1/events/1", "/api/v1/events/2", "/nope/1", "/nope/2"] {
        client
            .get(server.url(path))
            .bearer_auth(&token)
            .send()
            .await
            .unwrap();
    }

    // Metrics are not served with the admin and API.
    let public = client.get(server.url("/metrics")).send().await.unwrap();
    assert_eq!(public.status(), 404, "/metrics must not be public");

    // The mail is sent after the commit, off the request: wait for it.
    let started = Instant::now();
    let text = loop {
        let resp = client.get(&metrics_url).send().await.unwrap();
        assert_eq!(resp.status(), 200);
        let content_type = resp.headers()[reqwest::header::CONTENT_TYPE]
            .to_str()
            .unwrap()
            .to_owned();
        assert!(
            content_type.starts_with("text/plain; version=0.0.4"),
            "{content_type}"
        );
        let text = resp.text().await.unwrap();
        if sample(&text, "eventlog_mail_sent_total", &[]) == Some(1.0)
            || started.elapsed() > Duration::from_secs(20)
        {
            break text;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    let group: &[(&str, &str)] = &[("source", "group_commit")];
    let expected: [(&str, Labels, f64); 8] = [
        ("eventlog_events_stored_total", group, 3.0),
        ("eventlog_events_duplicate_total", group, 1.0),
        ("eventlog_events_refused_total", &[("source", "api")], 2.0),
        ("eventlog_mail_queued_total", group, 1.0),
        ("eventlog_mail_sent_total", &[], 1.0),
        // Three commits (the refused request never reached the store), four events.
        ("eventlog_batch_size_count", group, 3.0),
        ("eventlog_batch_size_sum", group, 4.0),
        ("eventlog_commit_seconds_count", group, 3.0),
    ];
    for (name, labels, value) in expected {
        assert_eq!(
            sample(&text, name, labels),
            Some(value),
            "{name}{labels:?}\n{text}"
        );
    }
    assert_eq!(sink.mails().len(), 1);
    // Histograms with buckets.
    assert!(
        sample(&text, "eventlog_commit_seconds_bucket", &[("le", "+Inf")]).is_some(),
        "{text}"
    );

    // Requests by route pattern and status, never by raw path.
    let requests = |method, route, status| {
        sample(
            &text,
            "eventlog_http_requests_total",
            &[("method", method), ("route", route), ("status", status)],
        )
    };
    for (method, route, status, count) in [
        ("POST", "/api/v1/events", "201", 3.0),
        ("POST", "/api/v1/events", "400", 1.0),
        ("GET", "/api/v1/events/{id}", "200", 2.0),
        ("GET", "unmatched", "404", 3.0),
    ] {
        assert_eq!(
            requests(method, route, status),
            Some(count),
            "{method} {route} {status}\n{text}"
        );
    }
    assert!(!text.contains("route=\"/api/v1/events/1\""), "{text}");
    assert!(!text.contains("/nope"), "{text}");
    assert_eq!(
        sample(
            &text,
            "eventlog_http_request_duration_seconds_count",
            &[("route", "/api/v1/events/{id}")]
        ),
        Some(2.0),
        "{text}"
    );

    // The pool, read at the scrape: SQLite opens at most 8 connections.
    assert_eq!(
        sample(&text, "eventlog_db_pool_max_connections", &[]),
        Some(8.0),
        "{text}"
    );
    assert!(sample(&text, "eventlog_db_pool_connections", &[("state", "idle")]).is_some());
    assert!(
        text.contains("# HELP eventlog_events_stored_total"),
        "{text}"
    );
}
