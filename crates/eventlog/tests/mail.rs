//! The mailer against a real SMTP listener on loopback (a small SMTP sink over a tokio
//! `TcpListener`, written here so it can also refuse or hang on purpose).
#![cfg(feature = "mail")]
#![allow(clippy::unwrap_used)]

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::TimeZone;
use eventlog::mail::{MailConfig, Mailer};
use eventlog::{Event, EventTypes};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpListener;

/// One mail as the sink received it.
#[derive(Debug, Clone)]
struct Received {
    from: String,
    to: Vec<String>,
    data: String,
}

#[derive(Clone, Copy, PartialEq)]
enum Mode {
    /// Accept every mail.
    Accept,
    /// Answer `MAIL FROM` with 554.
    Reject,
    /// Accept connections and never answer.
    Hang,
}

struct SmtpSink {
    addr: SocketAddr,
    mails: Arc<Mutex<Vec<Received>>>,
}

impl SmtpSink {
    async fn start(mode: Mode) -> SmtpSink {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let mails = Arc::new(Mutex::new(Vec::new()));
        let store = mails.clone();
        tokio::spawn(async move {
            loop {
                let Ok((socket, _)) = listener.accept().await else {
                    return;
                };
                let store = store.clone();
                tokio::spawn(async move {
                    if mode == Mode::Hang {
                        tokio::time::sleep(Duration::from_secs(3600)).await;
                        drop(socket);
                        return;
                    }
                    let _ = serve(socket, mode, store).await;
                });
            }
        });
        SmtpSink { addr, mails }
    }

    fn url(&self) -> String {
        format!("smtp://{}", self.addr)
    }

    fn mails(&self) -> Vec<Received> {
        self.mails.lock().unwrap().clone()
    }
}

async fn serve(
    socket: tokio::net::TcpStream,
    mode: Mode,
    store: Arc<Mutex<Vec<Received>>>,
) -> std::io::Result<()> {
    let (read, mut write) = socket.into_split();
    let mut lines = BufReader::new(read).lines();
    write.write_all(b"220 sink ESMTP\r\n").await?;
    let mut from = String::new();
    let mut to = Vec::new();
    while let Some(line) = lines.next_line().await? {
        let upper = line.to_ascii_uppercase();
        let reply: &[u8] = if upper.starts_with("EHLO") || upper.starts_with("HELO") {
            b"250 sink\r\n"
        } else if let Some(rest) = upper.strip_prefix("MAIL FROM:") {
            if mode == Mode::Reject {
                b"554 5.7.1 no mail accepted here\r\n"
            } else {
                from = line[line.len() - rest.len()..].trim().to_owned();
                to.clear();
                b"250 ok\r\n"
            }
        } else if let Some(rest) = upper.strip_prefix("RCPT TO:") {
            to.push(line[line.len() - rest.len()..].trim().to_owned());
            b"250 ok\r\n"
        } else if upper == "DATA" {
            write.write_all(b"354 go ahead\r\n").await?;
            let mut data = String::new();
            while let Some(l) = lines.next_line().await? {
                if l == "." {
                    break;
                }
                // Undo dot-stuffing.
                data.push_str(l.strip_prefix('.').unwrap_or(&l));
                data.push('\n');
            }
            store.lock().unwrap().push(Received {
                from: from.clone(),
                to: std::mem::take(&mut to),
                data,
            });
            b"250 queued\r\n"
        } else if upper == "QUIT" {
            write.write_all(b"221 bye\r\n").await?;
            return Ok(());
        } else if upper == "RSET" || upper == "NOOP" {
            b"250 ok\r\n"
        } else {
            b"502 not implemented\r\n"
        };
        write.write_all(reply).await?;
    }
    Ok(())
}

/// A header's value (first occurrence, unfolded).
fn header(data: &str, name: &str) -> String {
    let prefix = format!("{}:", name.to_ascii_lowercase());
    let mut lines = data.lines().take_while(|l| !l.is_empty()).peekable();
    while let Some(line) = lines.next() {
        if line.to_ascii_lowercase().starts_with(&prefix) {
            let mut value = line[prefix.len()..].trim().to_owned();
            while let Some(next) = lines.peek().filter(|l| l.starts_with([' ', '\t'])) {
                value.push(' ');
                value.push_str(next.trim());
                lines.next();
            }
            return value;
        }
    }
    panic!("no {name} header in\n{data}");
}

/// The decoded body of the MIME part with `content_type`.
fn part(data: &str, content_type: &str) -> String {
    let start = data
        .find(&format!("Content-Type: {content_type}"))
        .unwrap_or_else(|| panic!("no {content_type} part in\n{data}"));
    let content_type = header(data, "Content-Type");
    let boundary = content_type
        .split("boundary=")
        .nth(1)
        .unwrap()
        .trim_matches('"');
    let part = &data[start..];
    let (headers, rest) = part.split_once("\n\n").unwrap();
    let body = &rest[..rest.find(&format!("\n--{boundary}")).unwrap()];
    if headers.contains("quoted-printable") {
        decode_qp(body)
    } else {
        body.to_owned()
    }
}

fn decode_qp(s: &str) -> String {
    let s = s.replace("=\n", "");
    let mut out = Vec::new();
    let bytes = s.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'=' && i + 2 < bytes.len() {
            let hex = std::str::from_utf8(&bytes[i + 1..i + 3]).unwrap();
            out.push(u8::from_str_radix(hex, 16).unwrap());
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).unwrap()
}

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
    assert_eq!(
        part(data, "text/plain"),
        "paid\n{\n  \"note\": \"<script>alert(1)</script>\",\n  \"order\": 1\n}\nby <script>bob</script> at 2026-11-27 10:20:30 UTC"
    );
    let html = part(data, "text/html");
    assert!(
        html.contains("<pre>{\n  &quot;note&quot;: &quot;&lt;script&gt;alert(1)&lt;/script&gt;&quot;,\n  &quot;order&quot;: 1\n}</pre>"),
        "{html}"
    );
    assert!(!html.contains("<script>"), "{html}");
}

/// A port nobody listens on: bound, then released.
async fn dead_port() -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
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
