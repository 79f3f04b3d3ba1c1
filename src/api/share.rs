//! Read-only share links of a terminal session (`auth::share`): make one with a lifetime,
//! list and revoke them; and `/share/{token}`, the page a link opens. Each change is
//! announced as `terminal_share_changed` (`session_id`, `links`: how many are alive; never
//! a token).

use std::time::Duration;

use axum::extract::{Path as UrlPath, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{Html, IntoResponse, Response};
use serde_json::{Value, json};
use uuid::Uuid;

use super::assets;
use super::error::{ApiError, ApiResult, ok};
use crate::app::AppState;
use crate::auth::share::{DEFAULT_TTL_SECS, MAX_TTL_SECS, ShareError};

/// The id of a listed session, or 404.
fn session_id(state: &AppState, id: &str) -> Result<String, ApiError> {
    Uuid::parse_str(id)
        .ok()
        .and_then(|uuid| state.terminals().get(uuid))
        .map(|s| s.id.to_string())
        .ok_or_else(|| ApiError::not_found(format!("Terminal session '{id}' not found")))
}

fn announce(state: &AppState, session: &str) {
    let links = state.shares().list(session).len();
    state.events().publish(
        "terminal_share_changed",
        json!({ "session_id": session, "links": links }),
    );
}

/// The lifetime asked for in an optional body `{"ttl_secs": N}`.
fn ttl(body: &[u8]) -> Result<u64, ApiError> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(DEFAULT_TTL_SECS);
    }
    let bad = || {
        ApiError::bad_request(format!(
            "Expected {{\"ttl_secs\": N}} with N a whole number of seconds from 1 to {MAX_TTL_SECS} (default {DEFAULT_TTL_SECS})"
        ))
    };
    let value: Value = serde_json::from_slice(body)
        .map_err(|e| ApiError::bad_request(format!("Invalid request body: {e}")))?;
    let obj = value.as_object().ok_or_else(bad)?;
    if let Some(unknown) = obj.keys().find(|k| k.as_str() != "ttl_secs") {
        return Err(ApiError::bad_request(format!(
            "Unknown field '{unknown}'; expected ttl_secs"
        )));
    }
    match obj.get("ttl_secs") {
        None | Some(Value::Null) => Ok(DEFAULT_TTL_SECS),
        Some(v) => v
            .as_u64()
            .filter(|n| (1..=MAX_TTL_SECS).contains(n))
            .ok_or_else(bad),
    }
}

/// A new read-only link to the session; the only answer that carries its token.
pub async fn create(
    State(state): State<AppState>,
    UrlPath(id): UrlPath<String>,
    body: axum::body::Bytes,
) -> ApiResult {
    let ttl_secs = ttl(&body)?;
    let session = session_id(&state, &id)?;
    let (token, link) = state
        .shares()
        .issue(&session, Duration::from_secs(ttl_secs))
        .map_err(|e| match e {
            ShareError::TooMany => ApiError::conflict(format!(
                "Too many share links are alive ({}); revoke some first",
                crate::auth::share::MAX_LINKS
            )),
            ShareError::Random(e) => ApiError::internal(e),
        })?;
    tracing::info!(
        "share link {} made for terminal session {session} ({ttl_secs} s)",
        link.id
    );
    announce(&state, &session);
    Ok(ok(json!({
        "id": link.id,
        "session_id": link.session_id,
        "url": format!("/share/{token}"),
        "token": token,
        "created_at": link.created_at,
        "expires_at": link.expires_at,
        "ttl_secs": ttl_secs,
    })))
}

/// The session's live links (without their tokens).
pub async fn list(State(state): State<AppState>, UrlPath(id): UrlPath<String>) -> ApiResult {
    let session = session_id(&state, &id)?;
    Ok(ok(state.shares().list(&session)))
}

/// Revokes every link of the session; answers how many.
pub async fn revoke_all(State(state): State<AppState>, UrlPath(id): UrlPath<String>) -> ApiResult {
    let session = session_id(&state, &id)?;
    let revoked = state.shares().revoke(&session, None);
    announce(&state, &session);
    Ok(ok(json!({ "revoked": revoked })))
}

/// Revokes one link of the session.
pub async fn revoke(
    State(state): State<AppState>,
    UrlPath((id, link)): UrlPath<(String, String)>,
) -> ApiResult {
    let session = session_id(&state, &id)?;
    match state.shares().revoke(&session, Some(&link)) {
        0 => Err(ApiError::not_found(format!(
            "Share link '{link}' of session '{id}' not found (expired or revoked already?)"
        ))),
        n => {
            announce(&state, &session);
            Ok(ok(json!({ "revoked": n })))
        }
    }
}

/// `/share/{token}`: the read-only terminal page, or why the link does not open.
pub async fn page(State(state): State<AppState>, UrlPath(token): UrlPath<String>) -> Response {
    if state.shares().find(&token).is_some() {
        return assets::serve("share.html", &HeaderMap::new());
    }
    (
        StatusCode::UNAUTHORIZED,
        Html(
            "<!doctype html><meta charset=utf-8><meta name=viewport content=\"width=device-width, initial-scale=1\"><title>Link expired</title><link rel=stylesheet href=/assets/app.css><body class=center><div class=\"card login\"><h1>This share link has expired</h1><p>It was revoked, ran out of time, or its daemon restarted. Ask for a new one (<code>clown terminal share ID</code>).</p></div></body>",
        ),
    )
        .into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lifetimes() {
        assert_eq!(ttl(b"").unwrap(), DEFAULT_TTL_SECS);
        assert_eq!(ttl(b"{}").unwrap(), DEFAULT_TTL_SECS);
        assert_eq!(ttl(br#"{"ttl_secs": 60}"#).unwrap(), 60);
        assert_eq!(ttl(br#"{"ttl_secs": 604800}"#).unwrap(), MAX_TTL_SECS);
        for bad in [
            r#"{"ttl_secs": 0}"#,
            r#"{"ttl_secs": 604801}"#,
            r#"{"ttl_secs": -1}"#,
            r#"{"ttl_secs": 1.5}"#,
            r#"{"ttl_secs": "60"}"#,
            r#"[1]"#,
        ] {
            assert!(
                ttl(bad.as_bytes())
                    .unwrap_err()
                    .message
                    .contains("ttl_secs"),
                "{bad}"
            );
        }
        assert!(
            ttl(br#"{"ttl": 5}"#)
                .unwrap_err()
                .message
                .contains("Unknown field 'ttl'")
        );
        assert!(
            ttl(b"{")
                .unwrap_err()
                .message
                .contains("Invalid request body")
        );
    }
}
