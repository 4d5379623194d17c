//! The mailer against a real SMTP listener on loopback (a small SMTP sink over a tokio
//! `TcpListener`, written here so it can also refuse or hang on purpose).
#![cfg(feature = "mail")]
#![allow(clippy::unwrap_used)]

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use chrono::TimeZone;
use eventlog::mail::{MailConfig, Mailer};
use eventlog::{Event, EventTypes};
use eventlog_testing::smtp::{Mode, SmtpSink, header, part};

fn event(id: i64, message: &str, send_mail: Option<&str>) -> Event {
    Event {
        id,
        uuid: uuid::Uuid::now_v7(),
        event_type: "warning".into(),
        group: "Order 1".into(),
        timestamp: chrono::Utc
            .with_ymd_and_hms(2026, 11, 27, 10, 20, 30)
            .single()
            .unwrap(),
        message: message.into(),
        data: Some(serde_json::json!({"order": 1, "note": "<script>alert(1)</script>"})),
        initiator: Some("<script>bob</script>".into()),
        send_mail: send_mail.map(str::to_owned),
    }
}

fn config(url: String) -> MailConfig {
    MailConfig {
        url: Some(url),
        from: "Event Log <eventlog@example.com>".into(),
        ..MailConfig::default()
    }
}

#[tokio::test]
async fn one_mail_per_event_with_a_recipient() {
    let sink = SmtpSink::start(Mode::Accept).await;
    let mailer = Mailer::start(config(sink.url()), EventTypes::default()).unwrap();
    mailer.notify(&[
        event(1, "first <script>x</script>", Some("alice@example.com")),
        event(2, "no mail for me", None),
    ]);
    // The writer's hook is the same entry point.
    eventlog::CommitObserver::committed(&mailer, &[event(3, "third", Some("bob@example.org"))]);
    mailer.notify(&[]);
    mailer.close().await;

    let stats = mailer.stats();
    assert_eq!((stats.queued, stats.sent, stats.failed), (2, 2, 0));
    let mut mails = sink.mails();
    assert_eq!(mails.len(), 2, "{mails:#?}");
    mails.sort_by_key(|m| m.to.clone());

    let m = &mails[0];
    assert_eq!(m.from, "<eventlog@example.com>");
    assert_eq!(m.to, ["<alice@example.com>"]);
    assert_eq!(header(&m.data, "To"), "alice@example.com");
    assert_eq!(
        header(&m.data, "From"),
        "\"Event Log\" <eventlog@example.com>"
    );
    assert_eq!(header(&m.data, "Subject"), "Event Log: Warning");
    assert!(header(&m.data, "Content-Type").starts_with("multipart/alternative"));
    assert_eq!(
        part(&m.data, "text/plain"),
        "The Event was Warning on 2026-11-27 10:20:30 UTC\n\nfirst <script>x</script>\n\n-- <script>bob</script>"
    );
    let html = part(&m.data, "text/html");
    assert!(
        html.contains("The Event was Warning on 2026-11-27 10:20:30 UTC<br>"),
        "{html}"
    );
    assert!(
        html.contains("first &lt;script&gt;x&lt;/script&gt;"),
        "{html}"
    );
    assert!(
        html.contains("-- &lt;script&gt;bob&lt;/script&gt;"),
        "{html}"
    );
    assert!(!html.contains("<script>"), "{html}");

    assert_eq!(mails[1].to, ["<bob@example.org>"]);
    assert!(part(&mails[1].data, "text/plain").contains("\n\nthird\n\n"));
}

#[tokio::test]
async fn custom_templates_fill_data_and_escape_it_in_html() {
    let sink = SmtpSink::start(Mode::Accept).await;
    let cfg = MailConfig {
        subject: "[{type}] {message}".into(),
        body: "{message}\n{data}\nby {initiator} at {date}".into(),
        ..config(sink.url())
    };
    let mailer = Mailer::start(cfg, EventTypes::default()).unwrap();
    mailer.notify(&[event(1, "paid", Some("carol@example.com"))]);
    mailer.close().await;

    let mails = sink.mails();
    assert_eq!(mails.len(), 1);
    let data = &mails[0].data;
    assert_eq!(header(data, "Subject"), "[Warning] paid");
    // Key order depends on serde_json's `preserve_order` (which other crates of the
    // workspace may switch on): compare against the same pretty printing.
    let pretty = serde_json::to_string_pretty(
        &serde_json::json!({"order": 1, "note": "<script>alert(1)</script>"}),
    )
    .unwrap();
    assert_eq!(
        part(data, "text/plain"),
        format!("paid\n{pretty}\nby <script>bob</script> at 2026-11-27 10:20:30 UTC")
    );
    let html = part(data, "text/html");
    assert!(
        html.contains(&format!(
            "<pre>{}</pre>",
            eventlog::mail::escape_html(&pretty)
        )),
        "{html}"
    );
    assert!(
        html.contains("&lt;script&gt;alert(1)&lt;/script&gt;"),
        "{html}"
    );
    assert!(!html.contains("<script>"), "{html}");
}

/// A port nobody listens on: bound, then released.
async fn dead_port() -> SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    listener.local_addr().unwrap()
}

/// A `tracing` writer into a shared buffer, to see what the mailer logs.
#[derive(Clone, Default)]
struct LogBuffer(Arc<Mutex<Vec<u8>>>);

impl std::io::Write for LogBuffer {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl LogBuffer {
    fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().unwrap()).into_owned()
    }
}

/// Everything logged by this test binary. A global subscriber rather than a scoped one: tests
/// run on parallel threads, and tracing caches per-callsite interest across them.
fn logs() -> LogBuffer {
    static LOGS: std::sync::OnceLock<LogBuffer> = std::sync::OnceLock::new();
    LOGS.get_or_init(|| {
        let logs = LogBuffer::default();
        let writer = logs.clone();
        let subscriber = tracing_subscriber::fmt()
            .with_ansi(false)
            .with_writer(move || writer.clone())
            .finish();
        tracing::subscriber::set_global_default(subscriber).unwrap();
        logs
    })
    .clone()
}

#[tokio::test]
async fn a_dead_server_counts_failures_without_blocking() {
    let logs = logs();
    for fail_silently in [false, true] {
        let to = format!("dead-{fail_silently}@example.com");
        let addr = dead_port().await;
        let cfg = MailConfig {
            fail_silently,
            ..config(format!("smtp://{addr}"))
        };
        let mailer = Mailer::start(cfg, EventTypes::default()).unwrap();
        let events: Vec<Event> = (0..3).map(|i| event(i, "lost mail", Some(&to))).collect();
        mailer.notify(&events);
        mailer.notify(&[event(9, "no recipient", None)]);
        mailer.close().await;
        let stats = mailer.stats();
        assert_eq!(
            (stats.queued, stats.sent, stats.failed),
            (3, 0, 3),
            "fail_silently={fail_silently}"
        );
        let text = logs.text();
        let logged: Vec<&str> = text.lines().filter(|l| l.contains(&to)).collect();
        if fail_silently {
            assert!(logged.is_empty(), "{logged:#?}");
        } else {
            assert_eq!(logged.len(), 3, "{text}");
            for line in logged {
                assert!(line.contains("ERROR"), "{line}");
                assert!(
                    line.contains("cannot send event mail: SMTP error"),
                    "{line}"
                );
            }
        }
    }
}

#[tokio::test]
async fn a_refusing_server_counts_failures() {
    let sink = SmtpSink::start(Mode::Reject).await;
    let cfg = MailConfig {
        fail_silently: true,
        ..config(sink.url())
    };
    let mailer = Mailer::start(cfg, EventTypes::default()).unwrap();
    mailer.notify(&[
        event(1, "a", Some("erin@example.com")),
        event(2, "b", Some("erin@example.com")),
    ]);
    mailer.close().await;
    assert_eq!(mailer.stats().failed, 2);
    assert_eq!(mailer.stats().sent, 0);
    assert!(sink.mails().is_empty());
}

#[tokio::test]
async fn a_full_queue_fails_fast_and_close_gives_up_after_its_timeout() {
    let sink = SmtpSink::start(Mode::Hang).await;
    let cfg = MailConfig {
        queue_capacity: 1,
        timeout_secs: 30,
        close_timeout_secs: 1,
        ..config(sink.url())
    };
    let mailer = Mailer::start(cfg, EventTypes::default()).unwrap();
    let events: Vec<Event> = (0..5)
        .map(|i| event(i, "stuck", Some("frank@example.com")))
        .collect();
    mailer.notify(&events);
    // At most one mail is in the task's hands and one in the queue; the rest failed at once.
    let stats = mailer.stats();
    assert!(stats.failed >= 3, "{stats:?}");
    assert_eq!(stats.queued + stats.failed, 5, "{stats:?}");
    mailer.close().await;
    let stats = mailer.stats();
    assert_eq!((stats.sent, stats.failed, stats.pending), (0, 5, 0));
    // After close, notifications are counted as failed, never queued.
    mailer.notify(&events[..1]);
    assert_eq!(mailer.stats().failed, 6);
}

#[tokio::test]
async fn a_bad_recipient_is_a_counted_failure() {
    let sink = SmtpSink::start(Mode::Accept).await;
    let mailer = Mailer::start(config(sink.url()), EventTypes::default()).unwrap();
    mailer.notify(&[
        event(1, "x", Some("not an address")),
        event(2, "y", Some("ok@example.com")),
    ]);
    mailer.close().await;
    let stats = mailer.stats();
    assert_eq!((stats.sent, stats.failed), (1, 1));
    assert_eq!(sink.mails().len(), 1);
}

#[tokio::test]
async fn host_and_port_settings_reach_the_server() {
    let sink = SmtpSink::start(Mode::Accept).await;
    let cfg = MailConfig {
        host: Some(sink.addr.ip().to_string()),
        port: Some(sink.addr.port()),
        from: "alerts@example.com".into(),
        ..MailConfig::default()
    };
    let mailer = Mailer::start(cfg, EventTypes::default()).unwrap();
    mailer.notify(&[event(1, "hello", Some("gina@example.com"))]);
    mailer.close().await;
    let mails = sink.mails();
    assert_eq!(mails.len(), 1);
    assert_eq!(mails[0].from, "<alerts@example.com>");
}

/// Through the real writer: a group's recipient mails every event of the group, an event's
/// own recipient mails that event, others mail nobody; the mails are sent by `close()`.
async fn recorded_events_are_mailed_after_commit(url: &str) {
    let sink = SmtpSink::start(Mode::Accept).await;
    let log = eventlog::EventLog::builder(url)
        .mail(config(sink.url()))
        .open()
        .await
        .unwrap();
    let watched = log.group().send_mail("ops@example.com").unwrap();
    watched.info("step 1").await.unwrap();
    watched.error("step 2 failed").await.unwrap();
    let quiet = log.group();
    quiet.info("nobody hears this").await.unwrap();
    quiet
        .warning("but this one")
        .send_mail("boss@example.com")
        .await
        .unwrap();
    log.clone().close().await.unwrap();
    let stats = log.mail_stats().unwrap();
    assert_eq!((stats.sent, stats.failed), (3, 0), "{stats:?}");
    let mut mails: Vec<_> = sink
        .mails()
        .into_iter()
        .map(|m| (m.to.join(","), header(&m.data, "Subject")))
        .collect();
    mails.sort();
    assert_eq!(
        mails,
        [
            (
                "<boss@example.com>".to_owned(),
                "Event Log: Warning".to_owned()
            ),
            (
                "<ops@example.com>".to_owned(),
                "Event Log: Error".to_owned()
            ),
            ("<ops@example.com>".to_owned(), "Event Log: Info".to_owned()),
        ]
    );
}

/// A dead mail server neither delays nor loses events.
async fn a_dead_mail_server_loses_no_event(url: &str) {
    let dead = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = dead.local_addr().unwrap();
    drop(dead);
    let log = eventlog::EventLog::builder(url)
        .mail(config(format!("smtp://{addr}")))
        .open()
        .await
        .unwrap();
    let g = log.group().send_mail("ops@example.com").unwrap();
    for i in 0..20 {
        g.info(format!("event {i}")).await.unwrap();
    }
    log.clone().close().await.unwrap();
    assert_eq!(log.stats().stored, 20);
    let stats = log.mail_stats().unwrap();
    assert_eq!((stats.sent, stats.failed), (0, 20), "{stats:?}");
    let store = eventlog::store::open(url).await.unwrap();
    assert_eq!(store.count(&Default::default()).await.unwrap(), 20);
}

eventlog_testing::on_both_backends!(
    recorded_events_are_mailed_after_commit,
    a_dead_mail_server_loses_no_event,
);
