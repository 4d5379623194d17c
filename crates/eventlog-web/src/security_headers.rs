//! The headers every admin and API response carries.

use axum::Router;
use axum::http::{HeaderValue, header};
use tower_http::set_header::SetResponseHeaderLayer;

/// The Content-Security-Policy of every response: scripts, styles and images only from the
/// admin itself (no inline script, no `style` attributes), never framed (clickjacking), no
/// `<base>` and forms posting only back to the admin.
pub const CONTENT_SECURITY_POLICY: &str =
    "default-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'";

/// The headers every admin and API response carries. Pages, exports and API reads hold
/// logged-in data, so nothing is cached unless the handler says otherwise (the static assets
/// do).
pub(crate) fn with_security_headers(router: Router) -> Router {
    /// Set on every response, replacing what a handler set.
    const ALWAYS: [(header::HeaderName, &str); 4] = [
        (header::CONTENT_SECURITY_POLICY, CONTENT_SECURITY_POLICY),
        (header::X_FRAME_OPTIONS, "DENY"),
        (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
        (header::REFERRER_POLICY, "same-origin"),
    ];
    let router = ALWAYS.into_iter().fold(router, |router, (name, value)| {
        router.layer(SetResponseHeaderLayer::overriding(
            name,
            HeaderValue::from_static(value),
        ))
    });
    router.layer(SetResponseHeaderLayer::if_not_present(
        header::CACHE_CONTROL,
        HeaderValue::from_static("no-store"),
    ))
}
