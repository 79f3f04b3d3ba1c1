//! The HTTP API: one file per resource, and the route table that both the router and
//! the OpenAPI document are built from, so the two cannot drift apart.

pub mod agents;
pub mod assets;
pub mod bindings;
pub mod budgets;
pub mod conversations;
pub mod daemon;
pub mod error;
pub mod extract;
pub mod imports;
pub mod keys;
pub mod metrics;
pub mod openapi;
pub mod profiles;
pub mod providers;
pub mod proxy;
pub mod registry;
pub mod reports;
mod routes_proxy;
mod routes_sessions;
mod routes_setup;
mod routes_share;
mod routes_usage;
pub mod setup;
pub mod share;
pub mod statusline;
pub mod sync;
mod table;
pub mod terminal;
pub mod ui;
pub mod usage;
pub mod worktrees;

use std::collections::BTreeMap;

use axum::Router;
use axum::routing::MethodRouter;

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

pub(crate) const fn route(
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

pub use table::routes;

/// The request bodies of [`routes_share`]'s routes, for the OpenAPI document.
pub fn share_schemas() -> serde_json::Value {
    routes_share::schemas()
}

/// The request bodies of [`routes_usage`]'s routes, for the OpenAPI document.
pub fn usage_schemas() -> serde_json::Value {
    routes_usage::schemas()
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
