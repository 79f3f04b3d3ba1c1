//! What the API shows of a profile: the list entry and the detail view. The key is shown
//! only as `api_key_set` and at most its last four characters.

use std::path::Path;

use serde::Serialize;
use serde_json::{Value, json};

use super::{AuthMethod, auth_method, endpoint_url, proxy_settings, sandbox_settings};
use crate::registry::Catalogue;
use crate::store::profiles::ProfileRow;

/// `~/…` form of a path under the user's home, as the reference shows `profile_home`.
pub fn tilde(path: &str, user_home: &Path) -> String {
    match Path::new(path).strip_prefix(user_home) {
        Ok(rest) => format!("~/{}", rest.display()),
        Err(_) => path.to_string(),
    }
}

/// The list entry: the reference's fields plus a few a user needs.
#[derive(Serialize)]
pub struct Summary<'a> {
    alias: &'a str,
    agent_id: &'a str,
    provider_id: &'a str,
    endpoint_id: &'a str,
    model: &'a str,
    last_used: Option<&'a str>,
    base_url: Option<&'a str>,
    created_at: &'a str,
    proxy_enabled: bool,
    sandbox_enabled: bool,
    auth: &'a str,
}

/// Serialized straight from the row (no intermediate JSON tree): lists can be long.
pub fn summary(row: &ProfileRow) -> Summary<'_> {
    Summary {
        alias: &row.alias,
        agent_id: &row.agent_id,
        provider_id: &row.provider_id,
        endpoint_id: &row.endpoint_id,
        model: &row.model,
        last_used: row.last_used.as_deref(),
        base_url: row.base_url.as_deref(),
        created_at: &row.created_at,
        // The stored settings are compact JSON written by us; no need to parse them whole.
        proxy_enabled: row.proxy.contains("\"enabled\":true"),
        sandbox_enabled: row.sandbox.contains("\"enabled\":true"),
        auth: &row.auth,
    }
}

/// The detail view. `key_hint` (or `token_hint`) is at most the credential's last four
/// characters.
pub fn detail(
    row: &ProfileRow,
    cat: &Catalogue,
    user_home: &Path,
    credential: Option<&str>,
) -> Value {
    let provider = cat.provider(&row.provider_id);
    let token = auth_method(row) == AuthMethod::Token;
    let (key, tok) = if token {
        (None, credential)
    } else {
        (credential, None)
    };
    json!({
        "alias": row.alias,
        "agent_id": row.agent_id,
        "provider_id": row.provider_id,
        "endpoint_id": row.endpoint_id,
        "model": row.model,
        "created_at": row.created_at,
        "last_used": row.last_used,
        "profile_home": tilde(&row.profile_home, user_home),
        "base_url": row.base_url,
        "endpoint_url": endpoint_url(row, provider),
        "auth": row.auth,
        "api_key_set": key.is_some(),
        "api_key_hint": key.map(key_hint),
        "token_set": tok.is_some(),
        "token_hint": tok.map(key_hint),
        "proxy": proxy_settings(row),
        "sandbox": sandbox_settings(row),
    })
}

/// `…abcd`: the last four characters, only for keys long enough that this reveals little.
pub fn key_hint(key: &str) -> String {
    let n = key.chars().count();
    if n < 12 {
        return "…".to_string();
    }
    format!("…{}", key.chars().skip(n - 4).collect::<String>())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hints_reveal_little() {
        assert_eq!(key_hint("sk-1234567890abcd"), "…abcd");
        assert_eq!(key_hint("short"), "…");
    }
}
