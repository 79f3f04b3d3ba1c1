//! The route table's part for a profile's key pool (`/api/profiles/{alias}/keys*`) and
//! the request inspector (`/api/proxy/{alias}/requests`); [`super::routes`] serves and
//! documents them with the rest.

use axum::routing::{delete, get, post};

use super::{Route, keys, proxy, route};

pub fn routes() -> Vec<Route> {
    vec![
        route(
            "GET",
            "/api/profiles/{alias}/keys",
            "proxy",
            "The profile's key pool: label, kind (key|token), priority, hint (last four characters), provider_id, endpoint_id, base_url, model, created_at; never a key",
            || get(keys::list),
        ),
        Route {
            body: Some("NewPoolKey"),
            ..route(
                "POST",
                "/api/profiles/{alias}/keys",
                "proxy",
                "Add a key or subscription token to the profile's pool (its proxy restarts to take it); 409 when the label is taken",
                || post(keys::add),
            )
        },
        route(
            "DELETE",
            "/api/profiles/{alias}/keys/{label}",
            "proxy",
            "Remove a key from the profile's pool (its proxy restarts without it)",
            || delete(keys::remove),
        ),
        Route {
            query: &[
                (
                    "limit",
                    "integer",
                    "At most this many of the newest (default 100)",
                ),
                (
                    "after",
                    "integer",
                    "Only requests with a greater id (to follow)",
                ),
                (
                    "bodies",
                    "boolean",
                    "Include the captured request and response bodies (redacted; when the profile's proxy.inspector.capture_bodies is on)",
                ),
            ],
            ..route(
                "GET",
                "/api/proxy/{alias}/requests",
                "proxy",
                "The request inspector: the profile's last proxy requests, oldest first, each {id, at_ms, method, path, route (default or the rule's scenario), rule, sticky, key, key_hint, target, model, status, ttfb_ms, duration_ms, tokens, tokens_per_sec, attempts, error (redacted)}; kept in memory (proxy.inspector.keep per profile); each batch is also a `proxy_requests` event (under load a proxy sends only the last `keep` requests of a batch: the event's `skipped` counts the others, and the ids still count every request)",
                || get(proxy::requests),
            )
        },
    ]
}
