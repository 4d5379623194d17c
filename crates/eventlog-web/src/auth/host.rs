//! Authentication by the host application: when the admin is mounted inside an application
//! that already knows who is logged in, that application decides, not eventlog's own users.

use async_trait::async_trait;
use axum::http::request::Parts;
use eventlog::store::Role;

/// Who the host application says a request comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HostUser {
    /// Shown in the header of every page.
    pub name: String,
    /// `Admin` may delete events; `Viewer` may only read.
    pub role: Role,
}

/// Plugs the host application's authentication in place of eventlog's users and sessions
/// (see [`crate::AppStateBuilder::host_auth`]).
///
/// ```
/// use async_trait::async_trait;
/// use axum::http::request::Parts;
/// use eventlog::store::Role;
/// use eventlog_web::auth::host::{HostAuth, HostUser};
///
/// /// Trusts the user name a front proxy put in `X-Forwarded-User`.
/// struct ProxyAuth;
///
/// #[async_trait]
/// impl HostAuth for ProxyAuth {
///     async fn user(&self, parts: &Parts) -> Option<HostUser> {
///         let name = parts.headers.get("x-forwarded-user")?.to_str().ok()?;
///         Some(HostUser { name: name.to_owned(), role: Role::Admin })
///     }
///     fn login_url(&self) -> Option<String> {
///         Some("/login".into())
///     }
/// }
/// ```
#[async_trait]
pub trait HostAuth: Send + Sync + 'static {
    /// The user of this request, or `None` when nobody is logged in.
    async fn user(&self, parts: &Parts) -> Option<HostUser>;

    /// Where anonymous requests are redirected (the host's login page). `None`: they get
    /// 403 instead.
    fn login_url(&self) -> Option<String> {
        None
    }
}
