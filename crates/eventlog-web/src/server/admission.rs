//! The bound on request body bytes held at once, split so that anonymous clients cannot
//! take what authenticated work needs.
//!
//! Every request with a body gets a ticket. Nothing is charged until the handler starts
//! reading the body, by which time its extractors have authenticated the request (a forged
//! token is refused before a byte is read). Then the body is charged against one of two
//! pools: the general one for authenticated requests, a small one of its own for anonymous
//! ones (the login form). A body with `Content-Length` is charged that length up front,
//! capped by the route's own limit; a body without one (chunked) is charged as its bytes
//! arrive. Past a pool: `503` with `Retry-After`; past the route's limit: `413`. Handlers
//! may charge more for what the body becomes after parsing ([`charge_at_least`]).

use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};

use axum::body::{Body, Bytes};
use axum::extract::Request;
use axum::http::{Extensions, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use futures_util::Stream;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use crate::error::Unavailable;

/// The smallest budget of anonymous requests, whatever `max_inflight_bytes` says: room for
/// a few login forms at once.
const MIN_ANONYMOUS_BYTES: usize = 64 * 1024;

/// The two pools of body bytes and the limit of routes that set none.
pub(crate) struct BodyBudget {
    general: Arc<Semaphore>,
    general_max: usize,
    anonymous: Arc<Semaphore>,
    anonymous_max: usize,
    default_route_limit: usize,
}

impl BodyBudget {
    /// `general` bytes for authenticated requests, `anonymous` for the rest; a route without a
    /// limit of its own ([`route_limit`]) is charged at most `default_route_limit`.
    pub(crate) fn new(general: usize, anonymous: usize, default_route_limit: usize) -> Self {
        let general = clamp_permits(general);
        let anonymous = clamp_permits(anonymous.max(MIN_ANONYMOUS_BYTES));
        BodyBudget {
            general: Arc::new(Semaphore::new(general)),
            general_max: general,
            anonymous: Arc::new(Semaphore::new(anonymous)),
            anonymous_max: anonymous,
            default_route_limit,
        }
    }

    /// The budget of anonymous requests derived from the general one: a sixteenth.
    pub(crate) fn anonymous_share(general: usize) -> usize {
        (general / 16).max(MIN_ANONYMOUS_BYTES)
    }

    /// Middleware: gives a request with a body its ticket, meters the body, and turns a
    /// refusal by the meter into `503` (budget) or `413` (route limit).
    pub(crate) async fn admit(self: Arc<Self>, mut req: Request, next: Next) -> Response {
        let declared = req
            .headers()
            .get(header::CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse::<u64>().ok());
        let has_body = declared.is_some_and(|n| n > 0)
            || req.headers().contains_key(header::TRANSFER_ENCODING);
        if !has_body {
            return next.run(req).await;
        }
        let json = super::wants_json(&req);
        let ticket = Arc::new(Ticket {
            budget: self.clone(),
            declared: declared.map(|n| usize::try_from(n).unwrap_or(usize::MAX)),
            authenticated: AtomicBool::new(false),
            route_limit: AtomicUsize::new(self.default_route_limit),
            expansion: AtomicUsize::new(1),
            held: Mutex::new(Held::default()),
            unread: Mutex::new(None),
        });
        req.extensions_mut().insert(TicketHandle(ticket.clone()));
        let req = req.map(|body| {
            Body::from_stream(Metered {
                inner: Some(body.into_data_stream()),
                ticket: ticket.clone(),
                started: false,
                finished: false,
            })
        });
        let http1 = req.version() <= axum::http::Version::HTTP_11;
        let response = next.run(req).await;
        let mut response = match ticket.release() {
            None => response,
            Some(Refusal::Busy) => super::refuse(Unavailable::Busy, json),
            Some(Refusal::TooLarge(limit)) => too_large(limit, json),
        };
        let unread = ticket
            .unread
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .take();
        if let Some(unread) = unread {
            // Read and thrown away (up to the body limit, for a few seconds) while the answer
            // is sent: a client still uploading then reads it instead of a reset. The
            // connection is not reused.
            tokio::spawn(discard(unread, self.default_route_limit));
            if http1 {
                response.headers_mut().insert(
                    header::CONNECTION,
                    header::HeaderValue::from_static("close"),
                );
            }
        }
        response
    }
}

/// How long the rest of a refused body is read and thrown away at most.
const DISCARD_FOR: std::time::Duration = std::time::Duration::from_secs(10);

/// Reads up to `most` bytes of `body` (for at most [`DISCARD_FOR`]) and throws them away.
async fn discard(mut body: axum::body::BodyDataStream, most: usize) {
    use futures_util::StreamExt as _;
    let mut read = 0usize;
    let _ = tokio::time::timeout(DISCARD_FOR, async {
        while read <= most {
            match body.next().await {
                Some(Ok(chunk)) => read += chunk.len(),
                _ => break,
            }
        }
    })
    .await;
}

fn clamp_permits(bytes: usize) -> usize {
    bytes.clamp(1, Semaphore::MAX_PERMITS)
}

fn too_large(limit: usize, json: bool) -> Response {
    let message = format!("the request body is larger than the limit of {limit} bytes");
    if json {
        (
            StatusCode::PAYLOAD_TOO_LARGE,
            axum::Json(serde_json::json!({ "error": message })),
        )
            .into_response()
    } else {
        (StatusCode::PAYLOAD_TOO_LARGE, message).into_response()
    }
}

/// Why a body was refused.
#[derive(Debug, Clone, Copy)]
enum Refusal {
    /// Its pool had no room (`503`).
    Busy,
    /// It is larger than its route accepts (`413`).
    TooLarge(usize),
}

/// What one request's body is charged.
struct Ticket {
    budget: Arc<BodyBudget>,
    declared: Option<usize>,
    authenticated: AtomicBool,
    route_limit: AtomicUsize,
    /// Bytes charged per body byte read: what the route makes of a byte (parsed events cost
    /// several times their JSON), so that room for it is taken before the body is read.
    expansion: AtomicUsize,
    held: Mutex<Held>,
    /// The rest of a body its handler did not read to the end.
    unread: Mutex<Option<axum::body::BodyDataStream>>,
}

#[derive(Default)]
struct Held {
    permit: Option<OwnedSemaphorePermit>,
    charged: usize,
    refused: Option<Refusal>,
}

impl Ticket {
    fn pool(&self) -> &Arc<Semaphore> {
        if self.authenticated.load(Ordering::Acquire) {
            &self.budget.general
        } else {
            &self.budget.anonymous
        }
    }

    /// The size of the request's pool.
    fn pool_max(&self) -> usize {
        if self.authenticated.load(Ordering::Acquire) {
            self.budget.general_max
        } else {
            self.budget.anonymous_max
        }
    }

    /// Makes sure the request is charged at least `total` bytes, for what the body became
    /// after parsing; never more than the pool holds (so that one request alone always fits
    /// an otherwise empty server).
    fn charge_total(&self, total: usize) -> Result<(), Refusal> {
        let charged = self.held.lock().unwrap_or_else(|p| p.into_inner()).charged;
        self.charge(total.min(self.pool_max()).saturating_sub(charged))
    }

    /// `bytes` of body as charged: times the route's expansion.
    fn scaled(&self, bytes: usize) -> usize {
        bytes.saturating_mul(self.expansion.load(Ordering::Acquire).max(1))
    }

    /// Charges `bytes` more against the request's pool.
    fn charge(&self, bytes: usize) -> Result<(), Refusal> {
        let mut held = self.held.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(refusal) = held.refused {
            return Err(refusal);
        }
        if bytes == 0 {
            return Ok(());
        }
        let permits = u32::try_from(bytes).unwrap_or(u32::MAX);
        match self.pool().clone().try_acquire_many_owned(permits) {
            Ok(permit) => {
                match &mut held.permit {
                    Some(p) => p.merge(permit),
                    None => held.permit = Some(permit),
                }
                held.charged = held.charged.saturating_add(bytes);
                Ok(())
            }
            Err(_) => {
                held.refused = Some(Refusal::Busy);
                Err(Refusal::Busy)
            }
        }
    }

    /// On the first read of the body: a declared length is charged whole (capped by the
    /// route's limit), or refused at once when the route would not accept it.
    fn start(&self) -> Result<(), Refusal> {
        let Some(declared) = self.declared else {
            return Ok(());
        };
        let limit = self.route_limit.load(Ordering::Acquire);
        if declared > limit {
            let mut held = self.held.lock().unwrap_or_else(|p| p.into_inner());
            held.refused = Some(Refusal::TooLarge(limit));
            return Err(Refusal::TooLarge(limit));
        }
        self.charge(self.scaled(declared).min(self.pool_max()))
    }

    /// A chunk of a body without `Content-Length`, charged as it arrives (never beyond the
    /// route's limit: past it, the route refuses the body).
    fn arrived(&self, bytes: usize) -> Result<(), Refusal> {
        if self.declared.is_some() {
            return Ok(());
        }
        let limit = self.route_limit.load(Ordering::Acquire);
        let charged = self.held.lock().unwrap_or_else(|p| p.into_inner()).charged;
        self.charge(bytes.min(limit.saturating_sub(charged)))
    }

    /// Gives the bytes back; why the body was refused, if it was.
    fn release(&self) -> Option<Refusal> {
        let mut held = self.held.lock().unwrap_or_else(|p| p.into_inner());
        held.permit = None;
        held.refused
    }
}

/// The ticket of the request, for extractors and handlers.
#[derive(Clone)]
struct TicketHandle(Arc<Ticket>);

/// Marks the request as authenticated (a valid session or token): its body is charged to the
/// general pool instead of the anonymous one. Without [`serve`](crate::serve) (no ticket)
/// it does nothing.
pub fn mark_authenticated(extensions: &Extensions) {
    if let Some(TicketHandle(ticket)) = extensions.get::<TicketHandle>() {
        ticket.authenticated.store(true, Ordering::Release);
    }
}

/// Makes sure the request's body budget is charged at least `total` bytes, for what the body
/// costs after parsing (at most the whole budget, so a lone request always fits); `Err`
/// means the server has no room for it now: answer `503` (the server says so itself, with
/// `Retry-After`, whatever the handler answers).
/// Without a ticket (not served by [`serve`](crate::serve), or no body) it always succeeds.
pub fn charge_at_least(extensions: &Extensions, total: usize) -> Result<(), BudgetExceeded> {
    match extensions.get::<TicketHandle>() {
        Some(TicketHandle(ticket)) => ticket.charge_total(total).map_err(|_| BudgetExceeded),
        None => Ok(()),
    }
}

/// The server's budget of request bytes has no room for the request now.
#[derive(Debug, Clone, Copy, thiserror::Error)]
#[error("{}", Unavailable::Busy)]
pub struct BudgetExceeded;

/// Middleware of a route whose bodies are at most `limit` bytes (with
/// [`axum::extract::DefaultBodyLimit`] of the same size): a declared larger one is refused
/// with `413` before it is read. Each body byte is charged `expansion` bytes (what the route
/// makes of it after parsing), at most the whole budget, before it is read.
pub async fn route_limit(limit: usize, expansion: usize, req: Request, next: Next) -> Response {
    if let Some(TicketHandle(ticket)) = req.extensions().get::<TicketHandle>() {
        ticket.route_limit.store(limit, Ordering::Release);
        ticket.expansion.store(expansion.max(1), Ordering::Release);
    }
    next.run(req).await
}

/// The body, charged as it is read.
struct Metered {
    /// `None` once handed to the ticket on drop.
    inner: Option<axum::body::BodyDataStream>,
    ticket: Arc<Ticket>,
    started: bool,
    finished: bool,
}

impl Drop for Metered {
    fn drop(&mut self) {
        if !self.finished
            && let Some(inner) = self.inner.take()
        {
            // Not read to its end (refused, or not needed): the server discards the rest
            // after answering, so the client reads the answer instead of a reset.
            *self.ticket.unread.lock().unwrap_or_else(|p| p.into_inner()) = Some(inner);
        }
    }
}

impl Stream for Metered {
    type Item = Result<Bytes, axum::Error>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        if !self.started {
            self.started = true;
            if let Err(refusal) = self.ticket.start() {
                return Poll::Ready(Some(Err(refused(refusal))));
            }
        }
        let Some(inner) = self.inner.as_mut() else {
            return Poll::Ready(None);
        };
        match Pin::new(inner).poll_next(cx) {
            Poll::Ready(Some(Ok(chunk))) => match self.ticket.arrived(chunk.len()) {
                Ok(()) => Poll::Ready(Some(Ok(chunk))),
                Err(refusal) => Poll::Ready(Some(Err(refused(refusal)))),
            },
            Poll::Ready(None) => {
                self.finished = true;
                Poll::Ready(None)
            }
            other => other,
        }
    }
}

fn refused(refusal: Refusal) -> axum::Error {
    axum::Error::new(format!("request body refused: {refusal:?}"))
}
