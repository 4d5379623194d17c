//! CSS and JS, embedded in the binary (no CDN), and the stylesheet of the configured type
//! colours.

use axum::extract::{Path, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use eventlog::EventTypes;

use crate::AppState;
use crate::error::AppError;

const CSS: &str = include_str!("../../static/admin.css");
const JS: &str = include_str!("../../static/admin.js");
/// Assets change only with the binary (or, for `types.css`, the configuration): browsers may
/// keep them a while.
const ASSET_CACHE: &str = "public, max-age=3600";

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
            (header::CACHE_CONTROL, ASSET_CACHE),
        ],
        body,
    )
        .into_response())
}

/// `GET /static/types.css`: the colours of the configured types, built once per
/// [`AppState`]. They come as classes because the Content-Security-Policy forbids `style`
/// attributes.
pub async fn types_css(State(state): State<AppState>) -> Response {
    (
        [
            (header::CONTENT_TYPE, "text/css; charset=utf-8"),
            (header::CACHE_CONTROL, ASSET_CACHE),
        ],
        state.types_css().to_owned(),
    )
        .into_response()
}

/// A colour as a CSS value, or `None` when it could end the declaration or the rule.
/// Configured colours are validated when the configuration is loaded; this check is repeated
/// here because the stylesheet must stay well-formed whatever the colour: only letters,
/// digits, `#(),.%/+-` and spaces (as the configuration check allows, for
/// `rgb(255 0 0 / 50%)` and negative hues), parentheses balanced (an unclosed `(` would swallow the rules
/// after it).
fn css_colour(value: &str) -> Option<&str> {
    let mut depth = 0usize;
    for c in value.chars() {
        match c {
            '(' => depth += 1,
            ')' => depth = depth.checked_sub(1)?,
            // No `*`, so `/` cannot start a comment.
            c if c.is_ascii_alphanumeric() || "#,.%/+- ".contains(c) => {}
            _ => return None,
        }
    }
    (depth == 0 && !value.trim().is_empty()).then_some(value)
}

/// The stylesheet of `types`: `.label.type-{name}` with the text and background colours of
/// each configured type that has any (a text colour alone is drawn on
/// [`LABEL_BACKGROUND`](super::colors::LABEL_BACKGROUND), so its contrast is the same in both
/// themes), and `.legend .swatch-{name}` with its chart colour from `chart_colors`.
/// Type names match `^[A-Za-z_][A-Za-z0-9_]{0,49}$`, so they are class names as they are.
pub fn build_types_css(
    types: &EventTypes,
    chart_colors: &std::collections::HashMap<String, String>,
) -> String {
    let mut css = String::from("/* Colours of the configured event types. */\n");
    css.push_str(&format!(
        ".legend i {{ background: {}; }}\n",
        super::colors::FALLBACK_FILL
    ));
    for t in types.iter() {
        if eventlog::event_type::validate_type_name(&t.name).is_err() {
            continue;
        }
        let mut decls = String::new();
        if let Some(c) = t.color.as_deref().and_then(css_colour) {
            decls.push_str(&format!(" color: {c};"));
        }
        match t.bgcolor.as_deref().and_then(css_colour) {
            Some(b) => decls.push_str(&format!(" background: {b};")),
            None if !decls.is_empty() => decls.push_str(&format!(
                " background: {}; border-color: transparent;",
                super::colors::LABEL_BACKGROUND
            )),
            None => {}
        }
        if !decls.is_empty() {
            css.push_str(&format!(".label.type-{} {{{decls} }}\n", t.name));
        }
        if let Some(fill) = chart_colors.get(&t.name).and_then(|c| css_colour(c)) {
            css.push_str(&format!(
                ".legend i.swatch-{} {{ background: {fill}; }}\n",
                t.name
            ));
        }
    }
    css
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn colours_that_could_break_out_are_dropped() {
        for bad in [
            "red;}</style>",
            "red; } body { display: none",
            "rgb(0, 0, 0",
            "red)",
            "url(\"x\")",
            "red\\;",
            "red\n}",
            " ",
        ] {
            assert_eq!(css_colour(bad), None, "{bad:?}");
        }
        for good in ["red", "#fff", "rgb(0, 128, 0)", "hsl(120, 50%, 40%)"] {
            assert_eq!(css_colour(good), Some(good));
        }
    }
}
