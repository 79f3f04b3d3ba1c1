//! The daemon's word after the plan: whether a budget has stopped this profile.
//!
//! The plan carries the state at start ([`crate::proxy::plan::Plan::stop`]); each change
//! comes as one more JSON line on the same stdin pipe (`{"stop":{…}}` or `{"stop":null}`),
//! which [`follow`] reads until the pipe closes. The [`Gate`] holds the state: every
//! request asks it first, and while it is open that is one atomic load. A stopped proxy
//! answers the agent at once in its provider's own error shape, naming the budget, and
//! sends nothing upstream (so nothing is billed or recorded).

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, RwLock};

use hyper::StatusCode;
use serde::{Deserialize, Serialize};
use serde_json::json;
use tokio::io::{AsyncBufReadExt, AsyncRead, BufReader};

/// Why requests are refused: which kind of budget, and the message for the agent.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Stop {
    /// `usd` (money spent in a day or month) or `window` (a share of a provider window).
    pub kind: String,
    pub message: String,
    /// For a window: seconds until it starts over.
    #[serde(default)]
    pub retry_after_secs: Option<u64>,
}

/// One control line.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Control {
    pub stop: Option<Stop>,
}

impl Control {
    pub fn encode(&self) -> Vec<u8> {
        let mut line = serde_json::to_vec(self).unwrap_or_else(|_| b"{\"stop\":null}".to_vec());
        line.push(b'\n');
        line
    }
}

/// The stop state the request path reads.
#[derive(Debug, Default)]
pub struct Gate {
    closed: AtomicBool,
    stop: RwLock<Option<Stop>>,
}

impl Gate {
    pub fn new(stop: Option<Stop>) -> Self {
        let gate = Self::default();
        gate.set(stop);
        gate
    }

    pub fn set(&self, stop: Option<Stop>) {
        let mut slot = self.stop.write().unwrap_or_else(|p| p.into_inner());
        self.closed.store(stop.is_some(), Ordering::Release);
        if let Some(s) = &stop {
            tracing::warn!("stopped by budget: {}", s.message);
        } else if slot.is_some() {
            tracing::info!("budget stop lifted");
        }
        *slot = stop;
    }

    /// The stop in force, if any.
    pub fn current(&self) -> Option<Stop> {
        if !self.closed.load(Ordering::Acquire) {
            return None;
        }
        self.stop.read().unwrap_or_else(|p| p.into_inner()).clone()
    }
}

/// Applies each control line from `input` to `gate` until end of input (the daemon gone).
pub async fn follow(input: impl AsyncRead + Unpin, gate: Arc<Gate>) {
    let mut lines = BufReader::new(input).lines();
    loop {
        match lines.next_line().await {
            Ok(Some(line)) if line.trim().is_empty() => {}
            Ok(Some(line)) => match serde_json::from_str::<Control>(&line) {
                Ok(c) => gate.set(c.stop),
                Err(e) => tracing::warn!("ignoring a control line the daemon sent: {e}"),
            },
            Ok(None) => return,
            Err(e) => {
                tracing::warn!("cannot read the daemon's control lines: {e}");
                return;
            }
        }
    }
}

/// The refusal: status, JSON body and `retry-after`, in the Anthropic shape
/// (`{"type":"error","error":{"type","message"}}`; 403 `permission_error` for money,
/// 429 `rate_limit_error` for a window) or the OpenAI one (`{"error":{"message","type",
/// "code"}}`, 429).
pub fn refusal(stop: &Stop, openai: bool) -> (StatusCode, String, Option<u64>) {
    let window = stop.kind == "window";
    if openai {
        let kind = if window {
            "rate_limit_exceeded"
        } else {
            "insufficient_quota"
        };
        let body = json!({"error": {"message": stop.message, "type": kind, "param": null, "code": "budget_exceeded"}});
        return (
            StatusCode::TOO_MANY_REQUESTS,
            body.to_string(),
            stop.retry_after_secs,
        );
    }
    let (status, kind) = if window {
        (StatusCode::TOO_MANY_REQUESTS, "rate_limit_error")
    } else {
        (StatusCode::FORBIDDEN, "permission_error")
    };
    let body = json!({"type": "error", "error": {"type": kind, "message": stop.message}});
    (
        status,
        body.to_string(),
        stop.retry_after_secs.filter(|_| window),
    )
}

/// Whether a request path belongs to the OpenAI API family (else Anthropic's).
pub fn is_openai_path(path: &str, primary_protocol: &str) -> bool {
    if path.starts_with("/v1/messages") {
        return false;
    }
    [
        "/v1/chat/",
        "/v1/responses",
        "/v1/completions",
        "/v1/embeddings",
    ]
    .iter()
    .any(|p| path.starts_with(p))
        || primary_protocol == "openai"
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stop(kind: &str) -> Stop {
        Stop {
            kind: kind.into(),
            message: "clown: the daily budget of 'work' is used up".into(),
            retry_after_secs: Some(60),
        }
    }

    #[test]
    fn shapes_of_each_provider() {
        let (status, body, retry) = refusal(&stop("usd"), false);
        assert_eq!(status, StatusCode::FORBIDDEN);
        assert_eq!(retry, None);
        let v: serde_json::Value = serde_json::from_str(&body).unwrap();
        assert_eq!(v["type"], "error");
        assert_eq!(v["error"]["type"], "permission_error");
        assert!(
            v["error"]["message"]
                .as_str()
                .unwrap()
                .contains("daily budget")
        );
        let (status, body, retry) = refusal(&stop("window"), false);
        assert_eq!((status, retry), (StatusCode::TOO_MANY_REQUESTS, Some(60)));
        assert!(body.contains("rate_limit_error"));
        let (status, body, _) = refusal(&stop("usd"), true);
        assert_eq!(status, StatusCode::TOO_MANY_REQUESTS);
        let v: serde_json::Value = serde_json::from_str(&body).unwrap();
        assert_eq!(v["error"]["type"], "insufficient_quota");
        assert_eq!(v["error"]["code"], "budget_exceeded");
        assert!(v["error"]["message"].is_string());
        assert!(is_openai_path("/v1/chat/completions", "anthropic"));
        assert!(!is_openai_path("/v1/messages?beta=true", "openai"));
        assert!(is_openai_path("/v1/models", "openai"));
    }

    #[tokio::test]
    async fn lines_set_and_lift_the_stop() {
        let gate = Arc::new(Gate::new(None));
        assert!(gate.current().is_none());
        let mut input = Control {
            stop: Some(stop("usd")),
        }
        .encode();
        input.extend_from_slice(b"not json\n");
        follow(&input[..], gate.clone()).await;
        assert_eq!(gate.current(), Some(stop("usd")));
        follow(&Control { stop: None }.encode()[..], gate.clone()).await;
        assert!(gate.current().is_none());
    }
}
