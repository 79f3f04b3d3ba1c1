//! The route table's part for the terminal sessions' read-only share links;
//! [`super::routes`] serves and documents them with the rest, and [`schemas`] adds their
//! request body to the OpenAPI document.

use axum::routing::{delete, get, post};
use serde_json::{Value, json};

use super::{Route, route, share};

pub fn routes() -> Vec<Route> {
    vec![
        Route {
            body: Some("ShareRequest"),
            ..route(
                "POST",
                "/api/terminal/sessions/{session_id}/share",
                "terminal",
                "Make a read-only share link to the session: answers id, url (/share/<token>), token, created_at, expires_at and ttl_secs (body optional: {ttl_secs}, 1 to 604800, default 3600). The token opens that session's read-only page and WebSocket only, until it expires, is revoked, the session is removed or the daemon exits; this is the only answer that shows it",
                || post(share::create),
            )
        },
        route(
            "GET",
            "/api/terminal/sessions/{session_id}/share",
            "terminal",
            "The session's live share links: id, session_id, created_at, expires_at (never their tokens)",
            || get(share::list),
        ),
        route(
            "DELETE",
            "/api/terminal/sessions/{session_id}/share",
            "terminal",
            "Revoke every share link of the session (connected viewers are disconnected); answers revoked",
            || delete(share::revoke_all),
        ),
        route(
            "DELETE",
            "/api/terminal/sessions/{session_id}/share/{share_id}",
            "terminal",
            "Revoke one share link (its viewers are disconnected); 404 when it is not alive",
            || delete(share::revoke),
        ),
        Route {
            public: true,
            ..route(
                "GET",
                "/share/{token}",
                "terminal",
                "The read-only terminal page a share link opens (no cookie needed: the token in the path is the credential); 401 page once the link is expired or revoked",
                || get(share::page),
            )
        },
        Route {
            public: true,
            ..route(
                "GET",
                "/ws/share/{token}",
                "terminal",
                "A share link's read-only WebSocket: the session's output as /ws/terminal sends it; input and control messages are answered with an error and reach nothing; closed with 4401 when the link expires or is revoked; 401 for an unknown, expired or revoked token",
                || get(crate::ws::terminal::share_handler),
            )
        },
    ]
}

/// The share request's body.
pub fn schemas() -> Value {
    json!({
        "ShareRequest": {
            "type": "object",
            "additionalProperties": false,
            "properties": {
                "ttl_secs": {"type": "integer", "minimum": 1, "maximum": 604800, "default": 3600, "description": "How long the link lives, in seconds"}
            }
        }
    })
}
