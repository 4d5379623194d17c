//! A real HTTP receiver on loopback for notification tests: it records every POST (path,
//! headers, body) and answers as scripted, including hostile answers (slow, huge, redirects).
//!
//! Plain tokio sockets and a small HTTP/1.1 reader, so a test controls every byte: a reply
//! can stall before its head, or stream far more body than any client should read.

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// One request as the receiver read it.
#[derive(Debug, Clone)]
pub struct Received {
    /// The request target (path and query).
    pub path: String,
    /// Header names in lower case, with their values.
    pub headers: Vec<(String, String)>,
    /// The raw body.
    pub body: Vec<u8>,
    /// When it was read.
    pub at: Instant,
}

impl Received {
    /// The first value of header `name` (any case).
    pub fn header(&self, name: &str) -> Option<&str> {
        let name = name.to_ascii_lowercase();
        self.headers
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, v)| v.as_str())
    }

    /// The body as JSON (panics if it is not: a test wants to know).
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).expect("the body is JSON")
    }
}

/// How the receiver answers one request.
#[derive(Debug, Clone, PartialEq)]
pub enum Reply {
    /// This status, with `Retry-After` if given.
    Status(u16, Option<String>),
    /// Nothing for this long, then 200.
    Slow(Duration),
    /// 200 with a body of this many bytes, streamed.
    Huge(usize),
    /// 302 to this location.
    Redirect(String),
    /// This status with a body quoting the request line, as many error pages do.
    EchoPath(u16),
}

#[derive(Default)]
struct State {
    received: Vec<Received>,
    script: VecDeque<Reply>,
    default: Option<Reply>,
}

/// A running receiver; it stops with the runtime that started it.
pub struct Receiver {
    /// Where it listens.
    pub addr: SocketAddr,
    state: Arc<Mutex<State>>,
}

/// A loopback address nobody listens on (bound, then released): a receiver that is down.
pub fn dead_addr() -> SocketAddr {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind loopback");
    listener.local_addr().expect("local address")
}

impl Receiver {
    /// Starts on a free loopback port, answering 200 to everything.
    pub async fn start() -> Receiver {
        Self::start_at("127.0.0.1:0".parse().expect("an address")).await
    }

    /// Starts on `addr` (e.g. one that was down until now).
    pub async fn start_at(addr: SocketAddr) -> Receiver {
        let listener = TcpListener::bind(addr).await.expect("bind the receiver");
        let addr = listener.local_addr().expect("local address");
        let state = Arc::new(Mutex::new(State::default()));
        let shared = state.clone();
        tokio::spawn(async move {
            while let Ok((socket, _)) = listener.accept().await {
                tokio::spawn(serve(socket, shared.clone()));
            }
        });
        Receiver { addr, state }
    }

    /// `http://ADDR` and `path`.
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    /// The next requests get these replies, in order; then the default.
    pub fn script(&self, replies: impl IntoIterator<Item = Reply>) {
        self.lock().script.extend(replies);
    }

    /// Every request without a scripted reply gets `reply` (200 until set).
    pub fn answer_always(&self, reply: Reply) {
        self.lock().default = Some(reply);
    }

    /// What it has read so far.
    pub fn received(&self) -> Vec<Received> {
        self.lock().received.clone()
    }

    /// Waits until at least `n` requests arrived (panics after `within`).
    pub async fn wait_for(&self, n: usize, within: Duration) -> Vec<Received> {
        let deadline = Instant::now() + within;
        loop {
            let got = self.received();
            if got.len() >= n {
                return got;
            }
            assert!(
                Instant::now() < deadline,
                "{} of {n} requests after {within:?}",
                got.len()
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }
}

async fn serve(mut socket: TcpStream, state: Arc<Mutex<State>>) {
    let Some(request) = read_request(&mut socket).await else {
        return;
    };
    let path = request.path.clone();
    let reply = {
        let mut s = state.lock().unwrap_or_else(|p| p.into_inner());
        s.received.push(request);
        s.script
            .pop_front()
            .or_else(|| s.default.clone())
            .unwrap_or(Reply::Status(200, None))
    };
    let _ = answer(&mut socket, reply, &path).await;
}

async fn answer(socket: &mut TcpStream, reply: Reply, path: &str) -> std::io::Result<()> {
    let head = |status: u16, extra: &str, length: usize| {
        format!(
            "HTTP/1.1 {status} X\r\nContent-Length: {length}\r\nConnection: close\r\n{extra}\r\n"
        )
    };
    match reply {
        Reply::Status(status, retry_after) => {
            let extra = retry_after
                .map(|r| format!("Retry-After: {r}\r\n"))
                .unwrap_or_default();
            socket
                .write_all(format!("{}ok", head(status, &extra, 2)).as_bytes())
                .await
        }
        Reply::Slow(wait) => {
            tokio::time::sleep(wait).await;
            socket
                .write_all(format!("{}ok", head(200, "", 2)).as_bytes())
                .await
        }
        Reply::Huge(bytes) => {
            socket.write_all(head(200, "", bytes).as_bytes()).await?;
            let chunk = vec![b'x'; 64 * 1024];
            let mut left = bytes;
            while left > 0 {
                let n = left.min(chunk.len());
                socket.write_all(&chunk[..n]).await?;
                left -= n;
            }
            Ok(())
        }
        Reply::EchoPath(status) => {
            let body = format!("Cannot POST {path}");
            let reply = format!("{}{body}", head(status, "", body.len()));
            socket.write_all(reply.as_bytes()).await
        }
        Reply::Redirect(location) => {
            let extra = format!("Location: {location}\r\n");
            socket.write_all(head(302, &extra, 0).as_bytes()).await
        }
    }
}

/// Reads one request (head up to 64 KiB, body by `Content-Length` up to 16 MiB).
async fn read_request(socket: &mut TcpStream) -> Option<Received> {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 8192];
    let head_end = loop {
        if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break i;
        }
        if buf.len() > 64 * 1024 {
            return None;
        }
        let n = socket.read(&mut chunk).await.ok()?;
        if n == 0 {
            return None;
        }
        buf.extend_from_slice(&chunk[..n]);
    };
    let head = String::from_utf8_lossy(&buf[..head_end]).into_owned();
    let mut lines = head.split("\r\n");
    let path = lines.next()?.split(' ').nth(1)?.to_owned();
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(n, v)| (n.trim().to_ascii_lowercase(), v.trim().to_owned()))
        .collect();
    let length: usize = headers
        .iter()
        .find(|(n, _)| n == "content-length")
        .and_then(|(_, v)| v.parse().ok())
        .unwrap_or(0)
        .min(16 * 1024 * 1024);
    let mut body = buf[head_end + 4..].to_vec();
    while body.len() < length {
        let n = socket.read(&mut chunk).await.ok()?;
        if n == 0 {
            return None;
        }
        body.extend_from_slice(&chunk[..n]);
    }
    body.truncate(length);
    Some(Received {
        path,
        headers,
        body,
        at: Instant::now(),
    })
}
