//! The HTTP API, `/api/v1`: ingest events, read events and groups, the OpenAPI document.
//!
//! Every route except `openapi.json` needs `Authorization: Bearer evl_…` (see
//! `eventlog token add`) of a scope that allows it: `POST` needs `ingest` or `all`, every
//! `GET` `read` or `all` (else `403`); admin sessions do not authorize it. Errors are JSON,
//! `{"error": "…"}`, with `"index"` for the item of a batch that broke a rule. Database text
//! never reaches a client: it is logged and answered with a generic 500.
//!
//! [`router`] builds the routes relative to the mount point; the server nests it under
//! `/api/v1` (the OpenAPI document names that as its server URL).

use std::sync::Arc;

use axum::Json;
use axum::Router;
use axum::extract::{DefaultBodyLimit, FromRequestParts, State};
use axum::http::request::Parts;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use eventlog::EventTypes;
use eventlog::store::{Backend, ListingQuery, TokenScope, VerifiedToken};
use serde::Serialize;
use utoipa::OpenApi;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

pub mod commit;
mod events;
mod groups;
mod model;

pub use model::{ApiEvent, EventInput, GroupResponse, IngestResponse, ListResponse, ScanReport};

/// Where the server mounts [`router`].
pub const BASE_PATH: &str = "/api/v1";

/// What the API handlers share.
#[derive(Clone)]
pub struct ApiState {
    /// The store: events are inserted directly (not through the background writer) so that
    /// a 201 means committed.
    pub store: Arc<dyn Backend>,
    /// Where list and get requests read: `store`, or a read replica.
    pub reads: Arc<dyn ListingQuery>,
    /// The configured event types; ingest rejects others.
    pub types: Arc<EventTypes>,
    /// Largest request body in bytes (`[api] body_limit`).
    pub body_limit: usize,
    /// The largest message and data of an event (`[limits]`).
    pub limits: eventlog::config::LimitsConfig,
    /// How far one page of a filter no index narrows looks (`[database] scan_budget`).
    pub scan_budget: eventlog::store::ScanBudget,
    /// The group-commit tasks, started on first use (see [`commit`]).
    group_commit: Arc<std::sync::OnceLock<commit::GroupCommit>>,
    /// Told about newly stored events after their commit (e-mail notification).
    observer: Option<Arc<dyn eventlog::CommitObserver>>,
}

impl ApiState {
    /// State with the default body limit (8 MiB).
    pub fn new(store: Arc<dyn Backend>, types: EventTypes) -> Self {
        ApiState {
            reads: store.clone(),
            store,
            types: Arc::new(types),
            body_limit: crate::config::ApiConfig::default().body_limit,
            limits: eventlog::config::LimitsConfig::default(),
            scan_budget: eventlog::store::ScanBudget::default(),
            group_commit: Arc::default(),
            observer: None,
        }
    }

    /// Serves list and get requests from `reads` (a read replica) instead of the primary.
    pub fn with_reads(mut self, reads: Arc<dyn ListingQuery>) -> Self {
        self.reads = reads;
        self
    }

    /// Tells `observer` about every event this API stores, after the commit (the server
    /// passes its mailer here, so `send_mail` works over HTTP).
    pub fn with_observer(mut self, observer: Arc<dyn eventlog::CommitObserver>) -> Self {
        self.observer = Some(observer);
        self
    }

    /// Stores a validated request's events and returns their ids after the commit: through
    /// group commit (several requests share a transaction) on both backends.
    pub async fn insert(
        &self,
        events: Vec<eventlog::NewEvent>,
    ) -> Result<Vec<eventlog::store::Inserted>, ApiError> {
        let Some(observer) = &self.observer else {
            return self.insert_only(events).await;
        };
        let inserted = self.insert_only(events.clone()).await?;
        let created = events
            .iter()
            .zip(&inserted)
            .filter(|(_, r)| r.created)
            .map(|(e, r)| (e, r.id));
        eventlog::event::notify_committed(observer.as_ref(), created);
        Ok(inserted)
    }

    async fn insert_only(
        &self,
        events: Vec<eventlog::NewEvent>,
    ) -> Result<Vec<eventlog::store::Inserted>, ApiError> {
        let gc = self
            .group_commit
            .get_or_init(|| commit::GroupCommit::start(self.store.clone()));
        Ok(gc.insert(events).await?)
    }

    /// The same with `[api]` settings applied.
    pub fn with_config(mut self, config: &crate::config::ApiConfig) -> Self {
        self.body_limit = config.body_limit;
        self
    }
}

#[derive(OpenApi)]
#[openapi(
    info(
        title = "eventlog API",
        description = "Record and read eventlog events. Authenticate with `Authorization: Bearer <token>` (create one with `eventlog token add NAME`)."
    ),
    servers((url = "/api/v1")),
    modifiers(&BearerAuth),
    security(("bearer" = [])),
    tags((name = "events"), (name = "groups"), (name = "meta"))
)]
struct ApiDoc;

struct BearerAuth;

impl utoipa::Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .bearer_format("evl_…")
                    .build(),
            ),
        );
    }
}

/// The routes and their OpenAPI document, built together so they cannot disagree.
pub fn routes_and_doc() -> (Router<ApiState>, utoipa::openapi::OpenApi) {
    OpenApiRouter::with_openapi(ApiDoc::openapi())
        .routes(routes!(events::ingest, events::list))
        .routes(routes!(events::get_one))
        .routes(routes!(groups::get_group))
        .routes(routes!(openapi_json))
        .split_for_parts()
}

/// The OpenAPI document of this API.
pub fn openapi() -> utoipa::openapi::OpenApi {
    routes_and_doc().1
}

/// The API's routes, relative to [`BASE_PATH`].
pub fn router(state: ApiState) -> Router {
    let (routes, _) = routes_and_doc();
    let limit = state.body_limit;
    routes
        .fallback(|| async { ApiError::new(StatusCode::NOT_FOUND, "no such API route") })
        .layer(DefaultBodyLimit::max(limit))
        .layer(axum::middleware::from_fn(move |req, next| {
            crate::server::admission::route_limit(limit, events::EXPANSION, req, next)
        }))
        .with_state(state)
}

/// The OpenAPI 3 document describing this API.
#[utoipa::path(
    get,
    path = "/openapi.json",
    tag = "meta",
    security(()),
    responses((status = 200, description = "The OpenAPI document", content_type = "application/json"))
)]
async fn openapi_json(State(state): State<ApiState>) -> Response {
    Json(openapi_for(&state.types)).into_response()
}

/// The document as this server answers it: an event's `type`, in a body or in the `type`
/// filter, is one of the types it is configured with.
pub fn openapi_for(types: &eventlog::EventTypes) -> serde_json::Value {
    let names: Vec<&str> = types.names().collect();
    let mut doc = serde_json::to_value(openapi()).unwrap_or_default();
    if let Some(ty) = doc.pointer_mut("/components/schemas/EventInput/properties/type") {
        ty["enum"] = names.clone().into();
    }
    // Names separated by commas, each with spaces around it or empty.
    let name = format!("( *({})? *)", names.join("|"));
    let list = format!("^{name}(,{name})*$");
    let filters = doc
        .pointer_mut("/paths/~1events/get/parameters")
        .and_then(serde_json::Value::as_array_mut);
    for param in filters.into_iter().flatten() {
        if param["name"] == "type" {
            param["schema"]["pattern"] = list.clone().into();
        }
    }
    doc
}

/// An API error: a status and a message for the client, as `{"error": …, "index": …}`.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ApiError {
    #[serde(skip)]
    status: StatusCode,
    /// What went wrong, naming the value and the rule.
    error: String,
    /// The position in the batch of the item that broke a rule.
    #[serde(skip_serializing_if = "Option::is_none")]
    index: Option<usize>,
    /// Seconds for `Retry-After`, when trying again may help.
    #[serde(skip)]
    retry_after: Option<u32>,
}

impl ApiError {
    fn new(status: StatusCode, message: impl Into<String>) -> Self {
        ApiError {
            status,
            error: message.into(),
            index: None,
            retry_after: None,
        }
    }

    /// A 400; a message quoting a huge value is cut, so a client is not sent back what it
    /// sent (values are quoted at most 100 characters; this bounds whatever else quotes one).
    fn bad_request(message: impl Into<String>) -> Self {
        let mut message = message.into();
        if let Some((at, _)) = message.char_indices().nth(1000) {
            message.truncate(at);
            message.push('…');
        }
        ApiError::new(StatusCode::BAD_REQUEST, message)
    }

    fn at(mut self, index: usize) -> Self {
        self.index = Some(index);
        self
    }
}

impl From<eventlog::StoreError> for ApiError {
    fn from(e: eventlog::StoreError) -> Self {
        let failure = crate::error::StoreFailure::of(&e);
        let mut error = ApiError::new(failure.status, failure.message);
        error.retry_after = failure.retry_after;
        error
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let (status, retry_after) = (self.status, self.retry_after);
        let mut response = (status, Json(self)).into_response();
        if status == StatusCode::UNAUTHORIZED {
            response.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static("Bearer realm=\"eventlog\""),
            );
        }
        if let Some(secs) = retry_after {
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(secs));
        }
        response
    }
}

/// The valid token a request carries, whatever its scope; `401` without one.
async fn authorize(parts: &Parts, state: &ApiState) -> Result<VerifiedToken, ApiError> {
    let unauthorized = |m: &str| ApiError::new(StatusCode::UNAUTHORIZED, m);
    let value = parts
        .headers
        .get(header::AUTHORIZATION)
        .ok_or_else(|| unauthorized("missing Authorization: Bearer <token> header"))?;
    let token = value
        .to_str()
        .ok()
        .and_then(|v| {
            v.strip_prefix("Bearer ")
                .or_else(|| v.strip_prefix("bearer "))
        })
        .map(str::trim)
        .ok_or_else(|| unauthorized("the Authorization header must be Bearer <token>"))?;
    match state.store.verify_token(token).await? {
        Some(token) => {
            crate::server::admission::mark_authenticated(&parts.extensions);
            Ok(token)
        }
        None => Err(unauthorized("invalid or revoked API token")),
    }
}

/// The request's token if its scope `allows` the request; `403` naming the scope otherwise.
async fn authorize_for(
    parts: &Parts,
    state: &ApiState,
    allows: fn(TokenScope) -> bool,
    wanted: &str,
    scopes: &str,
) -> Result<VerifiedToken, ApiError> {
    let token = authorize(parts, state).await?;
    if allows(token.scope) {
        return Ok(token);
    }
    Err(ApiError::new(
        StatusCode::FORBIDDEN,
        format!(
            "the token {:?} has scope {}; {wanted} needs a token of scope {scopes} \
             (eventlog token add NAME --scope …)",
            token.name, token.scope
        ),
    ))
}

/// Declares an extractor of requests whose token's scope `$allows` what the route does:
/// others are refused with `403`, naming what they wanted (`$wanted`) and the scopes that
/// allow it (`$scopes`).
macro_rules! scoped_extractor {
    ($(#[$doc:meta])* $name:ident, $allows:path, $wanted:literal, $scopes:literal) => {
        $(#[$doc])*
        pub struct $name(pub VerifiedToken);

        impl FromRequestParts<ApiState> for $name {
            type Rejection = ApiError;

            async fn from_request_parts(
                parts: &mut Parts,
                state: &ApiState,
            ) -> Result<Self, Self::Rejection> {
                authorize_for(parts, state, $allows, $wanted, $scopes)
                    .await
                    .map($name)
            }
        }
    };
}

scoped_extractor!(
    /// A request authorized to record events: its token has scope `ingest` or `all`.
    CanIngest,
    TokenScope::can_ingest,
    "recording events",
    "ingest or all"
);

scoped_extractor!(
    /// A request authorized to read events and groups: its token has scope `read` or `all`.
    CanRead,
    TokenScope::can_read,
    "reading",
    "read or all"
);
