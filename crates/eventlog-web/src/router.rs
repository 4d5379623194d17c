//! [`app`]: the admin's routes and the API's, nested, behind the security headers; [`Base`],
//! where they are mounted.

use axum::Router;
use axum::extract::OriginalUri;
use axum::http::request::Parts;
use axum::response::Redirect;
use axum::routing::{get, post};

use crate::security_headers::with_security_headers;
use crate::{AppState, admin, api, auth, health, http_metrics, server};

/// Where the admin is mounted: the part of the request path that axum's nesting stripped
/// (empty when served at the root).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Base(pub(crate) String);

impl Base {
    /// The prefix of the current request.
    pub fn from_parts(parts: &Parts) -> Base {
        let inner = parts.uri.path();
        let prefix = match parts.extensions.get::<OriginalUri>() {
            Some(OriginalUri(original)) => {
                let full = original.path();
                full.strip_suffix(inner)
                    .or_else(|| (inner == "/").then(|| full.trim_end_matches('/')))
                    .unwrap_or("")
            }
            None => "",
        };
        Base(prefix.trim_end_matches('/').to_owned())
    }

    /// The prefix without a trailing slash (`""` or `/admin/eventlog`).
    pub fn path(&self) -> &str {
        &self.0
    }

    /// The `Path` of cookies: the prefix, or `/`.
    pub fn cookie_path(&self) -> &str {
        if self.0.is_empty() { "/" } else { &self.0 }
    }
}

impl<S: Send + Sync> axum::extract::FromRequestParts<S> for Base {
    type Rejection = std::convert::Infallible;
    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        Ok(Base::from_parts(parts))
    }
}

/// The admin routes (login, events, groups, delete, export, live tail, healthz, livez,
/// assets).
pub fn app(state: AppState) -> Router {
    let proxy_auth = state.proxy_auth().is_some();
    let mut router = Router::new()
        .route(
            "/",
            get(|base: Base| async move { Redirect::to(&format!("{}/events", base.path())) }),
        )
        .route("/healthz", get(health::healthz))
        .route("/healthz/reads", get(health::healthz_reads))
        .route("/livez", get(health::livez))
        .route(
            "/login",
            get(admin::login::page)
                .post(admin::login::submit)
                // A login form is a few hundred bytes; a huge one is refused before parsing.
                .layer(axum::extract::DefaultBodyLimit::max(
                    admin::login::MAX_FORM_BYTES,
                ))
                .layer(axum::middleware::from_fn(|req, next| {
                    server::admission::route_limit(admin::login::MAX_FORM_BYTES, 1, req, next)
                })),
        )
        .route("/logout", post(admin::login::logout))
        .route("/events", get(admin::events::list))
        .route("/events/stream", get(admin::stream::stream))
        .route("/events/export", get(admin::export::export))
        .route(
            "/events/delete",
            get(admin::delete::confirm).post(admin::delete::submit),
        )
        .route("/events/{id}", get(admin::event::page))
        .route("/groups", get(admin::groups::list))
        .route(
            "/notifications",
            get(admin::notifications::page).post(admin::notifications::send_test),
        )
        .route("/static/types.css", get(admin::assets::types_css))
        .route("/static/{file}", get(admin::assets::asset))
        .with_state(state.clone())
        // Counted by route pattern: inside each router, where the matched route is known
        // (a layer around the nesting router would only see the nesting prefix).
        .layer(axum::middleware::from_fn(http_metrics::track))
        // The API has its own state and authentication (tokens, not sessions).
        .nest(
            api::BASE_PATH,
            api::router(state.api_state()).layer(axum::middleware::from_fn(http_metrics::track)),
        );
    // Around pages and API alike: a NUL or non-UTF-8 path or query is a 400 on any route.
    router = router.layer(axum::middleware::from_fn(
        crate::server::input::refuse_unreadable,
    ));
    if proxy_auth {
        // Around pages and API alike: a proxy header from an untrusted peer is refused
        // whatever route it is sent to.
        router = router.layer(axum::middleware::from_fn_with_state(
            state,
            auth::proxy::check,
        ));
    }
    with_security_headers(router)
}
