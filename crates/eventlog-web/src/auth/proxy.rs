//! Users named by an authenticating reverse proxy (`[server.proxy_auth]`): the header is
//! believed only from the configured proxy addresses, and refused from anywhere else.

use std::net::SocketAddr;

use crate::config::ProxyAuthConfig;
use axum::extract::{ConnectInfo, Request, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderName};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use super::host::HostUser;
use super::rate_limit::MAX_USERNAME_CHARS;
use crate::AppState;
use crate::error::AppError;

/// Longest groups header accepted, in bytes.
const MAX_GROUPS_BYTES: usize = 8 * 1024;

/// `[server.proxy_auth]` with its header names parsed once.
#[derive(Debug, Clone)]
pub(crate) struct ProxyAuth {
    config: ProxyAuthConfig,
    user_header: HeaderName,
    groups_header: Option<HeaderName>,
}

/// The user a trusted proxy named for this request, put in the request's extensions by
/// [`check`] for the `CurrentUser` extractor.
#[derive(Debug, Clone)]
pub(crate) struct ProxyUser(pub(crate) HostUser);

impl ProxyAuth {
    /// The checker for `config`; `None` when a header name does not parse (the configuration
    /// loader refuses those already).
    pub(crate) fn new(config: ProxyAuthConfig) -> Option<ProxyAuth> {
        let user_header = HeaderName::try_from(config.user_header.as_str()).ok()?;
        let groups_header = match &config.groups_header {
            Some(name) => Some(HeaderName::try_from(name.as_str()).ok()?),
            None => None,
        };
        Some(ProxyAuth {
            config,
            user_header,
            groups_header,
        })
    }

    /// The user of a request: `Ok(None)` when it carries no user header (eventlog's own
    /// login then applies), `403` when it carries a proxy header but does not come from a
    /// trusted proxy, `400` when the header's value cannot be a user name.
    fn user(
        &self,
        headers: &HeaderMap,
        peer: Option<SocketAddr>,
    ) -> Result<Option<HostUser>, AppError> {
        let carries = |name: &HeaderName| headers.contains_key(name);
        let present =
            carries(&self.user_header) || self.groups_header.as_ref().is_some_and(carries);
        if !present {
            return Ok(None);
        }
        if !peer.is_some_and(|p| self.config.is_trusted(p.ip())) {
            let header = if carries(&self.user_header) {
                &self.user_header
            } else {
                self.groups_header.as_ref().unwrap_or(&self.user_header)
            };
            return Err(AppError::UntrustedProxyHeader(header.as_str().to_owned()));
        }
        let Some(name) = single_value(headers, &self.user_header)? else {
            // Groups without a user name: nobody is named.
            return Ok(None);
        };
        let name = name.trim();
        let chars = name.chars().count();
        if chars == 0 || chars > MAX_USERNAME_CHARS {
            return Err(AppError::BadRequest(format!(
                "the {} header must name a user in 1 to {MAX_USERNAME_CHARS} characters",
                self.user_header
            )));
        }
        let groups = match &self.groups_header {
            Some(header) => match single_value(headers, header)? {
                Some(value) if value.len() > MAX_GROUPS_BYTES => {
                    return Err(AppError::BadRequest(format!(
                        "the {header} header is longer than {MAX_GROUPS_BYTES} bytes"
                    )));
                }
                Some(value) => value.to_owned(),
                None => String::new(),
            },
            None => String::new(),
        };
        let groups = groups.split(',').map(str::trim).filter(|g| !g.is_empty());
        Ok(Some(HostUser {
            name: name.to_owned(),
            role: self.config.role_of(name, groups),
        }))
    }
}

/// The one value of `header`, as UTF-8 without control characters; `400` when it is sent
/// twice or is not text (proxies send names as UTF-8; control characters and NUL are
/// never part of one).
fn single_value<'a>(
    headers: &'a HeaderMap,
    header: &HeaderName,
) -> Result<Option<&'a str>, AppError> {
    let mut values = headers.get_all(header).iter();
    let Some(value) = values.next() else {
        return Ok(None);
    };
    if values.next().is_some() {
        return Err(AppError::BadRequest(format!(
            "the {header} header is sent more than once"
        )));
    }
    match std::str::from_utf8(value.as_bytes()) {
        Ok(text) if !text.chars().any(char::is_control) => Ok(Some(text)),
        _ => Err(AppError::BadRequest(format!(
            "the {header} header must be UTF-8 text without control characters"
        ))),
    }
}

/// Middleware of every route (pages and API) when proxy authentication is on: refuses proxy
/// headers from untrusted peers and hostile values before any handler runs, and hands a
/// trusted proxy's user to the `CurrentUser` extractor.
pub(crate) async fn check(
    State(state): State<AppState>,
    mut request: Request,
    next: Next,
) -> Response {
    let Some(proxy) = state.proxy_auth() else {
        return next.run(request).await;
    };
    let peer = request
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map(|ConnectInfo(addr)| *addr);
    match proxy.user(request.headers(), peer) {
        Ok(Some(user)) => {
            request.extensions_mut().insert(ProxyUser(user));
            next.run(request).await
        }
        Ok(None) => next.run(request).await,
        Err(e) => {
            if let AppError::UntrustedProxyHeader(header) = &e {
                tracing::warn!(%header, peer = ?peer, "proxy header from an untrusted address refused");
            }
            e.into_response()
        }
    }
}

/// The proxy's user of a request that went through [`check`].
pub(crate) fn user_of(parts: &Parts) -> Option<HostUser> {
    parts
        .extensions
        .get::<ProxyUser>()
        .map(|ProxyUser(u)| u.clone())
}
