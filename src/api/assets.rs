//! The embedded web UI: `/assets/*` with correct types and cache headers, and the pages
//! `/` serves.
//!
//! Vendored libraries live under versioned paths and are cached for a year
//! (`immutable`); the app's own files revalidate with an ETag on every load.

use axum::extract::Path;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

include!(concat!(env!("OUT_DIR"), "/web_assets.rs"));

/// CSP of the app page: scripts only from here (no inline script); inline styles are
/// allowed because xterm.js sizes its rows with a generated stylesheet.
pub const APP_CSP: &str = "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'";

pub fn find(path: &str) -> Option<(&'static [u8], &'static str)> {
    ASSETS
        .iter()
        .find(|(p, _, _)| *p == path)
        .map(|(_, b, h)| (*b, *h))
}

fn content_type(path: &str) -> &'static str {
    match path.rsplit('.').next().unwrap_or_default() {
        "html" => "text/html; charset=utf-8",
        "js" | "mjs" => "text/javascript; charset=utf-8",
        "css" => "text/css; charset=utf-8",
        "svg" => "image/svg+xml",
        "png" => "image/png",
        "ico" => "image/x-icon",
        "json" => "application/json",
        "woff2" => "font/woff2",
        _ => "text/plain; charset=utf-8",
    }
}

/// An embedded file as a response, honouring `If-None-Match`.
pub fn serve(path: &str, headers: &HeaderMap) -> Response {
    let Some((bytes, hash)) = find(path) else {
        return (StatusCode::NOT_FOUND, "Not found").into_response();
    };
    let etag = format!("\"{hash}\"");
    let cache = if path.starts_with("vendor/") {
        "public, max-age=31536000, immutable"
    } else {
        "no-cache"
    };
    let fresh = headers
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.split(',').any(|t| t.trim() == etag));
    let mut resp = if fresh {
        StatusCode::NOT_MODIFIED.into_response()
    } else {
        (
            [(
                header::CONTENT_TYPE,
                HeaderValue::from_static(content_type(path)),
            )],
            bytes,
        )
            .into_response()
    };
    let h = resp.headers_mut();
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static(cache));
    if let Ok(v) = HeaderValue::from_str(&etag) {
        h.insert(header::ETAG, v);
    }
    if path.ends_with(".html") {
        h.insert(
            header::CONTENT_SECURITY_POLICY,
            HeaderValue::from_static(APP_CSP),
        );
    }
    resp
}

pub async fn asset(Path(path): Path<String>, headers: HeaderMap) -> Response {
    if path.split('/').any(|seg| seg == ".." || seg.is_empty()) {
        return (StatusCode::NOT_FOUND, "Not found").into_response();
    }
    serve(&path, &headers)
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_ui_is_embedded() {
        for p in [
            "index.html",
            "login.html",
            "app.css",
            "js/app.js",
            "vendor/xterm-6.0.0/xterm.mjs",
        ] {
            assert!(super::find(p).is_some(), "{p}");
        }
    }
}
