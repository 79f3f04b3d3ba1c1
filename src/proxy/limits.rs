//! The provider's rate-limit headers on a response (`anthropic-ratelimit-*`,
//! `x-ratelimit-*`, and `retry-after`), taken as one snapshot per response that carries
//! any and handed to the reporter, which sends them to the daemon beside the usage.

use std::collections::BTreeMap;

use hyper::StatusCode;
use hyper::header::HeaderMap;

use crate::records::{LimitSnapshot, is_limit_header};

/// The snapshot of `headers`, or `None` when the response carries no limit header.
pub fn capture(
    profile: &str,
    provider: &str,
    status: StatusCode,
    headers: &HeaderMap,
) -> Option<LimitSnapshot> {
    let mut found = BTreeMap::new();
    for (name, value) in headers {
        let name = name.as_str();
        if is_limit_header(name)
            && let Ok(v) = value.to_str()
        {
            found.insert(name.to_string(), v.trim().to_string());
        }
    }
    // `retry-after` alone, on a success, says nothing about limits.
    if found.is_empty()
        || (found.len() == 1 && found.contains_key("retry-after") && status.is_success())
    {
        return None;
    }
    let snapshot = LimitSnapshot {
        profile: profile.to_string(),
        provider: provider.to_string(),
        ts: jiff::Timestamp::now().as_second(),
        http_status: status.as_u16(),
        headers: found,
    };
    match snapshot.validate() {
        Ok(()) => Some(snapshot),
        Err(e) => {
            tracing::warn!("rate-limit headers from {provider} not recorded: {e}");
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use hyper::header::HeaderValue;

    #[test]
    fn only_limit_headers_are_taken() {
        let mut h = HeaderMap::new();
        h.insert(
            "content-type",
            HeaderValue::from_static("text/event-stream"),
        );
        assert!(capture("p", "anthropic", StatusCode::OK, &h).is_none());
        h.insert(
            "anthropic-ratelimit-unified-5h-utilization",
            HeaderValue::from_static("0.25"),
        );
        h.insert("retry-after", HeaderValue::from_static("3"));
        let s = capture("p", "anthropic", StatusCode::TOO_MANY_REQUESTS, &h).unwrap();
        assert_eq!(s.headers.len(), 2);
        assert_eq!(s.http_status, 429);
        assert_eq!(s.headers["retry-after"], "3");
    }
}
