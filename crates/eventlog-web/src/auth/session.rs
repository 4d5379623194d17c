//! The session cookie and the `CurrentUser` extractor that every page but login and healthz
//! takes.

use axum::extract::FromRequestParts;
use axum::http::header;
use axum::http::request::Parts;
use eventlog::store::{Role, Session, User};

use crate::error::AppError;
use crate::{AppState, Base};

/// Name of the session cookie.
pub const SESSION_COOKIE: &str = "eventlog_session";

/// The value of cookie `name` in the request, if any.
pub fn cookie(parts: &Parts, name: &str) -> Option<String> {
    parts
        .headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v.to_owned())
}

/// The name a cookie has on the wire: with `secure`, the `__Host-` prefix, which browsers
/// accept only from HTTPS, with `Path=/` and no `Domain` (so no sibling subdomain can plant it).
pub fn cookie_name(name: &str, secure: bool) -> String {
    if secure {
        format!("__Host-{name}")
    } else {
        name.to_owned()
    }
}

/// `Set-Cookie` value: HttpOnly, SameSite=Lax, scoped to where the admin is mounted (or, with
/// `secure`, `Secure`, `__Host-`-prefixed and `Path=/`, as that prefix requires).
pub fn set_cookie(name: &str, value: &str, base: &Base, max_age_secs: i64, secure: bool) -> String {
    let name = cookie_name(name, secure);
    let path = if secure { "/" } else { base.cookie_path() };
    format!(
        "{name}={value}; Path={path}; HttpOnly; SameSite=Lax; Max-Age={max_age_secs}{}",
        if secure { "; Secure" } else { "" }
    )
}

/// The logged-in user of a request, with the session's CSRF token and where the admin is
/// mounted. Without a valid session, GET requests are redirected to the login page.
#[derive(Debug, Clone)]
pub struct CurrentUser {
    /// The session.
    pub session: Session,
    /// SHA-256 of the session token (to end it on logout).
    pub token_hash: String,
    /// The path prefix the admin is mounted under.
    pub base: Base,
}

impl CurrentUser {
    /// A user vouched for by the host application or an authenticating proxy: no stored
    /// session; the CSRF token is
    /// derived from a per-process secret and the user's name, so forms still carry one.
    fn from_host(state: &AppState, user: super::host::HostUser, base: Base) -> CurrentUser {
        let now = eventlog::event::now();
        let csrf_token = super::hash_token(&format!("{}:{}", state.csrf_secret(), user.name));
        CurrentUser {
            session: Session {
                user: User {
                    id: 0,
                    name: user.name,
                    role: user.role,
                    created_at: now,
                },
                csrf_token,
                expires_at: now + chrono::Duration::hours(1),
            },
            token_hash: String::new(),
            base,
        }
    }

    /// The user.
    pub fn user(&self) -> &User {
        &self.session.user
    }

    /// Whether the user may delete.
    pub fn is_admin(&self) -> bool {
        self.session.user.role == Role::Admin
    }

    /// Fails unless the user is an admin.
    pub fn require_admin(&self) -> Result<(), AppError> {
        if self.is_admin() {
            Ok(())
        } else {
            Err(AppError::Forbidden)
        }
    }

    /// Fails unless `token` is this session's CSRF token.
    pub fn check_csrf(&self, token: Option<&str>) -> Result<(), AppError> {
        match token {
            Some(t) if super::constant_time_eq(t, &self.session.csrf_token) => Ok(()),
            _ => Err(AppError::Csrf),
        }
    }
}

/// The session stored under `token_hash`, if it still lets its user in (not ended, expired
/// or idle too long): the one lookup behind every admin request, and behind the live tail's
/// periodic re-check (so an open live tail counts as activity for the idle timeout).
pub async fn lookup(
    state: &AppState,
    token_hash: &str,
) -> Result<Option<Session>, eventlog::StoreError> {
    state
        .store()
        .session(token_hash, eventlog::event::now(), state.session_idle())
        .await
}

impl FromRequestParts<AppState> for CurrentUser {
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, AppError> {
        let user = current_user(parts, state).await?;
        // Its body (a form) may now draw on the budget of authenticated requests.
        crate::server::admission::mark_authenticated(&parts.extensions);
        Ok(user)
    }
}

async fn current_user(parts: &Parts, state: &AppState) -> Result<CurrentUser, AppError> {
    let base = Base::from_parts(parts);
    let login = || {
        let path_q = parts
            .uri
            .path_and_query()
            .map(|p| p.as_str())
            .unwrap_or("/");
        let next = serde_urlencoded::to_string([("next", path_q)]).unwrap_or_default();
        AppError::LoginRequired(format!("{}/login?{next}", base.path()))
    };
    // Named by a trusted authenticating proxy (checked by the proxy middleware).
    if let Some(user) = super::proxy::user_of(parts) {
        return Ok(CurrentUser::from_host(state, user, base));
    }
    if let Some(host) = state.host_auth() {
        return match host.user(parts).await {
            Some(user) => Ok(CurrentUser::from_host(state, user, base)),
            None => Err(match host.login_url() {
                Some(url) => AppError::LoginRequired(url),
                None => AppError::Forbidden,
            }),
        };
    }
    let name = cookie_name(SESSION_COOKIE, state.secure_cookies());
    let Some(token) = cookie(parts, &name) else {
        return Err(login());
    };
    state.purge_sessions_now_and_then();
    let token_hash = super::hash_token(&token);
    match lookup(state, &token_hash).await? {
        Some(session) => Ok(CurrentUser {
            session,
            token_hash,
            base,
        }),
        None => Err(login()),
    }
}
