//! The HTTP layer: the router with its guard (Host, Origin, token, limits, envelope).

pub mod conn;
pub mod guard;
pub mod wire;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::http::{Method, Uri};
use axum::middleware;
use axum::response::{IntoResponse, Response};

use crate::api;
use crate::api::error::envelope_error;
use crate::app::AppState;

/// The complete application router.
pub fn router(state: AppState) -> Router {
    api::router()
        .fallback(fallback)
        .layer(DefaultBodyLimit::max(api::extract::MAX_BODY_BYTES))
        .layer(middleware::from_fn_with_state(state.clone(), guard::guard))
        .with_state(state)
}

/// Unknown routes: an envelope under `/api` and `/ws`, a page elsewhere. Unknown API
/// routes never fall through to the UI.
async fn fallback(method: Method, uri: Uri) -> Response {
    let path = uri.path();
    if guard::is_api_path(path) {
        envelope_error(
            axum::http::StatusCode::NOT_FOUND,
            &format!("No route for {method} {path}"),
        )
    } else {
        (
            axum::http::StatusCode::NOT_FOUND,
            axum::response::Html(
                "<!doctype html><title>Not found</title><p>Not found. <a href=\"/\">Home</a></p>",
            ),
        )
            .into_response()
    }
}
