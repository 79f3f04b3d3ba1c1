//! A subscription's OAuth token towards Anthropic (target `auth_scheme = "oauth"`): sent
//! as `Authorization: Bearer`, and the request's `anthropic-beta` header must name
//! `oauth-2025-04-20`, or Anthropic refuses the token. The agent talks to the proxy with
//! its local token (as a key), so whatever betas it asked for are kept and this one added.

use hyper::header::{HeaderMap, HeaderValue};

pub const SCHEME: &str = "oauth";
pub const BETA: &str = "oauth-2025-04-20";

/// Adds [`BETA`] to the `anthropic-beta` header unless one of its values names it.
pub fn add_beta(headers: &mut HeaderMap) {
    let present: Vec<String> = headers
        .get_all("anthropic-beta")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(|b| b.trim().to_string())
        .filter(|b| !b.is_empty())
        .collect();
    if present.iter().any(|b| b == BETA) {
        return;
    }
    let mut all = present;
    all.push(BETA.to_string());
    if let Ok(v) = HeaderValue::from_str(&all.join(",")) {
        headers.insert("anthropic-beta", v);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_beta_is_added_once_and_others_kept() {
        let mut h = HeaderMap::new();
        add_beta(&mut h);
        assert_eq!(h["anthropic-beta"], BETA);
        let mut h = HeaderMap::new();
        h.insert(
            "anthropic-beta",
            HeaderValue::from_static("claude-code-20250219, x"),
        );
        add_beta(&mut h);
        assert_eq!(
            h["anthropic-beta"],
            "claude-code-20250219,x,oauth-2025-04-20"
        );
        add_beta(&mut h);
        assert_eq!(h.get_all("anthropic-beta").iter().count(), 1);
        assert_eq!(
            h["anthropic-beta"],
            "claude-code-20250219,x,oauth-2025-04-20"
        );
    }
}
