//! Webhooks: a POST to each configured URL when a terminal session starts waiting for its
//! user (`[[notifications.webhooks]]` in the configuration; each names its format, the
//! profiles it is for and the states it is sent for).
//!
//! One task follows the bus's `terminal_attention_changed` events; a change into a
//! waiting state is sent once per matching webhook — never for a session a client shows
//! right now (one of its attached clients reported its window focused and visible within
//! the last 90 s, checked when the change happens). Formats: `json`, an object describing
//! the change; `ntfy`, a text body with `Title`, `Priority` and `Tags` headers, as
//! ntfy.sh takes it. A failed POST is tried twice more (after 1 s and 3 s); failures are
//! logged with the URL's host only (ntfy topics are secrets of a kind).

use std::time::Duration;

use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use serde_json::{Value, json};
use tokio::sync::broadcast::error::RecvError;

use crate::config::{Config, WebhookConfig};
use crate::events::EventBus;
use crate::proxy::upstream::{Connector, connector};
use crate::pty::Terminals;
use crate::shared::Shared;

const TIMEOUT: Duration = Duration::from_secs(10);
const RETRIES: [u64; 2] = [1000, 3000];

/// What the webhooks' task works with.
pub struct Context {
    pub config: Shared<Config>,
    pub terminals: Terminals,
    pub events: EventBus,
    /// The daemon's URL, for a link to the session in the UI.
    pub daemon_url: Option<String>,
}

/// Starts the task; it ends with the bus.
pub fn spawn(ctx: Context) {
    tokio::spawn(run(ctx));
}

async fn run(ctx: Context) {
    let mut rx = ctx.events.subscribe();
    let client: Client<Connector, Full<Bytes>> =
        Client::builder(TokioExecutor::new()).build(connector(TIMEOUT));
    loop {
        let ev = match rx.recv().await {
            Ok(ev) => ev,
            Err(RecvError::Lagged(n)) => {
                tracing::warn!("webhooks fell {n} events behind; some notifications are lost");
                continue;
            }
            Err(RecvError::Closed) => return,
        };
        if ev.kind != "terminal_attention_changed" {
            continue;
        }
        let d = &ev.data;
        let (Some(id), Some(profile), Some(state)) = (
            d["id"].as_str(),
            d["profile_alias"].as_str(),
            d["attention"].as_str(),
        ) else {
            continue;
        };
        let config = ctx.config.get();
        let hooks: Vec<&WebhookConfig> = config
            .notifications
            .webhooks
            .iter()
            .filter(|w| w.states.iter().any(|s| s == state))
            .filter(|w| w.profiles.is_empty() || w.profiles.iter().any(|p| p == profile))
            .collect();
        if hooks.is_empty() {
            continue;
        }
        let looked_at = uuid::Uuid::parse_str(id)
            .ok()
            .and_then(|u| ctx.terminals.get(u))
            .is_some_and(|s| s.looked_at());
        if looked_at {
            tracing::debug!("session {id} is shown right now: no webhook for {state}");
            continue;
        }
        let link = ctx
            .daemon_url
            .as_ref()
            .map(|u| format!("{u}/#/terminals/{id}"));
        for hook in hooks {
            let (headers, body) = render(hook, d, link.as_deref());
            tokio::spawn(send(client.clone(), hook.url.clone(), headers, body));
        }
    }
}

/// The headers and body of `hook`'s notification of the change `d`.
fn render(
    hook: &WebhookConfig,
    d: &Value,
    link: Option<&str>,
) -> (Vec<(&'static str, String)>, String) {
    let profile = d["profile_alias"].as_str().unwrap_or_default();
    let state = d["attention"].as_str().unwrap_or_default();
    let words = state.replace('_', " ");
    let message = d["message"].as_str().unwrap_or_default();
    if hook.format == "ntfy" {
        let body = if message.is_empty() {
            format!("Session {} of {profile}: {words}", short(d))
        } else {
            format!("Session {} of {profile}: {words} — {message}", short(d))
        };
        let (priority, tags) = match state {
            "needs_input" => ("high", "bell"),
            "rate_limited" | "errored" => ("default", "warning"),
            _ => ("default", "white_check_mark"),
        };
        let mut headers = vec![
            ("Title", format!("clown: {profile} {words}")),
            ("Priority", priority.into()),
            ("Tags", tags.into()),
        ];
        if let Some(link) = link {
            headers.push(("Click", link.to_string()));
        }
        return (headers, body);
    }
    let body = json!({
        "event": "terminal_attention_changed",
        "session_id": d["id"],
        "profile_alias": profile,
        "attention": state,
        "previous": d["previous"],
        "message": d["message"],
        "since": d["since"],
        "url": link,
    });
    (
        vec![("Content-Type", "application/json".into())],
        body.to_string(),
    )
}

fn short(d: &Value) -> &str {
    let id = d["id"].as_str().unwrap_or_default();
    id.get(..8).unwrap_or(id)
}

async fn send(
    client: Client<Connector, Full<Bytes>>,
    url: String,
    headers: Vec<(&'static str, String)>,
    body: String,
) {
    let host = url
        .split("://")
        .nth(1)
        .and_then(|r| r.split(['/', '?']).next())
        .unwrap_or_default()
        .to_string();
    let mut attempt = 0;
    loop {
        let mut req = hyper::Request::post(url.as_str()).header("User-Agent", "clown");
        for (k, v) in &headers {
            req = req.header(*k, v.as_str());
        }
        let result = match req.body(Full::new(Bytes::from(body.clone()))) {
            Ok(req) => match tokio::time::timeout(TIMEOUT, client.request(req)).await {
                Ok(Ok(resp)) if resp.status().is_success() => {
                    let _ = resp.into_body().collect().await;
                    return;
                }
                Ok(Ok(resp)) => format!("HTTP {}", resp.status().as_u16()),
                Ok(Err(e)) => e.to_string(),
                Err(_) => format!("no answer within {TIMEOUT:?}"),
            },
            Err(e) => {
                tracing::warn!("webhook to {host}: cannot build the request: {e}");
                return;
            }
        };
        if attempt >= RETRIES.len() {
            tracing::warn!("webhook to {host} failed: {result}");
            return;
        }
        tokio::time::sleep(Duration::from_millis(RETRIES[attempt])).await;
        attempt += 1;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hook(format: &str) -> WebhookConfig {
        WebhookConfig {
            url: "https://ntfy.example/topic".into(),
            format: format.into(),
            profiles: vec![],
            states: vec!["needs_input".into()],
        }
    }

    #[test]
    fn formats() {
        let d = json!({"id": "0123456789ab", "profile_alias": "work", "attention": "needs_input",
                       "previous": "working", "message": "Permission to use Bash", "since": "t"});
        let (headers, body) = render(&hook("ntfy"), &d, Some("http://127.0.0.1:1/#/terminals/x"));
        assert_eq!(
            body,
            "Session 01234567 of work: needs input — Permission to use Bash"
        );
        assert!(headers.contains(&("Title", "clown: work needs input".into())));
        assert!(headers.contains(&("Priority", "high".into())));
        let (headers, body) = render(&hook("json"), &d, None);
        assert_eq!(
            headers,
            vec![("Content-Type", "application/json".to_string())]
        );
        let v: Value = serde_json::from_str(&body).unwrap();
        assert_eq!(v["attention"], "needs_input");
        assert_eq!(v["session_id"], "0123456789ab");
    }
}
