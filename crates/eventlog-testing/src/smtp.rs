//! A small SMTP sink over a real tokio `TcpListener` on loopback, for mail tests. It can also
//! refuse mail or hang on purpose.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpListener;

/// One mail as the sink received it.
#[derive(Debug, Clone)]
pub struct Received {
    /// The envelope sender.
    pub from: String,
    /// The envelope recipients.
    pub to: Vec<String>,
    /// The message as sent (headers and body, dot-stuffing undone).
    pub data: String,
}

/// How the sink answers.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Mode {
    /// Accept every mail.
    Accept,
    /// Answer `MAIL FROM` with 554.
    Reject,
    /// Accept connections and never answer.
    Hang,
}

/// A running sink; it stops with the runtime that started it.
pub struct SmtpSink {
    /// Where it listens.
    pub addr: SocketAddr,
    mails: Arc<Mutex<Vec<Received>>>,
}

/// A loopback address nobody listens on (bound, then released): a mail server that is down.
/// Start a sink on it later with [`SmtpSink::start_on`] to bring the server up.
pub async fn down_addr() -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    listener.local_addr().unwrap()
}

impl SmtpSink {
    /// Listens on 127.0.0.1 on a free port, serving on the current tokio runtime.
    pub async fn start(mode: Mode) -> SmtpSink {
        Self::start_on("127.0.0.1:0".parse().unwrap(), mode).await
    }

    /// Listens on `addr` (e.g. one from [`down_addr`]), serving on the current tokio runtime.
    pub async fn start_on(addr: SocketAddr, mode: Mode) -> SmtpSink {
        let listener = TcpListener::bind(addr).await.unwrap();
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

    /// `smtp://127.0.0.1:PORT`.
    pub fn url(&self) -> String {
        format!("smtp://{}", self.addr)
    }

    /// The mails received so far.
    pub fn mails(&self) -> Vec<Received> {
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
pub fn header(data: &str, name: &str) -> String {
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
pub fn part(data: &str, content_type: &str) -> String {
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
