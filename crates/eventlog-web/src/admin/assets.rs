//! CSS and JS, embedded in the binary (no CDN).

use axum::extract::Path;
use axum::http::header;
use axum::response::{IntoResponse, Response};

use crate::error::AppError;

const CSS: &str = include_str!("../../static/admin.css");
const JS: &str = include_str!("../../static/admin.js");

/// `GET /static/{file}`.
pub async fn asset(Path(file): Path<String>) -> Result<Response, AppError> {
    let (body, ctype) = match file.as_str() {
        "admin.css" => (CSS, "text/css; charset=utf-8"),
        "admin.js" => (JS, "text/javascript; charset=utf-8"),
        _ => return Err(AppError::NotFound),
    };
    Ok((
        [
            (header::CONTENT_TYPE, ctype),
            (header::CACHE_CONTROL, "public, max-age=3600"),
        ],
        body,
    )
        .into_response())
}
