//! Serving a router over TCP so that hostile or slow clients cannot take the server down:
//! header-read and request timeouts, a connection cap, a bound on request body bytes in
//! flight, request logs, and a graceful shutdown that ends live-tail streams and does not
//! wait longer than a grace period.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::extract::{ConnectInfo, Request};
use axum::http::header;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use futures_util::StreamExt as _;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use hyper_util::server::graceful::GracefulShutdown;
use tokio::sync::Semaphore;
use tokio_util::sync::CancellationToken;
use tower::ServiceExt as _;
use tower_http::trace::{DefaultMakeSpan, DefaultOnRequest, TraceLayer};

use crate::error::{AppError, Unavailable};

pub mod admission;
pub mod input;
mod peers;

use admission::BodyBudget;

/// File descriptors kept free for the database pool, log files, mail and the listener
/// itself when the connection cap is derived from the process's limit.
const FD_RESERVE: u64 = 128;

/// How the server treats connections and requests; [`ServeOptions::default`] keeps it
/// answering under slow clients and large uploads.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct ServeOptions {
    /// How long a client may take to send its request headers; also the longest a
    /// keep-alive connection may stay idle between requests. Default 10 s.
    pub header_read_timeout: Duration,
    /// How long a request may take until its response starts; past it: `503` with
    /// `Retry-After`. Default 30 s.
    pub request_timeout: Duration,
    /// Most connections served at once (further ones wait in the kernel's queue). The
    /// server also stays 128 below its file descriptor limit. Default 10,000.
    pub max_connections: usize,
    /// Most connections of one peer address (at most half of the connection cap); further
    /// ones are closed at once. `0`: no cap per peer. Default 256.
    pub max_connections_per_peer: usize,
    /// After the shutdown signal: how long in-flight requests may take before the server
    /// returns anyway. Default 10 s.
    pub shutdown_grace: Duration,
    /// Most body bytes of authenticated requests held at once; a request that would pass
    /// it gets `503` with `Retry-After` (a declared length before its body is read, a
    /// chunked body as its bytes arrive). Default 64 MiB.
    pub max_inflight_bytes: usize,
    /// The same for requests without a valid session or token (the login form), a budget of
    /// their own so that anonymous clients cannot take what authenticated work needs.
    /// Default a sixteenth of `max_inflight_bytes` (4 MiB), at least 64 KiB.
    pub anonymous_inflight_bytes: usize,
    /// The most a body is charged on a route without a limit of its own
    /// ([`admission::route_limit`]). Default 8 MiB.
    pub body_limit: usize,
}

impl Default for ServeOptions {
    fn default() -> Self {
        let server = crate::config::ServerConfig::default();
        let api = crate::config::ApiConfig::default();
        ServeOptions::from_config(&server, &api)
    }
}

impl ServeOptions {
    /// The options `[server]` and `[api]` of `eventlog.toml` describe.
    pub fn from_config(
        server: &crate::config::ServerConfig,
        api: &crate::config::ApiConfig,
    ) -> Self {
        ServeOptions {
            header_read_timeout: server.header_read_timeout,
            request_timeout: server.request_timeout,
            max_connections: server.max_connections,
            max_connections_per_peer: server.max_connections_per_peer,
            shutdown_grace: server.shutdown_grace,
            max_inflight_bytes: api.max_inflight_bytes,
            anonymous_inflight_bytes: BodyBudget::anonymous_share(api.max_inflight_bytes),
            body_limit: api.body_limit,
        }
    }

    /// The connection cap in effect: `max_connections`, lowered to stay below the file
    /// descriptor limit (a server out of descriptors can accept nobody, not even
    /// `/healthz`).
    pub fn connection_cap(&self) -> usize {
        let by_fds = fd_limit()
            .map(|n| n.saturating_sub(FD_RESERVE).max(1))
            .and_then(|n| usize::try_from(n).ok())
            .unwrap_or(usize::MAX);
        self.max_connections.clamp(1, by_fds.max(1))
    }

    /// The cap per peer address in effect: `max_connections_per_peer`, at most half the
    /// connection cap; `None` when it is 0.
    pub fn peer_cap(&self) -> Option<usize> {
        (self.max_connections_per_peer > 0).then(|| {
            self.max_connections_per_peer
                .min(self.connection_cap() / 2)
                .max(1)
        })
    }
}

#[cfg(unix)]
fn fd_limit() -> Option<u64> {
    rustix::process::getrlimit(rustix::process::Resource::Nofile).current
}

#[cfg(not(unix))]
fn fd_limit() -> Option<u64> {
    None
}

/// Serves `router` on `listener` with [`ServeOptions::default`] until `shutdown`
/// completes, then stops accepting, ends live-tail streams and lets in-flight requests
/// finish for up to the grace period.
pub async fn serve(
    listener: tokio::net::TcpListener,
    router: Router,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    serve_with(listener, router, shutdown, ServeOptions::default()).await
}

/// Like [`serve`], with the given options.
pub async fn serve_with(
    listener: tokio::net::TcpListener,
    router: Router,
    shutdown: impl Future<Output = ()> + Send + 'static,
    options: ServeOptions,
) -> std::io::Result<()> {
    let stopping = CancellationToken::new();
    let router = with_layers(router, &options, stopping.clone());

    let mut builder = auto::Builder::new(TokioExecutor::new());
    builder
        .http1()
        .timer(TokioTimer::new())
        .header_read_timeout(options.header_read_timeout);
    builder
        .http2()
        .timer(TokioTimer::new())
        .keep_alive_interval(Some(options.header_read_timeout))
        .keep_alive_timeout(options.header_read_timeout);
    let builder = Arc::new(builder);

    let cap = options.connection_cap();
    let connections = Arc::new(Semaphore::new(cap));
    let peers = peers::PeerConnections::new(options.peer_cap());
    let graceful = GracefulShutdown::new();
    let mut shutdown = std::pin::pin!(shutdown);
    tracing::debug!(connection_cap = cap, peer_cap = ?options.peer_cap(), "serving");

    loop {
        // A permit first: beyond the cap, connections wait in the kernel's accept queue
        // instead of using up file descriptors.
        let permit = tokio::select! {
            permit = connections.clone().acquire_owned() => match permit {
                Ok(permit) => permit,
                Err(_) => break,
            },
            () = &mut shutdown => break,
        };
        let (stream, remote) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(e) => {
                    if !is_connection_error(&e) {
                        // EMFILE and friends: back off instead of spinning.
                        tracing::error!(error = %e, "accept failed");
                        tokio::time::sleep(Duration::from_millis(200)).await;
                    }
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        let slot = match &peers {
            Some(peers) => match peers.admit(remote.ip()) {
                Some(slot) => Some(slot),
                // Closed at once: the peer holds its share already.
                None => continue,
            },
            None => None,
        };
        let _ = stream.set_nodelay(true);
        let router = router.clone();
        let service =
            hyper::service::service_fn(move |mut request: Request<hyper::body::Incoming>| {
                request.extensions_mut().insert(ConnectInfo(remote));
                let router = router.clone();
                async move { router.oneshot(request.map(Body::new)).await }
            });
        let builder = builder.clone();
        let connection = builder
            .serve_connection_with_upgrades(TokioIo::new(stream), service)
            .into_owned();
        let connection = graceful.watch(connection);
        tokio::spawn(async move {
            if let Err(e) = connection.await {
                tracing::debug!(error = %e, %remote, "connection ended with an error");
            }
            drop(permit);
            drop(slot);
        });
    }

    drop(listener);
    // Live-tail streams never finish by themselves: end them now.
    stopping.cancel();
    tokio::select! {
        () = graceful.shutdown() => {}
        () = tokio::time::sleep(options.shutdown_grace) => {
            tracing::warn!(
                grace = ?options.shutdown_grace,
                "requests still running after the shutdown grace period; closing them"
            );
        }
    }
    Ok(())
}

/// Errors of one incoming connection (the client went away before `accept` returned),
/// not of the listener.
fn is_connection_error(e: &std::io::Error) -> bool {
    matches!(
        e.kind(),
        std::io::ErrorKind::ConnectionRefused
            | std::io::ErrorKind::ConnectionAborted
            | std::io::ErrorKind::ConnectionReset
    )
}

fn with_layers(router: Router, options: &ServeOptions, stopping: CancellationToken) -> Router {
    let request_timeout = options.request_timeout;
    let budget = Arc::new(BodyBudget::new(
        options.max_inflight_bytes,
        options.anonymous_inflight_bytes,
        options.body_limit,
    ));
    let router = router
        .layer(axum::middleware::from_fn(
            move |req: Request, next: Next| deadline(request_timeout, req, next),
        ))
        .layer(axum::middleware::from_fn(
            move |req: Request, next: Next| budget.clone().admit(req, next),
        ))
        .layer(axum::middleware::from_fn(
            move |req: Request, next: Next| end_streams_on_shutdown(stopping.clone(), req, next),
        ));
    // Outside every refusal above (budget, deadline, route limit), so that those carry the
    // security headers too.
    crate::security_headers::with_security_headers(router)
        // One log line per request at INFO (method, path, status, latency); `EVENTLOG_LOG`
        // chooses the level.
        .layer(
            TraceLayer::new_for_http()
                .make_span_with(DefaultMakeSpan::new().level(tracing::Level::INFO))
                .on_request(DefaultOnRequest::new().level(tracing::Level::DEBUG))
                // The latency as a number (`latency_ms`), not tower-http's "2 ms" text, so
                // that JSON logs can be summed and compared.
                .on_response(
                    |response: &axum::http::Response<_>, latency: Duration, _: &tracing::Span| {
                        tracing::info!(
                            status = response.status().as_u16(),
                            latency_ms = latency.as_secs_f64() * 1e3,
                            "finished processing request"
                        );
                    },
                ),
        )
}

/// `503` with `Retry-After` when the response has not started within `limit`; dropping the
/// handler's future also gives back any pooled connection it held.
async fn deadline(limit: Duration, req: Request, next: Next) -> Response {
    let json = wants_json(&req);
    match tokio::time::timeout(limit, next.run(req)).await {
        Ok(response) => response,
        Err(_) => refuse(Unavailable::Timeout, json),
    }
}

/// API clients (and anyone asking for JSON) get JSON errors; browsers an HTML page.
fn wants_json(req: &Request) -> bool {
    req.uri().path().contains(crate::api::BASE_PATH)
        || req
            .headers()
            .get(header::ACCEPT)
            .is_some_and(|v| v.as_bytes().starts_with(b"application/json"))
}

fn refuse(reason: Unavailable, json: bool) -> Response {
    if json {
        crate::error::unavailable_json(reason)
    } else {
        AppError::Unavailable(reason).into_response()
    }
}

/// Server-sent event streams (the live tail) end when the server shuts down, so that a
/// browser tab cannot hold the shutdown.
async fn end_streams_on_shutdown(
    stopping: CancellationToken,
    req: Request,
    next: Next,
) -> Response {
    let response = next.run(req).await;
    let is_stream = response
        .headers()
        .get(header::CONTENT_TYPE)
        .is_some_and(|v| v.as_bytes().starts_with(b"text/event-stream"));
    if !is_stream {
        return response;
    }
    let (parts, body) = response.into_parts();
    let body = body
        .into_data_stream()
        .take_until(stopping.cancelled_owned());
    Response::from_parts(parts, Body::from_stream(body))
}
