//! One request through the proxy: check the local token, refuse it while a budget's
//! hard stop is in force ([`super::control`]), rewrite the model if an alias says so,
//! and try the targets in order until one answers.
//!
//! A target is abandoned for the next one on a connection error, a timeout, or a 429,
//! 529 or other 5xx status — and only while nothing has been sent to the agent: the
//! response head is held back until the first body frame has arrived, so even a body
//! that breaks before its first byte still falls back. Once a frame went out, the stream
//! belongs to that target. When the last target fails at transport level the agent gets
//! an Anthropic-style error: 502, or 504 for a timeout; an upstream error status from the
//! last target is passed through as it is.

use std::sync::Arc;
use std::time::{Duration, Instant};

use http_body_util::{BodyExt, Full, Limited};
use hyper::body::{Bytes, Frame, Incoming};
use hyper::header::{self, HeaderMap, HeaderName, HeaderValue};
use hyper::{Request, Response, StatusCode};
use hyper_util::client::legacy::Client;

use super::body::{ProxyBody, ReportCtx, TapBody};
use super::control::{Gate, is_openai_path, refusal};
use super::plan::{Plan, Target};
use super::report::Reporter;
use super::translate::{self, Route, Translation, Translator};
use super::upstream::{Connector, connector, target_uri};
use super::usage_tap::UsageTap;
use crate::auth::constant_time_eq;

/// Largest request body accepted (requests carry images and long conversations).
const MAX_REQUEST: usize = 64 * 1024 * 1024;

pub struct Forwarder {
    plan: Plan,
    gate: Arc<Gate>,
    auth: Vec<Option<(HeaderName, HeaderValue)>>,
    client: Client<Connector, Full<Bytes>>,
    reporter: Reporter,
}

/// Why an attempt at one target failed before anything reached the agent.
enum Failure {
    Transport(String),
    Timeout(String),
    /// An error status (429, 5xx) from a target with another after it.
    Status(u16, String),
}

impl Failure {
    /// The status counted for the attempt in `/metrics` (what the agent would have got).
    fn status(&self) -> u16 {
        match self {
            Failure::Transport(_) => 502,
            Failure::Timeout(_) => 504,
            Failure::Status(s, _) => *s,
        }
    }
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
        let client = Client::builder(hyper_util::rt::TokioExecutor::new())
            .pool_idle_timeout(Duration::from_secs(90))
            .build(connector(plan.timeouts.connect()));
        Ok(Self {
            plan,
            gate,
            auth,
            client,
            reporter,
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
                self.reporter.status(crate::records::RequestStatus {
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
        let started = Instant::now();
        let n = self.plan.targets.len();
        let mut failure = Failure::Transport("no upstream target configured".into());
        for (i, target) in self.plan.targets.iter().enumerate() {
            let last = i + 1 == n;
            let model = target.model.clone().or_else(|| {
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
                    Ok(Route::Local(status, body)) => return json_response(status, body),
                    Err(e) => return error(StatusCode::BAD_REQUEST, "invalid_request_error", &e),
                };
            let Some(up) = self.build(&parts, target, i, up_body, path) else {
                failure = Failure::Transport(format!("bad upstream URL for {}", target.provider));
                continue;
            };
            let began = Instant::now();
            match self
                .attempt(up, target, sent_model, last, translation)
                .await
            {
                Ok(resp) => return resp,
                Err(f) => {
                    self.reporter.request(crate::records::ProxyRequest {
                        profile: self.plan.profile.clone(),
                        target: target.provider.clone(),
                        status: f.status(),
                        duration_seconds: began.elapsed().as_secs_f64(),
                        ttfb_seconds: None,
                    });
                    let what = match &f {
                        Failure::Transport(m) | Failure::Timeout(m) | Failure::Status(_, m) => {
                            m.clone()
                        }
                    };
                    if last {
                        tracing::warn!("{} {}: {what}", parts.method, parts.uri.path());
                    } else {
                        tracing::warn!(
                            "{} {}: {what}; falling back to target {} ({})",
                            parts.method,
                            parts.uri.path(),
                            i + 1,
                            self.plan.targets[i + 1].provider
                        );
                    }
                    failure = f;
                }
            }
        }
        let waited = started.elapsed().as_millis();
        match failure {
            Failure::Timeout(m) => error(
                StatusCode::GATEWAY_TIMEOUT,
                "api_error",
                &format!("upstream timed out after {waited} ms: {m}"),
            ),
            Failure::Transport(m) | Failure::Status(_, m) => error(
                StatusCode::BAD_GATEWAY,
                "api_error",
                &format!("upstream unreachable: {m}"),
            ),
        }
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

    fn build(
        &self,
        parts: &hyper::http::request::Parts,
        target: &Target,
        index: usize,
        body: Bytes,
        path: Option<&str>,
    ) -> Option<Request<Full<Bytes>>> {
        let pq = match path {
            Some(p) => p,
            None => parts
                .uri
                .path_and_query()
                .map(|p| p.as_str())
                .unwrap_or("/"),
        };
        let uri = target_uri(target, pq)?;
        let mut req = Request::builder()
            .method(parts.method.clone())
            .uri(uri)
            .body(Full::new(body))
            .ok()?;
        let headers = req.headers_mut();
        copy_headers(&parts.headers, headers, true);
        if path.is_some() {
            // Translated: the agent's API's own headers mean nothing to the target.
            let own: Vec<HeaderName> = headers
                .keys()
                .filter(|k| k.as_str().starts_with("anthropic-"))
                .cloned()
                .collect();
            for k in own {
                headers.remove(k);
            }
        }
        if let Some(Some((name, value))) = self.auth.get(index) {
            headers.insert(name.clone(), value.clone());
        }
        if target.auth_scheme == super::oauth::SCHEME {
            super::oauth::add_beta(headers);
        }
        Some(req)
    }

    async fn attempt(
        &self,
        req: Request<Full<Bytes>>,
        target: &Target,
        model: Option<String>,
        last: bool,
        translation: Option<Translation>,
    ) -> Result<Response<ProxyBody>, Failure> {
        let timeouts = self.plan.timeouts;
        let began = Instant::now();
        let resp = match tokio::time::timeout(timeouts.response(), self.client.request(req)).await {
            Err(_) => {
                return Err(Failure::Timeout(format!(
                    "{} sent no response within {:?}",
                    target.provider,
                    timeouts.response()
                )));
            }
            Ok(Err(e)) => return Err(classify(&target.provider, &e)),
            Ok(Ok(r)) => r,
        };
        let status = resp.status();
        if let Some(snapshot) =
            super::limits::capture(&self.plan.profile, &target.provider, status, resp.headers())
        {
            self.reporter.limits(snapshot);
        }
        if !last && (status == StatusCode::TOO_MANY_REQUESTS || status.is_server_error()) {
            return Err(Failure::Status(
                status.as_u16(),
                format!("{} answered {}", target.provider, status.as_u16()),
            ));
        }
        let (head, mut body) = resp.into_parts();
        // Nothing goes to the agent before the first body frame is here.
        let first: Option<Frame<Bytes>> =
            match tokio::time::timeout(timeouts.idle(), body.frame()).await {
                Err(_) => {
                    return Err(Failure::Timeout(format!(
                        "{} sent headers but no body within {:?}",
                        target.provider,
                        timeouts.idle()
                    )));
                }
                Ok(Some(Err(e))) => {
                    return Err(Failure::Transport(format!(
                        "{} broke off before the body: {e}",
                        target.provider
                    )));
                }
                Ok(Some(Ok(f))) => Some(f),
                Ok(None) => None,
            };
        let ttfb = began.elapsed();
        let content_type = head
            .headers
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok());
        let translator = translation
            .and_then(|t| Translator::new(t, head.status, content_type, &target.provider));
        // The tap reads what the agent gets: the translated answer, if translated.
        let translated = translator.as_ref().map(Translator::content_type);
        let tap = UsageTap::for_response(
            translated.or(content_type),
            head.headers
                .get(header::CONTENT_ENCODING)
                .and_then(|v| v.to_str().ok()),
        );
        let ctx = ReportCtx {
            reporter: self.reporter.clone(),
            profile: self.plan.profile.clone(),
            agent: self.plan.agent.clone(),
            provider: target.provider.clone(),
            model,
            status: head.status.as_u16(),
            started: began,
            ttfb: Some(ttfb),
        };
        let body = TapBody::new(first, body, timeouts.idle(), tap, ctx, translator).boxed();
        let mut out = Response::new(body);
        *out.status_mut() = head.status;
        copy_headers(&head.headers, out.headers_mut(), false);
        if let Some(content_type) = translated {
            out.headers_mut().remove(header::CONTENT_LENGTH);
            out.headers_mut()
                .insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
        }
        Ok(out)
    }
}

/// A connection error is a 502; a connect timeout a 504.
fn classify(provider: &str, e: &hyper_util::client::legacy::Error) -> Failure {
    let mut source: Option<&(dyn std::error::Error + 'static)> = Some(e);
    let mut detail = e.to_string();
    while let Some(s) = source {
        if let Some(io) = s.downcast_ref::<std::io::Error>() {
            detail = io.to_string();
            if io.kind() == std::io::ErrorKind::TimedOut {
                return Failure::Timeout(format!("connecting to {provider}: {detail}"));
            }
        }
        source = s.source();
    }
    Failure::Transport(format!("{provider}: {detail}"))
}

/// Headers a proxy must not forward (RFC 9110 §7.6.1), plus those the proxy replaces.
fn skip(name: &HeaderName, request: bool, listed: &[&str]) -> bool {
    matches!(
        name.as_str(),
        "connection"
            | "keep-alive"
            | "proxy-connection"
            | "proxy-authenticate"
            | "proxy-authorization"
            | "te"
            | "trailer"
            | "transfer-encoding"
            | "upgrade"
    ) || (request
        && matches!(
            name.as_str(),
            // The key is swapped; the length recomputed; and the usage tap must read the
            // response, so it comes back unencoded.
            "host" | "x-api-key" | "authorization" | "content-length" | "accept-encoding"
        ))
        || listed.iter().any(|l| name.as_str().eq_ignore_ascii_case(l))
}

fn copy_headers(from: &HeaderMap, to: &mut HeaderMap, request: bool) {
    let listed: Vec<&str> = from
        .get_all(header::CONNECTION)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(str::trim)
        .collect();
    for (name, value) in from {
        if !skip(name, request, &listed) {
            to.append(name.clone(), value.clone());
        }
    }
}

fn json_response(status: StatusCode, body: String) -> Response<ProxyBody> {
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
    let body = serde_json::json!({"type": "error", "error": {"type": kind, "message": message}});
    json_response(status, body.to_string())
}
