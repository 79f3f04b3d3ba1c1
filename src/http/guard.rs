//! The request guard (DESIGN §5), one middleware in front of every route:
//!
//! 0. Request line and headers together at most 64 KiB — else 431.
//! 1. `Host` must be a loopback name or address with a port we listen on, or a configured
//!    extra name (defeats DNS rebinding) — else 403. Requests over the owner-only Unix
//!    socket, which no browser can reach, skip this.
//! 2. A request carrying `Origin` must match an allowed origin exactly (scheme, host,
//!    port) — else 403. Requests without `Origin` (CLI, curl) pass.
//! 3. `/api/*` and `/ws/*` need `Authorization: Bearer <token>` or the session cookie —
//!    else 401. A proxy's usage token ([`crate::auth::UsageTokens`]) passes only for
//!    `POST /api/usage/record`, a status-line token ([`crate::auth::StatusKeys`]) only for
//!    `POST /api/statusline` — else 403; the request carries the [`Caller`], so the
//!    handler keeps either token to its own profile. `GET /metrics` needs the token too,
//!    or the metrics token ([`Caller::Metrics`]), which opens nothing else.
//!    A share link's token ([`crate::auth::share::ShareLinks`]) comes in the path of
//!    `/share/{token}` (its page) and `/ws/share/{token}` (its read-only WebSocket) and
//!    opens those two only ([`Caller::Share`]); unknown, expired or revoked, the
//!    WebSocket gets 401 and the page says so. As a bearer anywhere it is a 403.
//! 4. A panic in a handler becomes a 500 envelope, and error responses produced by the
//!    framework itself (405, 413, …) under `/api` and `/ws` are rewritten into the envelope.

use std::panic::AssertUnwindSafe;

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use futures_util::FutureExt;

use crate::api::error::envelope_error;
use crate::api::extract::too_large;
use crate::api::metrics::METRICS_PATH;
use crate::app::AppState;
use crate::auth::share::SHARE_PREFIX;
use crate::auth::{Caller, authorized, bearer, caller};
use crate::http::conn::Conn;
use crate::http::wire::MAX_HEADER_BYTES;

pub fn is_api_path(path: &str) -> bool {
    path == "/api" || path.starts_with("/api/") || path == "/ws" || path.starts_with("/ws/")
}

fn is_public(path: &str) -> bool {
    !is_api_path(path) && path != METRICS_PATH
}

/// The one route a proxy's usage token may call.
const USAGE_ROUTE: (Method, &str) = (Method::POST, "/api/usage/record");
/// The one route a status-line token may call.
const STATUS_ROUTE: (Method, &str) = (Method::POST, "/api/statusline");

pub async fn guard(State(state): State<AppState>, mut req: Request, next: Next) -> Response {
    let path = req.uri().path().to_string();
    let method = req.method().clone();
    let conn = req.extensions().get::<Conn>().cloned();
    if head_size(&req) > MAX_HEADER_BYTES {
        return with_security_headers(envelope_error(
            StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE,
            &format!(
                "Request headers exceed the limit of {} KiB",
                MAX_HEADER_BYTES / 1024
            ),
        ));
    }
    let unix = conn.as_ref().is_some_and(Conn::is_unix);
    let authenticated = match check(&state, req.headers(), &method, &path, unix) {
        Verdict::Refuse(resp) => return with_security_headers(resp),
        Verdict::Pass(Some(who)) => {
            req.extensions_mut().insert(who);
            true
        }
        // A public page: the connection still counts as authenticated with the cookie.
        Verdict::Pass(None) => authorized(state.token(), req.headers()),
    };
    if let Some(conn) = &conn
        && authenticated
    {
        conn.authenticated();
    }
    let resp = match AssertUnwindSafe(next.run(req)).catch_unwind().await {
        Ok(resp) => resp,
        Err(panic) => {
            let what = panic
                .downcast_ref::<&str>()
                .map(|s| s.to_string())
                .or_else(|| panic.downcast_ref::<String>().cloned())
                .unwrap_or_default();
            let shown = match share_token_in(&path) {
                Some(_) => "a share link's path",
                None => path.as_str(),
            };
            tracing::error!("handler for {method} {shown} panicked: {what}");
            envelope_error(StatusCode::INTERNAL_SERVER_ERROR, "Internal server error")
        }
    };
    let resp = if is_api_path(&path) {
        envelope_framework_errors(resp, &method, &path)
    } else {
        resp
    };
    with_security_headers(resp)
}

/// What the checks make of a request.
enum Verdict {
    /// Answered with this refusal.
    Refuse(Response),
    /// Let through; who calls, for `/api` and `/ws`.
    Pass(Option<Caller>),
}

fn check(
    state: &AppState,
    headers: &HeaderMap,
    method: &Method,
    path: &str,
    unix: bool,
) -> Verdict {
    let config = state.config();
    let ports: Vec<u16> = state.local_addrs().iter().map(|a| a.port()).collect();
    let host = headers.get(header::HOST).and_then(|h| h.to_str().ok());
    match host {
        _ if unix => {}
        Some(h) if host_allowed(h, &ports, &config.allowed_hosts) => {}
        Some(h) => {
            return Verdict::Refuse(envelope_error(
                StatusCode::FORBIDDEN,
                &format!("Host '{}' is not allowed", truncate(h)),
            ));
        }
        None => {
            return Verdict::Refuse(envelope_error(
                StatusCode::FORBIDDEN,
                "A Host header is required",
            ));
        }
    }
    if let Some(origin) = headers.get(header::ORIGIN) {
        let origin = origin.to_str().unwrap_or("");
        if !origin_allowed(
            origin,
            &ports,
            &config.allowed_hosts,
            &config.allowed_origins,
        ) {
            return Verdict::Refuse(envelope_error(
                StatusCode::FORBIDDEN,
                &format!("Origin '{}' is not allowed", truncate(origin)),
            ));
        }
    }
    if let Some(presented) = share_token_in(path) {
        return match state.shares().find(presented) {
            Some((link, _)) => Verdict::Pass(Some(Caller::Share {
                session: link.session_id,
            })),
            // The page explains; the WebSocket gets the envelope.
            None if is_api_path(path) => Verdict::Refuse(envelope_error(
                StatusCode::UNAUTHORIZED,
                "This share link is unknown, expired or revoked",
            )),
            None => Verdict::Pass(None),
        };
    }
    if is_public(path) {
        return Verdict::Pass(None);
    }
    if let Some(presented) = bearer(headers).filter(|b| b.starts_with(SHARE_PREFIX)) {
        return Verdict::Refuse(match state.shares().find(presented) {
            Some(_) => envelope_error(
                StatusCode::FORBIDDEN,
                "A share link's token only opens its session's read-only view (GET /share/{token})",
            ),
            None => envelope_error(
                StatusCode::UNAUTHORIZED,
                "This share link is unknown, expired or revoked",
            ),
        });
    }
    let metrics_token = state.metrics_token();
    match caller(
        state.token(),
        state.usage_tokens(),
        state.status_keys(),
        state.session_tokens(),
        metrics_token.as_deref(),
        headers,
    ) {
        None => {
            let mut resp = envelope_error(
                StatusCode::UNAUTHORIZED,
                "Missing or invalid token: send 'Authorization: Bearer <token>' (see the token file in the state directory, or run 'clown ui')",
            );
            resp.headers_mut()
                .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
            Verdict::Refuse(resp)
        }
        Some(Caller::Proxy { .. }) if (method, path) != (&USAGE_ROUTE.0, USAGE_ROUTE.1) => {
            Verdict::Refuse(envelope_error(
                StatusCode::FORBIDDEN,
                "This token can only record usage (POST /api/usage/record)",
            ))
        }
        Some(Caller::Metrics) if (method, path) != (&Method::GET, METRICS_PATH) => {
            Verdict::Refuse(envelope_error(
                StatusCode::FORBIDDEN,
                "This token can only read metrics (GET /metrics)",
            ))
        }
        Some(Caller::Statusline { .. }) if (method, path) != (&STATUS_ROUTE.0, STATUS_ROUTE.1) => {
            Verdict::Refuse(envelope_error(
                StatusCode::FORBIDDEN,
                "This token can only ask for its profile's status line (POST /api/statusline)",
            ))
        }
        Some(Caller::Hook { session }) if !is_hook_route(method, path, &session) => {
            Verdict::Refuse(envelope_error(
                StatusCode::FORBIDDEN,
                "This token can only report its own session's hook events (POST /api/terminal/sessions/{id}/hook)",
            ))
        }
        Some(who) => Verdict::Pass(Some(who)),
    }
}

/// The share token in the path of a share page or a share WebSocket.
fn share_token_in(path: &str) -> Option<&str> {
    path.strip_prefix("/share/")
        .or_else(|| path.strip_prefix("/ws/share/"))
        .filter(|t| !t.is_empty() && !t.contains('/'))
}

/// Whether `method path` is the hook route of `session`.
fn is_hook_route(method: &Method, path: &str, session: &str) -> bool {
    method == Method::POST
        && path
            .strip_prefix("/api/terminal/sessions/")
            .and_then(|rest| rest.strip_suffix("/hook"))
            == Some(session)
}

/// The size of the request line and headers as they came on the wire (near enough: the
/// separators are counted as the shortest form).
fn head_size(req: &Request) -> usize {
    let line = req.method().as_str().len() + req.uri().to_string().len() + 11;
    req.headers()
        .iter()
        .map(|(k, v)| k.as_str().len() + v.len() + 4)
        .sum::<usize>()
        + line
}

fn truncate(s: &str) -> String {
    s.chars().take(100).collect()
}

const LOOPBACK_NAMES: &[&str] = &["127.0.0.1", "localhost", "[::1]"];

/// Splits `host[:port]`, keeping IPv6 brackets.
fn split_host_port(value: &str) -> (&str, Option<&str>) {
    if value.starts_with('[') {
        match value.find(']') {
            Some(end) => {
                let (h, rest) = value.split_at(end + 1);
                (h, rest.strip_prefix(':'))
            }
            None => (value, None),
        }
    } else {
        match value.rsplit_once(':') {
            Some((h, p)) => (h, Some(p)),
            None => (value, None),
        }
    }
}

pub fn host_allowed(host: &str, ports: &[u16], extra: &[String]) -> bool {
    let (name, port) = split_host_port(host);
    let name = name.to_ascii_lowercase();
    let port_ok = match port {
        Some(p) => p.parse::<u16>().is_ok_and(|p| ports.contains(&p)),
        // No port means :80; only fine when we actually listen there.
        None => ports.contains(&80),
    };
    if LOOPBACK_NAMES.contains(&name.as_str()) {
        return port_ok;
    }
    extra.iter().any(|e| {
        let (ename, eport) = split_host_port(e);
        ename.eq_ignore_ascii_case(&name)
            && match eport {
                Some(ep) => port == Some(ep),
                None => port_ok,
            }
    })
}

pub fn origin_allowed(
    origin: &str,
    ports: &[u16],
    extra_hosts: &[String],
    extra_origins: &[String],
) -> bool {
    if extra_origins.iter().any(|o| o == origin) {
        return true;
    }
    let Some(rest) = origin.strip_prefix("http://") else {
        return false;
    };
    // An origin is scheme://host[:port] — nothing after it, not even a slash.
    if rest.contains('/') || rest.contains('@') {
        return false;
    }
    let (name, port) = split_host_port(rest);
    let Some(port) = port.and_then(|p| p.parse::<u16>().ok()) else {
        return false;
    };
    if !ports.contains(&port) {
        return false;
    }
    LOOPBACK_NAMES.contains(&name)
        || extra_hosts
            .iter()
            .any(|e| split_host_port(e).0.eq_ignore_ascii_case(name))
}

/// Framework-made errors (405, 413, 4xx from extractors we do not wrap) carry plain text
/// or nothing; under `/api` they become the envelope.
fn envelope_framework_errors(resp: Response, method: &axum::http::Method, path: &str) -> Response {
    let status = resp.status();
    if !(status.is_client_error() || status.is_server_error()) {
        return resp;
    }
    let is_json = resp
        .headers()
        .get(header::CONTENT_TYPE)
        .is_some_and(|v| v.as_bytes().starts_with(b"application/json"));
    if is_json {
        return resp;
    }
    let mut out = match status {
        StatusCode::METHOD_NOT_ALLOWED => envelope_error(
            status,
            &format!("Method {method} is not allowed for {path}"),
        ),
        StatusCode::PAYLOAD_TOO_LARGE => too_large().into_response(),
        _ => envelope_error(status, status.canonical_reason().unwrap_or("Error")),
    };
    if let Some(allow) = resp.headers().get(header::ALLOW) {
        out.headers_mut().insert(header::ALLOW, allow.clone());
    }
    out
}

fn with_security_headers(mut resp: Response<Body>) -> Response<Body> {
    let h = resp.headers_mut();
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    h.entry(header::CONTENT_SECURITY_POLICY).or_insert(HeaderValue::from_static(
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'",
    ));
    h.entry(header::CACHE_CONTROL)
        .or_insert(HeaderValue::from_static("no-store"));
    resp
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hosts() {
        let ports = [8765];
        assert!(host_allowed("127.0.0.1:8765", &ports, &[]));
        assert!(host_allowed("localhost:8765", &ports, &[]));
        assert!(host_allowed("LOCALHOST:8765", &ports, &[]));
        assert!(host_allowed("[::1]:8765", &ports, &[]));
        assert!(!host_allowed("127.0.0.1:9999", &ports, &[]));
        assert!(!host_allowed("127.0.0.1", &ports, &[]));
        assert!(!host_allowed("evil.example:8765", &ports, &[]));
        assert!(!host_allowed("localhost.evil.com:8765", &ports, &[]));
        assert!(host_allowed("box.lan:8765", &ports, &["box.lan".into()]));
        assert!(!host_allowed("box.lan:1", &ports, &["box.lan".into()]));
    }

    #[test]
    fn origins() {
        let ports = [8765];
        assert!(origin_allowed("http://127.0.0.1:8765", &ports, &[], &[]));
        assert!(origin_allowed("http://localhost:8765", &ports, &[], &[]));
        assert!(!origin_allowed("http://localhost:8765/", &ports, &[], &[]));
        assert!(!origin_allowed(
            "http://localhost.evil.com:8765",
            &ports,
            &[],
            &[]
        ));
        assert!(!origin_allowed(
            "http://localhost.evil.com",
            &ports,
            &[],
            &[]
        ));
        assert!(!origin_allowed("http://evil.example", &ports, &[], &[]));
        assert!(!origin_allowed("https://localhost:8765", &ports, &[], &[]));
        assert!(!origin_allowed("null", &ports, &[], &[]));
        assert!(!origin_allowed("http://localhost:87650", &ports, &[], &[]));
        assert!(origin_allowed(
            "https://x.example",
            &ports,
            &[],
            &["https://x.example".into()]
        ));
    }
}
