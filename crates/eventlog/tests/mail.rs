//! E-mail through the durable outbox, with the real writer, real databases (SQLite file and
//! PostgreSQL) and a real SMTP listener on loopback (`eventlog_testing::smtp`), which can also
//! be down, refuse or hang on purpose.
#![cfg(feature = "mail")]
#![allow(clippy::unwrap_used)]

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use eventlog::EventLog;
use eventlog::mail::MailConfig;
use eventlog::store::OutboxStatus;
use eventlog_testing::smtp::{Mode, Received, SmtpSink, down_addr, header, part};

fn config(url: String) -> MailConfig {
    MailConfig {
        url: Some(url),
        from: "Event Log <eventlog@example.com>".into(),
        // Short waits: the tests bring the server up after a few seconds.
        timeout_secs: 2,
        retry_max_interval_secs: 1,
        close_timeout_secs: 5,
        ..MailConfig::default()
    }
}

/// A log on the database at `url` that mails through the SMTP server at `smtp` ([`config`]).
async fn mailing_log(url: &str, smtp: String) -> EventLog {
    EventLog::builder(url)
        .mail(config(smtp))
        .open()
        .await
        .unwrap()
}

async fn outbox(url: &str) -> OutboxStatus {
    let store = eventlog::store::open(url).await.unwrap();
    store.outbox_status().await.unwrap()
}

/// Waits until the sink holds `n` mails (or 30 s passed), then a little longer so that a
/// duplicate would have time to arrive too.
async fn wait_for_mails(sink: &SmtpSink, n: usize) -> Vec<Received> {
    let start = Instant::now();
    while sink.mails().len() < n && start.elapsed() < Duration::from_secs(30) {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    tokio::time::sleep(Duration::from_millis(1_500)).await;
    sink.mails()
}

/// Through the real writer: a group's recipient mails every event of the group, an event's
/// own recipient mails that event, others mail nobody; `close()` sends them.
async fn recorded_events_are_mailed_after_commit(url: &str) {
    let sink = SmtpSink::start(Mode::Accept).await;
    let log = mailing_log(url, sink.url()).await;
    let watched = log.group().send_mail("ops@example.com");
    let first = watched.info("step 1").await.unwrap();
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
    assert_eq!((stats.sent, stats.given_up), (3, 0), "{stats:?}");
    let mails = sink.mails();
    let mut seen: Vec<_> = mails
        .iter()
        .map(|m| (m.to.join(","), header(&m.data, "Subject")))
        .collect();
    seen.sort();
    assert_eq!(
        seen,
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
    let ids: Vec<String> = mails
        .iter()
        .map(|m| header(&m.data, "Message-ID"))
        .collect();
    let want = eventlog::mail::message_id(first, "ops@example.com", "example.com");
    assert!(ids.contains(&want), "{want} not in {ids:?}");
    let status = outbox(url).await;
    assert_eq!((status.queued, status.sent, status.given_up), (0, 3, 0));
}

/// The SMTP server is down while 100 mail events are recorded and the process (here: the
/// `EventLog` with its writer and mail sender) is restarted once in between; then the server
/// comes up. Exactly 100 mails arrive, one per event, none twice.
async fn an_outage_and_a_restart_lose_no_mail_and_send_none_twice(url: &str) {
    let addr = down_addr().await;
    let started = Instant::now();
    let mut uuids = HashSet::new();
    for half in 0..2 {
        let log = mailing_log(url, format!("smtp://{addr}")).await;
        let g = log.group().send_mail("ops@example.com");
        for i in 0..50 {
            uuids.insert(g.error(format!("disk {half}/{i} failing")).await.unwrap());
        }
        // The restart: everything stored, the mail sender stopped with the server still down.
        log.clone().close().await.unwrap();
        let stats = log.mail_stats().unwrap();
        assert_eq!(stats.sent, 0, "{stats:?}");
        assert!(
            stats.retried >= 50,
            "each mail failed at least once: {stats:?}"
        );
    }
    let status = outbox(url).await;
    assert_eq!((status.queued, status.sent), (100, 0), "{status:?}");
    // The server stays down for about 5 s in all.
    tokio::time::sleep(Duration::from_secs(5).saturating_sub(started.elapsed())).await;
    let log = mailing_log(url, format!("smtp://{addr}")).await;
    let sink = SmtpSink::start_on(addr, Mode::Accept).await;
    let mails = wait_for_mails(&sink, 100).await;
    log.close().await.unwrap();
    assert_eq!(mails.len(), 100, "exactly 100 mails");
    let mut per_event: HashMap<String, usize> = HashMap::new();
    for m in &mails {
        *per_event.entry(header(&m.data, "Message-ID")).or_default() += 1;
    }
    let want: HashSet<String> = uuids
        .iter()
        .map(|u| eventlog::mail::message_id(*u, "ops@example.com", "example.com"))
        .collect();
    assert_eq!(per_event.len(), 100, "none twice");
    assert_eq!(per_event.keys().cloned().collect::<HashSet<_>>(), want);
    let status = outbox(url).await;
    assert_eq!(
        (status.queued, status.sent, status.given_up),
        (0, 100, 0),
        "{status:?}"
    );
    assert!(status.retried >= 100, "{status:?}");
}

/// Two processes' senders on one database (here: two `EventLog`s): each mail is claimed by one
/// of them only.
async fn two_senders_send_each_mail_once(url: &str) {
    let sink = SmtpSink::start(Mode::Accept).await;
    let a = mailing_log(url, sink.url()).await;
    let b = mailing_log(url, sink.url()).await;
    let ga = a.group().send_mail("a@example.com");
    let gb = b.group().send_mail("b@example.com");
    for i in 0..40 {
        ga.info(format!("a {i}")).await.unwrap();
        gb.info(format!("b {i}")).await.unwrap();
    }
    a.flush().await.unwrap();
    b.flush().await.unwrap();
    let mails = wait_for_mails(&sink, 80).await;
    let (sa, sb) = (a.mail_stats().unwrap(), b.mail_stats().unwrap());
    a.close().await.unwrap();
    b.close().await.unwrap();
    let ids: HashSet<String> = mails
        .iter()
        .map(|m| header(&m.data, "Message-ID"))
        .collect();
    assert_eq!((mails.len(), ids.len()), (80, 80));
    assert_eq!(sa.sent + sb.sent, 80, "{sa:?} {sb:?}");
}

eventlog_testing::on_both_backends!(
    recorded_events_are_mailed_after_commit,
    an_outage_and_a_restart_lose_no_mail_and_send_none_twice,
    two_senders_send_each_mail_once,
);

/// A fresh SQLite file's URL, and the directory holding it (deleted when dropped).
fn sqlite_file() -> (tempfile::TempDir, String) {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("events.db").display());
    (dir, url)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn custom_templates_fill_data_and_escape_it_in_html() {
    let (_dir, url) = sqlite_file();
    let sink = SmtpSink::start(Mode::Accept).await;
    let cfg = MailConfig {
        subject: "[{type}] {message}".into(),
        body: "{message}\n{data}\nby {initiator}".into(),
        ..config(sink.url())
    };
    let log = EventLog::builder(&url).mail(cfg).open().await.unwrap();
    let data = serde_json::json!({"order": 1, "note": "<script>alert(1)</script>"});
    log.group()
        .warning("paid <b>")
        .data(&data)
        .initiator("<script>bob</script>")
        .send_mail("carol@example.com")
        .await
        .unwrap();
    log.close().await.unwrap();

    let mails = sink.mails();
    assert_eq!(mails.len(), 1);
    let m = &mails[0].data;
    assert_eq!(header(m, "Subject"), "[Warning] paid <b>");
    assert_eq!(header(m, "From"), "\"Event Log\" <eventlog@example.com>");
    let pretty = serde_json::to_string_pretty(&data).unwrap();
    assert_eq!(
        part(m, "text/plain"),
        format!("paid <b>\n{pretty}\nby <script>bob</script>")
    );
    let html = part(m, "text/html");
    assert!(
        html.contains(&format!(
            "<pre>{}</pre>",
            eventlog::mail::escape_html(&pretty)
        )),
        "{html}"
    );
    assert!(html.contains("paid &lt;b&gt;<br>"), "{html}");
    assert!(
        html.contains("by &lt;script&gt;bob&lt;&#x2F;script&gt;"),
        "{html}"
    );
    assert!(
        !html.contains("<script>") && !html.contains("<b>"),
        "{html}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_permanent_refusal_is_given_up_at_once() {
    let (_dir, url) = sqlite_file();
    let sink = SmtpSink::start(Mode::Reject).await;
    let cfg = MailConfig {
        fail_silently: true,
        ..config(sink.url())
    };
    let log = EventLog::builder(&url).mail(cfg).open().await.unwrap();
    let g = log.group().send_mail("erin@example.com");
    g.info("a").await.unwrap();
    g.info("b").await.unwrap();
    log.clone().close().await.unwrap();
    let stats = log.mail_stats().unwrap();
    assert_eq!((stats.sent, stats.retried, stats.given_up), (0, 0, 2));
    assert!(sink.mails().is_empty());
    let status = outbox(&url).await;
    assert_eq!((status.queued, status.given_up), (0, 2), "{status:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mails_failing_past_the_retry_period_are_given_up() {
    let (_dir, url) = sqlite_file();
    let cfg = MailConfig {
        give_up_after_secs: 2,
        fail_silently: true,
        ..config(format!("smtp://{}", down_addr().await))
    };
    let log = EventLog::builder(&url).mail(cfg).open().await.unwrap();
    let g = log.group().send_mail("frank@example.com");
    for i in 0..3 {
        g.info(format!("event {i}")).await.unwrap();
    }
    log.flush().await.unwrap();
    let start = Instant::now();
    while outbox(&url).await.given_up < 3 && start.elapsed() < Duration::from_secs(20) {
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    log.clone().close().await.unwrap();
    let status = outbox(&url).await;
    assert_eq!((status.queued, status.sent, status.given_up), (0, 0, 3));
    assert!(status.retried >= 3, "{status:?}");
    // Events are never lost to mail failures.
    assert_eq!(log.stats().stored, 3);
}

/// A `tracing` writer into a shared buffer, to see what is logged.
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_a_mail_section_mail_is_queued_and_a_warning_logged_once() {
    let logs = LogBuffer::default();
    let writer = logs.clone();
    // A global subscriber: the warning is logged on the writer thread.
    tracing::subscriber::set_global_default(
        tracing_subscriber::fmt()
            .with_ansi(false)
            .with_writer(move || writer.clone())
            .finish(),
    )
    .unwrap();
    let (_dir, url) = sqlite_file();
    let log = EventLog::open(&url).await.unwrap();
    let g = log.group().send_mail("gina@example.com");
    g.info("one").await.unwrap();
    log.flush().await.unwrap();
    g.info("two").await.unwrap();
    log.group().info("no mail asked").await.unwrap();
    log.clone().close().await.unwrap();
    assert!(log.mail_stats().is_none());
    let text = String::from_utf8(logs.0.lock().unwrap().clone()).unwrap();
    let warnings: Vec<&str> = text
        .lines()
        .filter(|l| l.contains("has no [mail] configuration"))
        .collect();
    assert_eq!(warnings.len(), 1, "{text}");
    assert!(warnings[0].contains("WARN") && warnings[0].contains("gina@example.com"));
    // The mails wait in the outbox for a process with [mail].
    assert_eq!(outbox(&url).await.queued, 2);
    let sink = SmtpSink::start(Mode::Accept).await;
    let sender = mailing_log(&url, sink.url()).await;
    sender.close().await.unwrap();
    assert_eq!(sink.mails().len(), 2);
}
