//! One attempt at one pool member: the upstream request built for that target (URL, key,
//! model, translation), sent, and its answer classified or streamed back with the usage
//! tap and the inspector's entry.

use super::*;

impl Forwarder {
    pub(super) fn build(
        &self,
        parts: &hyper::http::request::Parts,
        target: &Target,
        index: usize,
        body: Bytes,
        path: Option<&str>,
    ) -> Option<Request<Bytes>> {
        let pq = match path {
            Some(p) => p,
            None => parts
                .uri
                .path_and_query()
                .map(|p| p.as_str())
                .unwrap_or("/"),
        };
        let uri = self.bases.get(index)?.as_ref()?.uri(pq)?;
        let mut req = Request::builder()
            .method(parts.method.clone())
            .uri(uri)
            .body(body)
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
        if target.auth_scheme == crate::proxy::oauth::SCHEME {
            crate::proxy::oauth::add_beta(headers);
        }
        Some(req)
    }

    #[allow(clippy::too_many_arguments)]
    pub(super) async fn attempt(
        &self,
        req: Request<Bytes>,
        member: usize,
        model: Option<String>,
        last: bool,
        translation: Option<Translation>,
        entry: &mut Option<Entry>,
        routing: &Routing<'_>,
    ) -> Result<Response<ProxyBody>, Failure> {
        let target = &self.plan.targets[member];
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
        if let Some(snapshot) = crate::proxy::limits::capture(
            &self.plan.profile,
            &target.provider,
            status,
            resp.headers(),
        ) {
            self.reporter.limits(snapshot);
        }
        // A pool turns to its next member even from its last: the pool's error then
        // names when one is back.
        if (!last || self.pool.active())
            && (status == StatusCode::TOO_MANY_REQUESTS || status.is_server_error())
        {
            let code = status.as_u16();
            self.pool.failed(member, code, Some(resp.headers()));
            let said = match tokio::time::timeout(
                ERROR_WAIT,
                Limited::new(resp.into_body(), ERROR_READ).collect(),
            )
            .await
            {
                Ok(Ok(b)) => String::from_utf8_lossy(&b.to_bytes()).into_owned(),
                _ => String::new(),
            };
            return Err(Failure::Status(
                code,
                format!("{} answered {code}: {said}", target.provider),
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
        self.pool.answered(
            member,
            head.status.as_u16(),
            &head.headers,
            routing.preferred,
            routing.conversation,
        );
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
        let mut entry = entry.take();
        if let Some(e) = entry.as_mut() {
            e.answering(
                member,
                &target.provider,
                model.as_deref(),
                target.key_hint.as_deref(),
                head.status.as_u16(),
            );
            e.streamed(
                translated
                    .or(content_type)
                    .is_some_and(|c| c.starts_with("text/event-stream")),
            );
        }
        let ctx = ReportCtx {
            reporter: self.reporter.clone(),
            profile: self.plan.profile.clone(),
            agent: self.plan.agent.clone(),
            provider: target.provider.clone(),
            model,
            status: head.status.as_u16(),
            started: began,
            ttfb: Some(ttfb),
            entry,
            key_label: self.pool.key(member).to_string(),
            key_hint: target.key_hint.clone(),
        };
        let body = TapBody::new(first, body, timeouts.idle(), tap, ctx, translator).boxed();
        let mut out = Response::new(body);
        *out.status_mut() = head.status;
        let mut headers = head.headers;
        strip_hop_by_hop(&mut headers);
        *out.headers_mut() = headers;
        if let Some(content_type) = translated {
            out.headers_mut().remove(header::CONTENT_LENGTH);
            out.headers_mut()
                .insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
        }
        Ok(out)
    }
}
