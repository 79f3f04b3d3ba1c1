//! The browser entry points: `/` and `/login`.
//!
//! `/login?token=…` exchanges the daemon token for an HttpOnly, SameSite=Strict cookie
//! and redirects to `/`; `/` without that cookie explains how to get the link.

use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{Html, IntoResponse, Redirect, Response};
use serde::Deserialize;

use super::extract::ApiQuery;
use crate::app::AppState;
use crate::http::guard::{COOKIE_NAME, authorized};

const LOGIN_PAGE: &str = r#"<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>clown — sign in</title></head>
<body><main>
<h1>clown</h1>
<p>This daemon needs its access token before it shows anything.</p>
<p>Run <code>clown ui</code> in a terminal: it prints a link that signs this browser in
(<code>clown ui --open</code> opens it for you).</p>
</main></body></html>"#;

const HOME_PAGE: &str = r#"<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>clown</title></head>
<body><main>
<h1>clown</h1>
<p>The daemon is running and this browser is signed in.</p>
<ul>
<li><a href="/api/daemon/status">Daemon status</a></li>
<li><a href="/api/openapi.json">API description (OpenAPI)</a></li>
</ul>
</main></body></html>"#;

const WRONG_TOKEN_PAGE: &str = r#"<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>clown — wrong token</title></head>
<body><main><h1>Wrong token</h1>
<p>That link does not carry this daemon's token. Run <code>clown ui</code> again and use the link it prints.</p>
</main></body></html>"#;

pub async fn index(State(state): State<AppState>, headers: HeaderMap) -> Response {
    if authorized(&state, &headers) {
        Html(HOME_PAGE).into_response()
    } else {
        Html(LOGIN_PAGE).into_response()
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
        return (StatusCode::UNAUTHORIZED, Html(WRONG_TOKEN_PAGE)).into_response();
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
        Err(_) => (StatusCode::BAD_REQUEST, Html(WRONG_TOKEN_PAGE)).into_response(),
    }
}
