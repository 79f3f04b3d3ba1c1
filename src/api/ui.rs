//! The browser entry points: `/` and `/login`.
//!
//! `/login?token=…` exchanges the daemon token for an HttpOnly, SameSite=Strict cookie
//! and redirects to `/`; `/` without that cookie explains how to get the link.

use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;

use super::assets;
use super::extract::ApiQuery;
use crate::app::AppState;
use crate::auth::{COOKIE_NAME, authorized};

pub async fn index(State(state): State<AppState>, headers: HeaderMap) -> Response {
    if authorized(state.token(), &headers) {
        assets::serve("index.html", &headers)
    } else {
        assets::serve("login.html", &HeaderMap::new())
    }
}

#[derive(Debug, Deserialize)]
pub struct LoginQuery {
    #[serde(default)]
    token: String,
}

pub async fn login(State(state): State<AppState>, ApiQuery(q): ApiQuery<LoginQuery>) -> Response {
    if !state.token().matches(&q.token) {
        tracing::warn!("login with a wrong token refused");
        let mut page = assets::serve("wrong-token.html", &HeaderMap::new());
        *page.status_mut() = StatusCode::UNAUTHORIZED;
        return page;
    }
    let cookie = format!(
        "{COOKIE_NAME}={}; HttpOnly; SameSite=Strict; Path=/",
        q.token
    );
    let mut resp = Redirect::to("/").into_response();
    match HeaderValue::from_str(&cookie) {
        Ok(v) => {
            resp.headers_mut().insert(header::SET_COOKIE, v);
            resp
        }
        Err(_) => StatusCode::BAD_REQUEST.into_response(),
    }
}
