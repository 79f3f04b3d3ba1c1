//! How an agent's `/v1/...` path maps onto a target's base URL, and the HTTP(S) connector
//! of the daemon's webhooks (the proxy's own requests go through [`super::client`]).
//!
//! TLS is rustls (ring provider) with the platform's root certificates; plain `http://`
//! targets (self-hosted gateways, tests) go without. Anthropic-style base URLs stop before
//! the version (`https://api.anthropic.com` + `/v1/messages`); OpenAI-style ones include
//! it (`https://api.openai.com/v1` + `/responses`), so the agent's leading `/v1` is dropped.

use std::time::Duration;

use hyper::Uri;
use hyper_rustls::{HttpsConnector, HttpsConnectorBuilder};
use hyper_util::client::legacy::connect::HttpConnector;

use super::plan::Target;

pub type Connector = HttpsConnector<HttpConnector>;

pub fn connector(connect_timeout: Duration) -> Connector {
    let mut http = HttpConnector::new();
    http.enforce_http(false);
    http.set_connect_timeout(Some(connect_timeout));
    http.set_nodelay(true);
    let builder = match HttpsConnectorBuilder::new().with_native_roots() {
        Ok(b) => b,
        Err(e) => {
            tracing::warn!("no platform root certificates ({e}); https upstreams will fail");
            let config = rustls::ClientConfig::builder()
                .with_root_certificates(rustls::RootCertStore::empty())
                .with_no_client_auth();
            HttpsConnectorBuilder::new().with_tls_config(config)
        }
    };
    builder.https_or_http().enable_http1().wrap_connector(http)
}

/// A target's base URL taken apart once, so that each request only joins its path.
#[derive(Clone, Debug)]
pub struct Base {
    scheme: hyper::http::uri::Scheme,
    authority: hyper::http::uri::Authority,
    /// The base's path without its trailing slash ("" for none).
    path: String,
    openai: bool,
}

impl Base {
    pub fn new(target: &Target) -> Option<Self> {
        let uri: Uri = target.base_url.trim_end_matches('/').parse().ok()?;
        let parts = uri.into_parts();
        Some(Self {
            scheme: parts.scheme?,
            authority: parts.authority?,
            path: parts
                .path_and_query
                .map(|p| p.as_str().trim_end_matches('/').to_string())
                .unwrap_or_default(),
            openai: target.protocol == "openai",
        })
    }

    /// The URI for the agent's `path_and_query`.
    pub fn uri(&self, path_and_query: &str) -> Option<Uri> {
        let rest = if self.openai {
            match path_and_query.strip_prefix("/v1") {
                Some(r) if r.is_empty() || r.starts_with('/') || r.starts_with('?') => r,
                _ => path_and_query,
            }
        } else {
            path_and_query
        };
        let mut path = String::with_capacity(self.path.len() + rest.len() + 1);
        path.push_str(&self.path);
        path.push_str(rest);
        if path.is_empty() || path.starts_with('?') {
            path.insert(0, '/');
        }
        let mut parts = hyper::http::uri::Parts::default();
        parts.scheme = Some(self.scheme.clone());
        parts.authority = Some(self.authority.clone());
        parts.path_and_query = Some(path.parse().ok()?);
        Uri::from_parts(parts).ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn target(protocol: &str, base: &str) -> Target {
        Target {
            provider: "p".into(),
            protocol: protocol.into(),
            base_url: base.into(),
            auth_scheme: "bearer".into(),
            key: None,
            model: None,
            responses_via_chat: false,
            messages_via_chat: false,
            key_label: None,
            key_hint: None,
        }
    }

    #[test]
    fn paths_map_onto_base_urls() {
        let target_uri = |t: &Target, pq: &str| Base::new(t)?.uri(pq);
        let a = target("anthropic", "https://api.z.ai/api/anthropic/");
        assert_eq!(
            target_uri(&a, "/v1/messages?beta=true")
                .unwrap()
                .to_string(),
            "https://api.z.ai/api/anthropic/v1/messages?beta=true"
        );
        let o = target("openai", "https://api.z.ai/api/paas/v4");
        assert_eq!(
            target_uri(&o, "/v1/chat/completions").unwrap().to_string(),
            "https://api.z.ai/api/paas/v4/chat/completions"
        );
        assert_eq!(
            target_uri(&o, "/v1x/y").unwrap().to_string(),
            "https://api.z.ai/api/paas/v4/v1x/y"
        );
        let bare = target("openai", "http://127.0.0.1:8080/");
        assert_eq!(
            target_uri(&bare, "/v1?x=1").unwrap().to_string(),
            "http://127.0.0.1:8080/?x=1"
        );
        assert_eq!(
            target_uri(&bare, "/v1/models").unwrap().to_string(),
            "http://127.0.0.1:8080/models"
        );
        assert!(target_uri(&target("openai", "not a url"), "/v1").is_none());
    }
}
