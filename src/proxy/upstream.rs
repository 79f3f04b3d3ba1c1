//! The upstream side: the HTTP(S) connector and how an agent's `/v1/...` path maps onto a
//! target's base URL.
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

/// The upstream URI for the agent's `path_and_query` on `target`.
pub fn target_uri(target: &Target, path_and_query: &str) -> Option<Uri> {
    let base = target.base_url.trim_end_matches('/');
    let rest = if target.protocol == "openai" {
        match path_and_query.strip_prefix("/v1") {
            Some(r) if r.is_empty() || r.starts_with('/') || r.starts_with('?') => r,
            _ => path_and_query,
        }
    } else {
        path_and_query
    };
    format!("{base}{rest}").parse().ok()
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
    }
}
