//! The HTTP API: one file per resource, and the route table that both the router and
//! the OpenAPI document are built from, so the two cannot drift apart.

pub mod daemon;
pub mod error;
pub mod extract;
pub mod openapi;
pub mod ui;

use std::collections::BTreeMap;

use axum::Router;
use axum::routing::{MethodRouter, get};

use crate::app::AppState;

/// A query parameter as documented: name, type, description.
pub type QueryDoc = (&'static str, &'static str, &'static str);

/// One route: what the router serves and what the OpenAPI document says of it.
pub struct Route {
    pub method: &'static str,
    pub path: &'static str,
    pub tag: &'static str,
    pub summary: &'static str,
    pub query: &'static [QueryDoc],
    /// Name of the JSON request-body schema, if the route takes one.
    pub body: Option<&'static str>,
    /// Whether the route is reachable without the token (the login flow).
    pub public: bool,
    pub handler: fn() -> MethodRouter<AppState>,
}

const fn route(
    method: &'static str,
    path: &'static str,
    tag: &'static str,
    summary: &'static str,
    handler: fn() -> MethodRouter<AppState>,
) -> Route {
    Route {
        method,
        path,
        tag,
        summary,
        query: &[],
        body: None,
        public: false,
        handler,
    }
}

/// Every route the daemon serves.
pub fn routes() -> Vec<Route> {
    vec![
        Route {
            public: true,
            ..route(
                "GET",
                "/",
                "ui",
                "The web UI (a login page without the session cookie)",
                || get(ui::index),
            )
        },
        Route {
            public: true,
            query: &[("token", "string", "The daemon token from `clown ui`")],
            ..route(
                "GET",
                "/login",
                "ui",
                "Exchange the token for a session cookie, then redirect to /",
                || get(ui::login),
            )
        },
        route(
            "GET",
            "/api/daemon/status",
            "daemon",
            "Daemon status",
            || get(daemon::status),
        ),
        route(
            "GET",
            "/api/daemon/logs",
            "daemon",
            "Recent daemon log lines",
            || get(daemon::logs),
        ),
        route(
            "GET",
            "/api/openapi.json",
            "daemon",
            "This OpenAPI document",
            || get(openapi::document),
        ),
        route(
            "GET",
            "/ws/events",
            "events",
            "Live event stream (WebSocket): JSON text frames {type, data, ts}",
            || get(crate::ws::events::handler),
        ),
    ]
}

/// The API router (without the guard layers, which `http::router` adds).
pub fn router() -> Router<AppState> {
    let mut by_path: BTreeMap<&'static str, MethodRouter<AppState>> = BTreeMap::new();
    for r in routes() {
        let handler = (r.handler)();
        let merged = match by_path.remove(r.path) {
            Some(existing) => existing.merge(handler),
            None => handler,
        };
        by_path.insert(r.path, merged);
    }
    by_path
        .into_iter()
        .fold(Router::new(), |router, (path, mr)| router.route(path, mr))
}
