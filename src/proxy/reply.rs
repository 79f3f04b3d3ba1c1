//! What the proxy answers itself, and the headers it passes on: JSON replies, errors in
//! the agent's API's shape (Anthropic's for `/v1/messages`, OpenAI's elsewhere), the
//! error of a pool whose every key is cooling down, and the hop-by-hop header filter.

use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;
use hyper::header::{self, HeaderMap, HeaderName, HeaderValue};
use hyper::{Response, StatusCode};

use super::body::ProxyBody;

/// Headers a proxy must not forward (RFC 9110 §7.6.1), besides those `Connection` lists.
const HOP_BY_HOP: [&str; 9] = [
    "connection",
    "keep-alive",
    "proxy-connection",
    "proxy-authenticate",
    "proxy-authorization",
    "te",
    "trailer",
    "transfer-encoding",
    "upgrade",
];

/// The header names a message's `Connection` header lists (hop-by-hop for this message).
fn connection_listed(headers: &HeaderMap) -> impl Iterator<Item = &str> {
    headers
        .get_all(header::CONNECTION)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(str::trim)
}

/// Headers a proxy must not forward, plus those the proxy replaces.
fn skip(name: &HeaderName, request: bool, listed: &[&str]) -> bool {
    HOP_BY_HOP.contains(&name.as_str())
        || (request
            && matches!(
                name.as_str(),
                // The key is swapped; the length recomputed; and the usage tap must read the
                // response, so it comes back unencoded.
                "host" | "x-api-key" | "authorization" | "content-length" | "accept-encoding"
            ))
        || listed.iter().any(|l| name.as_str().eq_ignore_ascii_case(l))
}

pub fn copy_headers(from: &HeaderMap, to: &mut HeaderMap, request: bool) {
    let listed: Vec<&str> = connection_listed(from).collect();
    to.reserve(from.len());
    for (name, value) in from {
        if !skip(name, request, &listed) {
            to.append(name.clone(), value.clone());
        }
    }
}

/// An answer's own headers kept for the agent: those a proxy must not forward removed in
/// place (what [`copy_headers`] leaves out of a response, without copying the rest).
pub fn strip_hop_by_hop(headers: &mut HeaderMap) {
    let listed: Vec<HeaderName> = connection_listed(headers)
        .filter_map(|l| HeaderName::from_bytes(l.as_bytes()).ok())
        .collect();
    for name in HOP_BY_HOP {
        headers.remove(name);
    }
    for name in listed {
        headers.remove(name);
    }
}

pub fn json_response(status: StatusCode, body: String) -> Response<ProxyBody> {
    let body = Full::new(Bytes::from(body))
        .map_err(|never| match never {})
        .boxed();
    let mut resp = Response::new(body);
    *resp.status_mut() = status;
    resp.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    resp
}

/// An Anthropic-style error: `{"type":"error","error":{"type":…,"message":…}}`.
pub fn error(status: StatusCode, kind: &str, message: &str) -> Response<ProxyBody> {
    json_response(status, error_body(true, kind, message))
}

fn error_body(anthropic: bool, kind: &str, message: &str) -> String {
    if anthropic {
        serde_json::json!({"type": "error", "error": {"type": kind, "message": message}})
    } else {
        let code = match kind {
            "rate_limit_error" => "rate_limit_exceeded",
            _ => "server_error",
        };
        serde_json::json!({"error": {"message": message, "type": kind, "param": null, "code": code}})
    }
    .to_string()
}

/// Every key of the pool is cooling down: one error naming the soonest one back, a 429
/// when rate limits put them there (else 503), with `retry-after`.
pub fn exhausted(
    path: &str,
    profile: &str,
    key: &str,
    until_ms: i64,
    limited: bool,
) -> (Response<ProxyBody>, String) {
    let now = super::pool::now_ms();
    let secs = ((until_ms - now).max(0) + 999) / 1000;
    let at =
        jiff::Timestamp::from_second(until_ms.div_euclid(1000) + i64::from(until_ms % 1000 != 0))
            .map(|t| t.to_string())
            .unwrap_or_default();
    let message = format!(
        "every key of profile '{profile}' is cooling down after {}; the soonest back is '{key}' at {at} (in {secs} s)",
        if limited { "rate limits" } else { "errors" }
    );
    let (status, kind) = if limited {
        (StatusCode::TOO_MANY_REQUESTS, "rate_limit_error")
    } else {
        (StatusCode::SERVICE_UNAVAILABLE, "overloaded_error")
    };
    let body = error_body(path.starts_with("/v1/messages"), kind, &message);
    let mut resp = json_response(status, body.clone());
    resp.headers_mut()
        .insert(header::RETRY_AFTER, HeaderValue::from(secs.max(1) as u64));
    (resp, body)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stripping_in_place_keeps_what_a_copy_keeps() {
        let mut h = HeaderMap::new();
        for (k, v) in [
            ("content-type", "text/event-stream"),
            ("connection", "keep-alive, x-hop"),
            ("x-hop", "1"),
            ("keep-alive", "timeout=5"),
            ("transfer-encoding", "chunked"),
            ("request-id", "req_1"),
            ("set-cookie", "a=1"),
            ("set-cookie", "b=2"),
            ("anthropic-ratelimit-requests-remaining", "9"),
        ] {
            h.append(HeaderName::from_static(k), HeaderValue::from_static(v));
        }
        let mut copied = HeaderMap::new();
        copy_headers(&h, &mut copied, false);
        strip_hop_by_hop(&mut h);
        assert_eq!(h, copied);
        assert_eq!(h.len(), 5);
    }
}
