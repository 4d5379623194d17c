//! One bounded HTTP/1.1 POST, over TLS for `https://`.
//!
//! Why not a general client: a notification receiver is a stranger's server. Every step is
//! bounded so that none can hold or exhaust the sender: one deadline covers connect, TLS,
//! request and response head; at most [`MAX_BODY_READ`] bytes of the answer are read (within
//! [`BODY_READ_TIME`]), the rest is never downloaded; redirects are answers like any other,
//! never followed (a 3xx to another host must not receive the signed payload).

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt as _, Full};
use hyper_util::rt::TokioIo;
use tokio::io::{AsyncRead, AsyncWrite};

/// The most bytes of an answer's body read (to quote it in an error).
pub(crate) const MAX_BODY_READ: usize = 1024;
/// The longest time spent reading that much of the body once the head arrived.
const BODY_READ_TIME: Duration = Duration::from_secs(2);

/// What the receiver answered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Answer {
    /// The status code.
    pub status: u16,
    /// `Retry-After`, in seconds or as an HTTP date, as a wait from now.
    pub retry_after: Option<Duration>,
    /// The first [`MAX_BODY_READ`] bytes of the body, lossily as text.
    pub body_start: String,
}

/// A client for POSTs to notification receivers.
#[derive(Clone)]
pub(crate) struct Poster {
    tls: tokio_rustls::TlsConnector,
    timeout: Duration,
}

impl Poster {
    /// A client whose exchanges (up to the response head) last at most `timeout`.
    pub(crate) fn new(timeout: Duration) -> Result<Poster, String> {
        let mut roots = rustls::RootCertStore::empty();
        roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
        let config = rustls::ClientConfig::builder_with_provider(Arc::new(
            rustls::crypto::ring::default_provider(),
        ))
        .with_safe_default_protocol_versions()
        .map_err(|e| format!("cannot set up TLS: {e}"))?
        .with_root_certificates(roots)
        .with_no_client_auth();
        Ok(Poster {
            tls: tokio_rustls::TlsConnector::from(Arc::new(config)),
            timeout,
        })
    }

    /// POSTs `body` with `headers` to `url`. An error is a reason worth retrying (no
    /// connection, TLS failure, timeout); it never contains the URL.
    pub(crate) async fn post(
        &self,
        url: &url::Url,
        headers: &[(&str, String)],
        body: Vec<u8>,
    ) -> Result<Answer, String> {
        match tokio::time::timeout(self.timeout, self.exchange(url, headers, body)).await {
            Ok(Ok(mut answer)) => {
                answer.body_start = redact_url_parts(&answer.body_start, url);
                Ok(answer)
            }
            Ok(Err(e)) => Err(e),
            Err(_) => Err(format!("no answer within {:?}", self.timeout)),
        }
    }

    async fn exchange(
        &self,
        url: &url::Url,
        headers: &[(&str, String)],
        body: Vec<u8>,
    ) -> Result<Answer, String> {
        let host = match url.host() {
            Some(url::Host::Domain(d)) => d.to_owned(),
            Some(url::Host::Ipv4(a)) => a.to_string(),
            Some(url::Host::Ipv6(a)) => a.to_string(),
            None => return Err("the URL has no host".into()),
        };
        let port = url.port_or_known_default().ok_or("the URL has no port")?;
        let tcp = tokio::net::TcpStream::connect((host.as_str(), port))
            .await
            .map_err(|e| format!("cannot connect: {e}"))?;
        let _ = tcp.set_nodelay(true);
        let authority = match url.port() {
            Some(p) => format!("{}:{p}", url.host_str().unwrap_or_default()),
            None => url.host_str().unwrap_or_default().to_owned(),
        };
        let path = &url[url::Position::BeforePath..url::Position::AfterQuery];
        let mut request = hyper::Request::post(if path.is_empty() { "/" } else { path })
            .header(hyper::header::HOST, authority)
            .header(hyper::header::CONTENT_TYPE, "application/json")
            .header(
                hyper::header::USER_AGENT,
                concat!("eventlog/", env!("CARGO_PKG_VERSION")),
            );
        for (name, value) in headers {
            request = request.header(*name, value.as_str());
        }
        let request = request
            .body(Full::new(Bytes::from(body)))
            .map_err(|e| format!("cannot build the request: {e}"))?;
        if url.scheme() == "https" {
            let name = rustls::pki_types::ServerName::try_from(host)
                .map_err(|e| format!("not a TLS server name: {e}"))?;
            let tls = self
                .tls
                .connect(name, tcp)
                .await
                .map_err(|e| format!("TLS handshake failed: {e}"))?;
            send(tls, request).await
        } else {
            send(tcp, request).await
        }
    }
}

async fn send<T>(io: T, request: hyper::Request<Full<Bytes>>) -> Result<Answer, String>
where
    T: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let (mut sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(io))
        .await
        .map_err(|e| format!("HTTP handshake failed: {e}"))?;
    // The connection is driven by its own task and dropped with it: one request per
    // connection, nothing kept open to a stranger.
    let driver = tokio::spawn(connection);
    let result = async {
        let response = sender
            .send_request(request)
            .await
            .map_err(|e| format!("HTTP exchange failed: {e}"))?;
        let status = response.status().as_u16();
        let retry_after = response
            .headers()
            .get(hyper::header::RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .and_then(parse_retry_after);
        let mut body = response.into_body();
        let mut start = Vec::new();
        // Whatever does not arrive in time or fit is left unread.
        let _ = tokio::time::timeout(BODY_READ_TIME, async {
            while start.len() < MAX_BODY_READ {
                match body.frame().await {
                    Some(Ok(frame)) => {
                        if let Some(data) = frame.data_ref() {
                            let room = MAX_BODY_READ - start.len();
                            start.extend_from_slice(&data[..data.len().min(room)]);
                        }
                    }
                    _ => break,
                }
            }
        })
        .await;
        Ok(Answer {
            status,
            retry_after,
            body_start: String::from_utf8_lossy(&start).into_owned(),
        })
    }
    .await;
    driver.abort();
    result
}

/// `text` with the secret parts of `url` (its path and query, and each path segment or
/// query value of 8 characters or more: where Slack, Teams and most webhooks put their token)
/// replaced by `***`. A receiver's error page may quote the request line ("Cannot POST
/// /services/T0/B0/token"), and that quote goes to the log and the admin.
fn redact_url_parts(text: &str, url: &url::Url) -> String {
    let mut secrets: Vec<&str> = url
        .path_segments()
        .into_iter()
        .flatten()
        .chain(url.query().into_iter().flat_map(|q| q.split(['&', '='])))
        .filter(|part| part.len() >= 8)
        .collect();
    let path = url.path();
    if path.len() > 1 {
        secrets.push(path);
    }
    // Longest first, so that a whole path is replaced before its segments.
    secrets.sort_by_key(|s| std::cmp::Reverse(s.len()));
    let mut text = text.to_owned();
    for secret in secrets {
        text = text.replace(secret, "***");
    }
    text
}

/// `Retry-After: 120` or `Retry-After: Wed, 21 Oct 2015 07:28:00 GMT`, as a wait from now.
fn parse_retry_after(value: &str) -> Option<Duration> {
    let value = value.trim();
    if let Ok(secs) = value.parse::<u64>() {
        return Some(Duration::from_secs(secs));
    }
    let at = chrono::DateTime::parse_from_rfc2822(value).ok()?;
    (at.with_timezone(&chrono::Utc) - chrono::Utc::now())
        .to_std()
        .ok()
        .or(Some(Duration::ZERO))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quoted_answers_lose_the_urls_secret_parts() {
        let url = url::Url::parse(
            "https://hooks.slack.com/services/T0/B0/XyZsecrettoken?sig=abcdefghijk",
        )
        .unwrap_or_else(|e| panic!("{e}"));
        let quoted =
            "Cannot POST /services/T0/B0/XyZsecrettoken (token XyZsecrettoken, sig abcdefghijk)";
        let redacted = redact_url_parts(quoted, &url);
        assert_eq!(redacted, "Cannot POST *** (token ***, sig ***)");
    }

    #[test]
    fn retry_after_in_seconds_or_as_a_date() {
        assert_eq!(parse_retry_after("7"), Some(Duration::from_secs(7)));
        assert_eq!(
            parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT"),
            Some(Duration::ZERO)
        );
        let later = (chrono::Utc::now() + chrono::TimeDelta::seconds(100)).to_rfc2822();
        let wait = parse_retry_after(&later).unwrap_or_default();
        assert!(
            wait > Duration::from_secs(95) && wait <= Duration::from_secs(100),
            "{wait:?}"
        );
        assert_eq!(parse_retry_after("soon"), None);
    }
}
