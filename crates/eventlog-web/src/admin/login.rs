//! `GET /login`, `POST /login`, `POST /logout`.

use std::net::{IpAddr, SocketAddr};

use askama::Template;
use askama_web::WebTemplate;
use axum::extract::{ConnectInfo, Form, Query, State};
use axum::http::request::Parts;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;

use crate::auth::rate_limit::{MAX_PASSWORD_BYTES, MAX_USERNAME_CHARS, Refusal};
use crate::auth::session::{cookie, cookie_name, set_cookie};
use crate::auth::{self, CurrentUser, SESSION_COOKIE, password};
use crate::error::{AppError, Unavailable};
use crate::{AppState, Base};

/// Cookie holding the login form's CSRF token (double submit: there is no session yet).
const LOGIN_CSRF_COOKIE: &str = "eventlog_login_csrf";
/// Largest login form body in bytes; larger ones get 413 before they are parsed.
pub const MAX_FORM_BYTES: usize = 8 * 1024;

#[derive(Template, WebTemplate)]
#[template(path = "login.html")]
struct LoginPage {
    base: String,
    csrf: String,
    next: String,
    error: String,
    username: String,
}

/// Query of the login page.
#[derive(Debug, Deserialize)]
pub struct LoginQuery {
    #[serde(default)]
    next: String,
}

/// Where to go after login: a path on this site, never another one. Browsers ignore tabs and
/// newlines in URLs and treat `\\` like `/`, so `/\t/evil.example` or `/\\evil.example` would
/// leave the site; anything but a plain absolute path (also once percent-decoded) falls back
/// to the events page.
fn safe_next(base: &Base, next: &str) -> String {
    fn plain_path(p: &str) -> bool {
        p.starts_with('/')
            && !p.starts_with("//")
            && !p.chars().any(|c| c == '\\' || c.is_control())
    }
    let decoded = percent_encoding::percent_decode_str(next).decode_utf8_lossy();
    if plain_path(next) && !next.chars().any(char::is_whitespace) && plain_path(&decoded) {
        format!("{}{next}", base.path())
    } else {
        format!("{}/events", base.path())
    }
}

fn login_page(
    state: &AppState,
    base: &Base,
    status: StatusCode,
    next: String,
    error: String,
    username: String,
) -> Response {
    let csrf = auth::random_token();
    let page = LoginPage {
        base: base.path().to_owned(),
        csrf: csrf.clone(),
        next,
        error,
        username,
    };
    (
        status,
        [(
            header::SET_COOKIE,
            set_cookie(LOGIN_CSRF_COOKIE, &csrf, base, 3600, state.secure_cookies()),
        )],
        page,
    )
        .into_response()
}

/// The login form.
pub async fn page(
    State(state): State<AppState>,
    base: Base,
    Query(q): Query<LoginQuery>,
) -> Response {
    login_page(
        &state,
        &base,
        StatusCode::OK,
        q.next,
        String::new(),
        String::new(),
    )
}

/// The login form's fields.
#[derive(Debug, Deserialize)]
pub struct LoginForm {
    username: String,
    password: String,
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    next: String,
}

/// The peer's IP address. Forwarding headers are not read: behind a reverse proxy every
/// client has the proxy's address, and the per-address throttle is shared by all of them.
fn client_addr(parts: &Parts) -> IpAddr {
    parts
        .extensions
        .get::<ConnectInfo<SocketAddr>>()
        .map(|c| c.0.ip())
        .unwrap_or(IpAddr::V6(std::net::Ipv6Addr::UNSPECIFIED))
}

/// Checks the password and starts a session.
pub async fn submit(
    State(state): State<AppState>,
    parts: Parts,
    Form(form): Form<LoginForm>,
) -> Result<Response, AppError> {
    let base = Base::from_parts(&parts);
    let cookie_token = cookie(
        &parts,
        &cookie_name(LOGIN_CSRF_COOKIE, state.secure_cookies()),
    )
    .unwrap_or_default();
    if cookie_token.is_empty() || !auth::constant_time_eq(&cookie_token, &form.csrf) {
        return Err(AppError::Csrf);
    }
    // Refused before any lookup, hashing or rate-limit entry; the name is not echoed back.
    if form.username.chars().count() > MAX_USERNAME_CHARS
        || form.password.len() > MAX_PASSWORD_BYTES
    {
        return Ok(login_page(
            &state,
            &base,
            StatusCode::BAD_REQUEST,
            form.next,
            format!(
                "User names have at most {MAX_USERNAME_CHARS} characters and passwords at most \
                 {MAX_PASSWORD_BYTES} bytes."
            ),
            String::new(),
        ));
    }
    // Counted before the check, so concurrent attempts cannot exceed the throttle.
    let permit = match state
        .login_guard()
        .attempt(&form.username, client_addr(&parts))
    {
        Ok(permit) => permit,
        Err(Refusal::Throttled(wait)) => return Err(AppError::TooManyRequests(wait)),
        Err(Refusal::Busy) => return Err(AppError::Unavailable(Unavailable::LoginChecks)),
    };
    let found = state.store().user_by_name(&form.username).await?;
    let password = form.password.clone();
    // Argon2 takes tens of milliseconds of CPU and 19 MiB: keep it off the async workers, and
    // hold the permit until it is done so that only so many run at once.
    let user = tokio::task::spawn_blocking(move || {
        let _permit = permit;
        match found {
            Some((user, hash)) => password::verify_password(&password, &hash).then_some(user),
            None => {
                password::verify_password(&password, password::dummy_hash());
                None
            }
        }
    })
    .await
    .map_err(|e| AppError::Internal(e.to_string()))?;
    let Some(user) = user else {
        return Ok(login_page(
            &state,
            &base,
            StatusCode::UNAUTHORIZED,
            form.next,
            "Wrong user name or password.".to_owned(),
            form.username,
        ));
    };
    state.purge_sessions_now_and_then();
    let token = auth::random_token();
    let lifetime = state.session_lifetime();
    let expires = eventlog::event::now() + lifetime;
    state
        .store()
        .create_session(
            &auth::hash_token(&token),
            user.id,
            &auth::random_token(),
            expires,
        )
        .await?;
    let secure = state.secure_cookies();
    let mut resp = Redirect::to(&safe_next(&base, &form.next)).into_response();
    let headers = resp.headers_mut();
    for c in [
        set_cookie(
            SESSION_COOKIE,
            &token,
            &base,
            lifetime.num_seconds(),
            secure,
        ),
        set_cookie(LOGIN_CSRF_COOKIE, "", &base, 0, secure),
    ] {
        if let Ok(v) = header::HeaderValue::from_str(&c) {
            headers.append(header::SET_COOKIE, v);
        }
    }
    Ok(resp)
}

/// The logout form's fields.
#[derive(Debug, Deserialize)]
pub struct LogoutForm {
    #[serde(default)]
    csrf: String,
}

/// Ends the session.
pub async fn logout(
    State(state): State<AppState>,
    user: CurrentUser,
    Form(form): Form<LogoutForm>,
) -> Result<Response, AppError> {
    user.check_csrf(Some(&form.csrf))?;
    state
        .store()
        .delete_session(&user.token_hash, eventlog::event::now())
        .await?;
    let c = set_cookie(SESSION_COOKIE, "", &user.base, 0, state.secure_cookies());
    Ok((
        [(header::SET_COOKIE, c)],
        Redirect::to(&format!("{}/login", user.base.path())),
    )
        .into_response())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn next_stays_on_this_site() {
        let base = Base::default();
        assert_eq!(safe_next(&base, "/groups?q=1"), "/groups?q=1");
        assert_eq!(safe_next(&base, "//evil.example"), "/events");
        assert_eq!(safe_next(&base, "https://evil.example"), "/events");
        assert_eq!(safe_next(&base, "/\\evil.example"), "/events");
        assert_eq!(safe_next(&base, "/\t/evil.example"), "/events");
        assert_eq!(safe_next(&base, "/%2F%2Fevil.example"), "/events");
        assert_eq!(safe_next(&base, "/events?q=a%20b"), "/events?q=a%20b");
        let mounted = Base("/admin".into());
        assert_eq!(safe_next(&mounted, "/groups"), "/admin/groups");
        assert_eq!(safe_next(&mounted, "//evil.example"), "/admin/events");
    }
}
