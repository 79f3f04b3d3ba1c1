//! A provider's error answer as the Anthropic error Claude Code shows: the status kept,
//! the body `{"type":"error","error":{"type":…,"message":…}}` with the provider's own
//! message (OpenAI's `{"error":{"message"}}`, Gemini's list of those, FastAPI's
//! `{"detail"}`, a plain `{"message"}`, or the first line of a text body) after the
//! provider's name: Claude Code prints it as `API Error: 402 deepseek-openai: Insufficient
//! Balance`.

use serde_json::{Value, json};

/// The Anthropic error type for an HTTP status.
pub fn kind(status: u16) -> &'static str {
    match status {
        401 => "authentication_error",
        402 => "billing_error",
        403 => "permission_error",
        404 => "not_found_error",
        408 | 504 => "timeout_error",
        413 => "request_too_large",
        429 => "rate_limit_error",
        503 | 529 => "overloaded_error",
        s if s >= 500 => "api_error",
        _ => "invalid_request_error",
    }
}

/// The readable message in an error body.
pub fn message_of(body: &[u8]) -> String {
    if let Ok(v) = serde_json::from_slice::<Value>(body) {
        let v = match &v {
            Value::Array(items) => items.first().unwrap_or(&Value::Null),
            other => other,
        };
        let found = [
            &v["error"]["message"],
            &v["error"],
            &v["message"],
            &v["detail"],
            &v["detail"][0]["msg"],
        ]
        .into_iter()
        .find_map(|m| m.as_str().filter(|s| !s.trim().is_empty()));
        if let Some(m) = found {
            return clip(m);
        }
        if let Value::Object(_) = v {
            return clip(&v.to_string());
        }
    }
    let text = String::from_utf8_lossy(body);
    clip(
        text.lines()
            .map(str::trim)
            .find(|l| !l.is_empty())
            .unwrap_or_default(),
    )
}

fn clip(s: &str) -> String {
    const MAX: usize = 1000;
    match s.char_indices().nth(MAX) {
        Some((i, _)) => format!("{}…", &s[..i]),
        None => s.to_string(),
    }
}

/// The Anthropic error body for a provider's error answer.
pub fn body(status: u16, provider: &str, upstream: &[u8]) -> Vec<u8> {
    let said = message_of(upstream);
    let message = if said.is_empty() {
        format!("{provider} answered HTTP {status} with no message")
    } else {
        format!("{provider}: {said}")
    };
    json!({"type": "error", "error": {"type": kind(status), "message": message}})
        .to_string()
        .into_bytes()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn provider_errors_become_anthropic_errors() {
        let deepseek = br#"{"error":{"message":"Insufficient Balance","type":"unknown_error","param":null,"code":"invalid_request_error"}}"#;
        let v: Value = serde_json::from_slice(&body(402, "deepseek-openai", deepseek)).unwrap();
        assert_eq!(
            v,
            json!({"type": "error", "error": {"type": "billing_error",
                   "message": "deepseek-openai: Insufficient Balance"}})
        );
        let gemini = br#"[{"error":{"code":400,"message":"Invalid JSON payload","status":"INVALID_ARGUMENT"}}]"#;
        assert_eq!(message_of(gemini), "Invalid JSON payload");
        assert_eq!(message_of(br#"{"detail":"Not Found"}"#), "Not Found");
        assert_eq!(
            message_of(br#"{"error":"model not found"}"#),
            "model not found"
        );
        assert_eq!(
            message_of(b"\n<html>Bad Gateway</html>\n"),
            "<html>Bad Gateway</html>"
        );
        assert_eq!(kind(529), "overloaded_error");
        assert_eq!(kind(418), "invalid_request_error");
        let v: Value = serde_json::from_slice(&body(500, "p", b"")).unwrap();
        assert_eq!(v["error"]["message"], "p answered HTTP 500 with no message");
        assert_eq!(
            message_of("é".repeat(2000).as_bytes()).chars().count(),
            1001
        );
    }
}
