//! One request through the proxy: check the local token, refuse it while a budget's
//! hard stop is in force ([`super::control`]), choose the route (the first routing rule
//! the request matches, else the default), rewrite the model if a rule or an alias says
//! so, and try the pool's members in order until one answers.
//!
//! A member is abandoned for the next one on a connection error, a timeout, or a 429,
//! 529 or other 5xx status — and only while nothing has been sent to the agent: the
//! response head is held back until the first body frame has arrived, so even a body
//! that breaks before its first byte still falls back. Once a frame went out, the stream
//! belongs to that member. With a single target, its error status passes through as it
//! is, and a transport failure is a 502 (504 for a timeout); with a pool (`pool.rs`), a
//! failed member cools down, and when every member is cooling the agent gets one error
//! naming the soonest back (`reply::exhausted`).

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use http_body_util::{BodyExt, Limited};
use hyper::body::{Bytes, Frame, Incoming};
use hyper::header::{self, HeaderMap, HeaderName, HeaderValue};
use hyper::{Request, Response, StatusCode};

use super::body::{ProxyBody, ReportCtx, TapBody};
use super::client::Client;
use super::control::{Gate, is_openai_path, refusal};
use super::failure::{Failure, classify};
use super::inspect::{Entry, Redactor};
use super::plan::{Plan, Target};
use super::pool::{Order, Pool};
use super::reply::{copy_headers, error, json_response, strip_hop_by_hop};
use super::report::Reporter;
use super::translate::{self, Route, Translation, Translator};
use super::upstream::Base;
use super::usage_tap::UsageTap;
use crate::auth::constant_time_eq;

mod attempt;

/// Largest request body accepted (requests carry images and long conversations).
const MAX_REQUEST: usize = 64 * 1024 * 1024;
/// How much of a refused attempt's error body is read for the inspector, and how long.
const ERROR_READ: usize = 8 * 1024;
const ERROR_WAIT: Duration = Duration::from_millis(500);

pub struct Forwarder {
    plan: Plan,
    gate: Arc<Gate>,
    auth: Vec<Option<(HeaderName, HeaderValue)>>,
    client: Client,
    /// Each target's base URL, taken apart once (None: not a valid URL).
    bases: Vec<Option<Base>>,
    reporter: Reporter,
    pool: Arc<Pool>,
    redactor: Arc<Redactor>,
    next_id: AtomicU64,
}

/// What a request was routed by: the rule's provider and the conversation.
struct Routing<'a> {
    preferred: Option<&'a str>,
    conversation: Option<&'a str>,
}

impl Forwarder {
    pub fn new(plan: Plan, reporter: Reporter, gate: Arc<Gate>) -> Result<Self, String> {
        let mut auth = Vec::new();
        for t in &plan.targets {
            auth.push(match &t.key {
                None => None,
                Some(key) => {
                    let bearer = t.auth_scheme == "bearer" || t.auth_scheme == super::oauth::SCHEME;
                    let (name, value) = if bearer {
                        (header::AUTHORIZATION, format!("Bearer {key}"))
                    } else {
                        (HeaderName::from_static("x-api-key"), key.clone())
                    };
                    let mut value = HeaderValue::from_str(&value)
                        .map_err(|_| format!("the key for {} is not a valid header", t.provider))?;
                    value.set_sensitive(true);
                    Some((name, value))
                }
            });
        }
        let client = Client::new(plan.timeouts.connect());
        let pool = Arc::new(Pool::new(&plan));
        if pool.active() {
            reporter.watch_pool(pool.clone());
        }
        reporter.set_inspector_keep(plan.inspector.keep);
        Ok(Self {
            bases: plan.targets.iter().map(Base::new).collect(),
            pool,
            redactor: Arc::new(Redactor::new(&plan)),
            plan,
            gate,
            auth,
            client,
            reporter,
            next_id: AtomicU64::new(1),
        })
    }

    pub fn plan(&self) -> &Plan {
        &self.plan
    }

    /// Forwards one request; a model request's outcome is reported for the attention
    /// states of the profile's sessions.
    pub async fn handle(&self, req: Request<Incoming>) -> Response<ProxyBody> {
        let path = req.uri().path();
        let model_call = req.method() == hyper::Method::POST
            && (path == "/v1/responses"
                || path == "/v1/chat/completions"
                || (path.starts_with("/v1/messages") && !path.contains("count_tokens")));
        let resp = self.forward(req).await;
        if model_call {
            let status = resp.status();
            let exhausted = resp
                .headers()
                .get("anthropic-ratelimit-unified-status")
                .is_some_and(|v| v.as_bytes() == b"rejected");
            let outcome = if status == StatusCode::TOO_MANY_REQUESTS || exhausted {
                Some("rate_limited")
            } else if status.is_server_error() {
                Some("failed")
            } else if status.is_success() {
                Some("ok")
            } else {
                None
            };
            if let Some(outcome) = outcome {
                self.reporter
                    .status(outcome == "ok", || crate::records::RequestStatus {
                        profile: self.plan.profile.clone(),
                        status: status.as_u16(),
                        outcome: outcome.into(),
                        message: (outcome != "ok")
                            .then(|| format!("the provider answered {}", status.as_u16())),
                    });
            }
        }
        resp
    }

    async fn forward(&self, req: Request<Incoming>) -> Response<ProxyBody> {
        let path = req.uri().path();
        if path == "/health" {
            let body = format!(
                "{{\"status\":\"ok\",\"profile\":{}}}",
                serde_json::Value::from(self.plan.profile.as_str())
            );
            return json_response(StatusCode::OK, body);
        }
        if !(path == "/v1" || path.starts_with("/v1/")) {
            return error(
                StatusCode::NOT_FOUND,
                "not_found_error",
                &format!("clown's proxy forwards /v1/* only, not {path}"),
            );
        }
        if !self.authorized(req.headers()) {
            return error(
                StatusCode::UNAUTHORIZED,
                "authentication_error",
                "invalid x-api-key: present this profile's local proxy token",
            );
        }
        // A budget's hard stop: answered here, nothing goes upstream.
        if let Some(stop) = self.gate.current() {
            let protocol = self
                .plan
                .targets
                .first()
                .map_or("", |t| t.protocol.as_str());
            let (status, body, retry) = refusal(&stop, is_openai_path(path, protocol));
            let mut resp = json_response(status, body);
            if let Some(secs) = retry {
                resp.headers_mut().insert(header::RETRY_AFTER, secs.into());
            }
            return resp;
        }
        let (parts, body) = req.into_parts();
        let body = match Limited::new(body, MAX_REQUEST).collect().await {
            Ok(b) => b.to_bytes(),
            Err(e) if e.is::<http_body_util::LengthLimitError>() => {
                return error(
                    StatusCode::PAYLOAD_TOO_LARGE,
                    "request_too_large",
                    &format!("request body over {MAX_REQUEST} bytes"),
                );
            }
            Err(e) => {
                return error(
                    StatusCode::BAD_REQUEST,
                    "invalid_request_error",
                    &format!("cannot read the request body: {e}"),
                );
            }
        };
        let probe = super::alias::probe(&body);
        // Rules and the pool need more of the request than its model.
        let facts = (self.pool.active() || !self.plan.routes.is_empty())
            .then(|| super::route::facts(&body));
        let rule = facts
            .as_ref()
            .and_then(|f| super::route::choose(&self.plan.routes, f));
        let routing = Routing {
            preferred: rule.map(|(_, r)| {
                r.provider_id
                    .as_deref()
                    .unwrap_or(self.plan.targets[0].provider.as_str())
            }),
            conversation: facts.as_ref().and_then(|f| f.conversation.as_deref()),
        };
        let mut entry = Entry::new(
            &self.plan,
            self.next_id.fetch_add(1, Ordering::Relaxed),
            parts.method.as_str(),
            parts.uri.path(),
            rule.map_or("default", |(_, r)| r.when.label()).to_string(),
            rule.map(|(i, _)| i),
            self.redactor.clone(),
            self.reporter.clone(),
            self.pool.clone(),
            &body,
        );
        let members = match self.pool.order(routing.preferred, routing.conversation) {
            Order::Try { members, sticky } => {
                entry.record.sticky = sticky;
                members
            }
            Order::Exhausted {
                key,
                until_ms,
                limited,
            } => {
                return self.exhausted(entry, parts.uri.path(), &key, until_ms, limited);
            }
        };
        let started = Instant::now();
        let n = members.len();
        let mut failure = Failure::Transport("no upstream target configured".into());
        let mut entry = Some(entry);
        for (k, &i) in members.iter().enumerate() {
            let target = &self.plan.targets[i];
            let last = k + 1 == n;
            // A rule's model goes only to its own provider's members.
            let ruled = rule
                .filter(|_| routing.preferred == Some(target.provider.as_str()))
                .and_then(|(_, r)| r.model.clone());
            let model = ruled.or_else(|| target.model.clone()).or_else(|| {
                let requested = probe.as_ref()?.model.as_deref()?;
                self.plan.model_aliases.get(requested).cloned()
            });
            let up_body = match (&model, &probe) {
                (Some(m), Some(p)) => p.with_model(&body, m),
                _ => body.clone(),
            };
            let sent_model = model.or_else(|| probe.as_ref().and_then(|p| p.model.clone()));
            // A request the target takes in another API (see `translate`).
            let (up_body, path, translation) =
                match translate::route(target, &parts.method, parts.uri.path(), up_body) {
                    Ok(Route::Upstream {
                        body,
                        path,
                        translation,
                    }) => (body, path, translation),
                    Ok(Route::Local(status, body)) => {
                        if let Some(e) = entry.take() {
                            e.local(status.as_u16(), "");
                        }
                        return json_response(status, body);
                    }
                    Err(e) => {
                        if let Some(en) = entry.take() {
                            en.local(400, &e);
                        }
                        return error(StatusCode::BAD_REQUEST, "invalid_request_error", &e);
                    }
                };
            let Some(up) = self.build(&parts, target, i, up_body, path) else {
                failure = Failure::Transport(format!("bad upstream URL for {}", target.provider));
                continue;
            };
            let began = Instant::now();
            let res = self
                .attempt(up, i, sent_model, last, translation, &mut entry, &routing)
                .await;
            let f = match res {
                Ok(resp) => return resp,
                Err(f) => f,
            };
            self.reporter.request(super::report::Attempt {
                profile: &self.plan.profile,
                target: &target.provider,
                status: f.status(),
                duration: began.elapsed(),
                ttfb: None,
            });
            if !matches!(f, Failure::Status(..)) {
                self.pool.failed(i, 0, None);
            }
            if let Some(e) = entry.as_mut() {
                e.failed(i, &target.provider, f.status(), f.message());
            }
            let what = f.message();
            if last {
                tracing::warn!("{} {}: {what}", parts.method, parts.uri.path());
            } else {
                let next = &self.plan.targets[members[k + 1]];
                tracing::warn!(
                    "{} {}: {what}; trying {} ({})",
                    parts.method,
                    parts.uri.path(),
                    self.pool.key(members[k + 1]),
                    next.provider
                );
            }
            failure = f;
        }
        let Some(entry) = entry else {
            return error(StatusCode::BAD_GATEWAY, "api_error", failure.message());
        };
        if self.pool.active()
            && let Order::Exhausted {
                key,
                until_ms,
                limited,
            } = self.pool.order(routing.preferred, None)
        {
            return self.exhausted(entry, parts.uri.path(), &key, until_ms, limited);
        }
        let waited = started.elapsed().as_millis();
        let (status, message) = match failure {
            Failure::Timeout(m) => (
                StatusCode::GATEWAY_TIMEOUT,
                format!("upstream timed out after {waited} ms: {m}"),
            ),
            Failure::Transport(m) | Failure::Status(_, m) => (
                StatusCode::BAD_GATEWAY,
                format!("upstream unreachable: {m}"),
            ),
        };
        entry.local(status.as_u16(), &message);
        error(status, "api_error", &message)
    }

    fn exhausted(
        &self,
        entry: Entry,
        path: &str,
        key: &str,
        until_ms: i64,
        limited: bool,
    ) -> Response<ProxyBody> {
        let (resp, body) =
            super::reply::exhausted(path, &self.plan.profile, key, until_ms, limited);
        tracing::warn!("{path}: {body}");
        entry.local(resp.status().as_u16(), &body);
        resp
    }

    fn authorized(&self, h: &HeaderMap) -> bool {
        let token = self.plan.local_token.as_bytes();
        let api_key = h.get("x-api-key").map(HeaderValue::as_bytes);
        let bearer = h
            .get(header::AUTHORIZATION)
            .and_then(|v| v.as_bytes().strip_prefix(b"Bearer "));
        [api_key, bearer]
            .into_iter()
            .flatten()
            .any(|p| constant_time_eq(p, token))
    }
}
