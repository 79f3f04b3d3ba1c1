//! The daemon's access token: 32 random bytes, hex-encoded, in `<state>/token` (0600).
//!
//! Created on first start and kept across restarts. Compared in constant time. Its
//! `Debug` never shows the value. A request presents it as `Authorization: Bearer` or in
//! the session cookie ([`authorized`]).
//!
//! Beside it, [`UsageTokens`]: one token per running proxy, `clown-usage-` and 64 hex
//! digits, held only in the daemon's memory and replaced at every start of that proxy.
//! It is all a proxy child gets towards the daemon: [`caller`] names it
//! [`Caller::Proxy`], which the request guard lets through to `POST /api/usage/record`
//! only, for the usage of its own profile.
//!
//! And an optional metrics token (`[metrics] token_file`): a scraper such as Prometheus
//! presents it as a bearer to read `GET /metrics` and nothing else ([`Caller::Metrics`]),
//! so it never holds the daemon's token.
//! And [`StatusKeys`]: a profile's status-line token, `clown-status-<alias>.<hex>`, an
//! HMAC-SHA256 of the alias under the daemon's token. The launch puts it in the agent's
//! environment (`CLOWN_STATUSLINE_TOKEN`) for `clown statusline`, which runs inside the
//! agent and must not hold the daemon's token: it is good for `POST /api/statusline` of
//! that profile only ([`Caller::Statusline`]). Nothing is stored: it is recomputed to be
//! checked, survives daemon restarts, and a new daemon token revokes every one.
//! And [`SessionTokens`]: one per terminal session, `clown-hook-` and 64 hex digits, given
//! to the session's agent (its hooks inherit it) and nothing else. [`caller`] names it
//! [`Caller::Hook`], which the guard lets through to that session's hook route only.
//! And [`share::ShareLinks`]: read-only links to one terminal session, with a lifetime
//! ([`Caller::Share`]: that session's share page and read-only WebSocket only).

pub mod share;

use std::collections::HashMap;
use std::io;
use std::path::Path;
use std::sync::{Arc, RwLock};

use axum::http::{HeaderMap, header};

use crate::paths::write_private_file;

/// The session cookie that `/login` sets.
pub const COOKIE_NAME: &str = "clown_session";

#[derive(Clone, PartialEq, Eq)]
pub struct Token(String);

impl std::fmt::Debug for Token {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Token(<redacted>)")
    }
}

impl Token {
    /// A fresh random token.
    pub fn generate() -> io::Result<Self> {
        let mut bytes = [0u8; 32];
        getrandom::fill(&mut bytes).map_err(|e| io::Error::other(e.to_string()))?;
        Ok(Self(hex(&bytes)))
    }

    /// Reads the token at `path`, creating it (0600) when missing or empty.
    pub fn load_or_create(path: &Path) -> io::Result<Self> {
        match std::fs::read_to_string(path) {
            Ok(s) if !s.trim().is_empty() => return Ok(Self(s.trim().to_string())),
            Ok(_) => {}
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            Err(e) => return Err(e),
        }
        let token = Self::generate()?;
        write_private_file(path, format!("{}\n", token.0).as_bytes())?;
        Ok(token)
    }

    /// Reads an existing token (client side).
    pub fn read(path: &Path) -> io::Result<Self> {
        let s = std::fs::read_to_string(path)?;
        Ok(Self(s.trim().to_string()))
    }

    pub fn expose(&self) -> &str {
        &self.0
    }

    /// Constant-time comparison with a presented value.
    pub fn matches(&self, presented: &str) -> bool {
        constant_time_eq(self.0.as_bytes(), presented.as_bytes())
    }
}

pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Compares without an early exit, so timing does not reveal the matching prefix.
pub fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

pub fn bearer(headers: &HeaderMap) -> Option<&str> {
    headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|auth| auth.strip_prefix("Bearer "))
        .map(str::trim)
}

/// Whether the request carries the token, as a bearer header or the session cookie.
pub fn authorized(token: &Token, headers: &HeaderMap) -> bool {
    if let Some(presented) = bearer(headers) {
        return token.matches(presented);
    }
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|kv| kv.trim().split_once('='))
        .any(|(k, v)| k == COOKIE_NAME && token.matches(v))
}

/// The start of every usage token.
pub const USAGE_PREFIX: &str = "clown-usage-";

/// Who an authenticated request comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Caller {
    /// The daemon's token (the user): every route.
    Owner,
    /// A proxy child's usage token: recording the usage of `profile`, nothing else.
    Proxy { profile: String },
    /// The metrics token: `GET /metrics`, nothing else.
    Metrics,
    /// A status-line token: the status line of `profile`, nothing else.
    Statusline { profile: String },
    /// A terminal session's hook token: reporting that session's hook events, nothing else.
    Hook { session: String },
    /// A share link's token (in the path of `/share/…` and `/ws/share/…`): watching that
    /// session, nothing else.
    Share { session: String },
}

/// The start of every status-line token.
pub const STATUS_PREFIX: &str = "clown-status-";

/// Makes and checks status-line tokens. Cheap to clone.
#[derive(Clone)]
pub struct StatusKeys(ring::hmac::Key);

impl std::fmt::Debug for StatusKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("StatusKeys(<redacted>)")
    }
}

impl StatusKeys {
    pub fn new(token: &Token) -> Self {
        // A key of its own, so a status-line token says nothing of the daemon's.
        let derive = ring::hmac::Key::new(ring::hmac::HMAC_SHA256, token.0.as_bytes());
        let key = ring::hmac::sign(&derive, b"clown status-line tokens v1");
        Self(ring::hmac::Key::new(ring::hmac::HMAC_SHA256, key.as_ref()))
    }

    /// The token of `profile`.
    pub fn token(&self, profile: &str) -> String {
        let tag = ring::hmac::sign(&self.0, profile.as_bytes());
        format!("{STATUS_PREFIX}{profile}.{}", hex(tag.as_ref()))
    }

    /// The profile a presented token belongs to, checked in constant time.
    pub fn profile_of(&self, presented: &str) -> Option<String> {
        let rest = presented.strip_prefix(STATUS_PREFIX)?;
        let (profile, tag) = rest.rsplit_once('.')?;
        if profile.is_empty() || tag.len() != 64 {
            return None;
        }
        let bytes: Vec<u8> = (0..32)
            .map(|i| u8::from_str_radix(tag.get(i * 2..i * 2 + 2)?, 16).ok())
            .collect::<Option<_>>()?;
        ring::hmac::verify(&self.0, profile.as_bytes(), &bytes)
            .ok()
            .map(|()| profile.to_string())
    }
}

/// The start of every session hook token.
pub const HOOK_PREFIX: &str = "clown-hook-";

/// The hook tokens of the terminal sessions, by session id. Cheap to clone (shared).
#[derive(Clone, Default)]
pub struct SessionTokens(Arc<RwLock<HashMap<String, String>>>);

impl std::fmt::Debug for SessionTokens {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SessionTokens(<redacted>)")
    }
}

impl SessionTokens {
    /// A new token for `session`.
    pub fn issue(&self, session: &str) -> io::Result<String> {
        let token = format!("{HOOK_PREFIX}{}", Token::generate()?.0);
        self.insert(session, &token);
        Ok(token)
    }

    /// Accepts `token` for `session` again (a session adopted after a restart).
    pub fn insert(&self, session: &str, token: &str) {
        self.0
            .write()
            .unwrap_or_else(|p| p.into_inner())
            .insert(session.to_string(), token.to_string());
    }

    /// Forgets `session`'s token (it ended).
    pub fn revoke(&self, session: &str) {
        self.0
            .write()
            .unwrap_or_else(|p| p.into_inner())
            .remove(session);
    }

    /// The session whose token `presented` is. Every entry is compared in constant time.
    pub fn session_of(&self, presented: &str) -> Option<String> {
        let map = self.0.read().unwrap_or_else(|p| p.into_inner());
        let mut found = None;
        for (session, token) in map.iter() {
            if constant_time_eq(token.as_bytes(), presented.as_bytes()) {
                found = Some(session.clone());
            }
        }
        found
    }
}

/// The usage tokens of the proxies, by profile. Cheap to clone (shared).
#[derive(Clone, Default)]
pub struct UsageTokens(Arc<RwLock<HashMap<String, String>>>);

impl std::fmt::Debug for UsageTokens {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("UsageTokens(<redacted>)")
    }
}

impl UsageTokens {
    /// A new token for `profile`'s proxy; the one it had before stops working.
    pub fn issue(&self, profile: &str) -> io::Result<String> {
        let token = format!("{USAGE_PREFIX}{}", Token::generate()?.0);
        self.0
            .write()
            .unwrap_or_else(|p| p.into_inner())
            .insert(profile.to_string(), token.clone());
        Ok(token)
    }

    /// Forgets `profile`'s token (its profile is gone).
    pub fn revoke(&self, profile: &str) {
        self.0
            .write()
            .unwrap_or_else(|p| p.into_inner())
            .remove(profile);
    }

    /// The profile whose token `presented` is. Every entry is compared in constant time.
    pub fn profile_of(&self, presented: &str) -> Option<String> {
        let map = self.0.read().unwrap_or_else(|p| p.into_inner());
        let mut found = None;
        for (profile, token) in map.iter() {
            if constant_time_eq(token.as_bytes(), presented.as_bytes()) {
                found = Some(profile.clone());
            }
        }
        found
    }
}

/// Who the request comes from: the daemon's token (bearer or cookie), a usage, status-line,
/// hook or metrics token (bearer only), or nobody.
pub fn caller(
    token: &Token,
    usage: &UsageTokens,
    status: &StatusKeys,
    hooks: &SessionTokens,
    metrics: Option<&Token>,
    headers: &HeaderMap,
) -> Option<Caller> {
    if let Some(presented) = bearer(headers) {
        if presented.starts_with(USAGE_PREFIX) {
            return usage
                .profile_of(presented)
                .map(|profile| Caller::Proxy { profile });
        }
        if presented.starts_with(HOOK_PREFIX) {
            return hooks
                .session_of(presented)
                .map(|session| Caller::Hook { session });
        }
        if presented.starts_with(STATUS_PREFIX) {
            return status
                .profile_of(presented)
                .map(|profile| Caller::Statusline { profile });
        }
        if metrics.is_some_and(|m| m.matches(presented)) && !token.matches(presented) {
            return Some(Caller::Metrics);
        }
    }
    authorized(token, headers).then_some(Caller::Owner)
}

/// The metrics token from `path`: read, or created (0600, random) when missing. A token
/// shorter than 16 characters is refused: a scraper's credential must not be guessable.
pub fn metrics_token(path: &Path) -> io::Result<Token> {
    let token = Token::load_or_create(path)?;
    if token.0.len() < 16 {
        return Err(io::Error::other(format!(
            "the metrics token in {} is shorter than 16 characters",
            path.display()
        )));
    }
    Ok(token)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn token_is_64_hex_and_compares() {
        let t = Token::generate().unwrap();
        assert_eq!(t.expose().len(), 64);
        assert!(t.matches(t.expose()));
        assert!(!t.matches("nope"));
        assert_eq!(format!("{t:?}"), "Token(<redacted>)");
    }

    #[test]
    fn usage_tokens_name_their_profile_and_nothing_more() {
        let owner = Token::generate().unwrap();
        let usage = UsageTokens::default();
        let keys = StatusKeys::new(&owner);
        let caller = |o: &Token, u: &UsageTokens, m: Option<&Token>, h: &HeaderMap| {
            caller(o, u, &keys, &SessionTokens::default(), m, h)
        };
        let a = usage.issue("a").unwrap();
        assert!(a.starts_with(USAGE_PREFIX) && a.len() == USAGE_PREFIX.len() + 64);
        let headers = |v: &str| {
            let mut h = HeaderMap::new();
            h.insert(
                header::AUTHORIZATION,
                format!("Bearer {v}").parse().unwrap(),
            );
            h
        };
        assert_eq!(
            caller(&owner, &usage, None, &headers(&a)),
            Some(Caller::Proxy {
                profile: "a".into()
            })
        );
        assert_eq!(
            caller(&owner, &usage, None, &headers(owner.expose())),
            Some(Caller::Owner)
        );
        assert_eq!(
            caller(&owner, &usage, None, &headers("clown-usage-x")),
            None
        );
        let metrics = Token::generate().unwrap();
        assert_eq!(
            caller(&owner, &usage, Some(&metrics), &headers(metrics.expose())),
            Some(Caller::Metrics)
        );
        assert_eq!(
            caller(&owner, &usage, None, &headers(metrics.expose())),
            None
        );
        // A new start replaces the token; a deleted profile's is gone.
        let a2 = usage.issue("a").unwrap();
        assert_ne!(a, a2);
        assert_eq!(caller(&owner, &usage, None, &headers(&a)), None);
        usage.revoke("a");
        assert_eq!(caller(&owner, &usage, None, &headers(&a2)), None);
        // Never as a cookie.
        let mut cookie = HeaderMap::new();
        let a3 = usage.issue("a").unwrap();
        cookie.insert(
            header::COOKIE,
            format!("{COOKIE_NAME}={a3}").parse().unwrap(),
        );
        assert_eq!(caller(&owner, &usage, None, &cookie), None);
        assert_eq!(format!("{usage:?}"), "UsageTokens(<redacted>)");
    }

    #[test]
    fn status_line_tokens_name_their_profile_and_survive_restarts() {
        let owner = Token::generate().unwrap();
        let keys = StatusKeys::new(&owner);
        let t = keys.token("work.v2");
        assert!(t.starts_with("clown-status-work.v2."));
        assert_eq!(keys.profile_of(&t).as_deref(), Some("work.v2"));
        // The same daemon token after a restart: the same token works.
        assert_eq!(
            StatusKeys::new(&owner).profile_of(&t).as_deref(),
            Some("work.v2")
        );
        // Another profile's name on it, a changed tag, another daemon token: refused.
        let forged = t.replace("work.v2.", "home.");
        assert_eq!(keys.profile_of(&forged), None);
        let mut bad = t.clone();
        bad.pop();
        bad.push('0');
        assert!(keys.profile_of(&bad).is_none() || t.ends_with('0'));
        assert_eq!(
            StatusKeys::new(&Token::generate().unwrap()).profile_of(&t),
            None
        );
        assert!(!t.contains(owner.expose()));
        let mut h = HeaderMap::new();
        h.insert(
            header::AUTHORIZATION,
            format!("Bearer {t}").parse().unwrap(),
        );
        assert_eq!(
            caller(
                &owner,
                &UsageTokens::default(),
                &keys,
                &SessionTokens::default(),
                None,
                &h
            ),
            Some(Caller::Statusline {
                profile: "work.v2".into()
            })
        );
    }

    #[test]
    fn hook_tokens_name_their_session() {
        let owner = Token::generate().unwrap();
        let usage = UsageTokens::default();
        let hooks = SessionTokens::default();
        let t = hooks.issue("s1").unwrap();
        assert!(t.starts_with(HOOK_PREFIX) && t.len() == HOOK_PREFIX.len() + 64);
        let mut h = HeaderMap::new();
        h.insert(
            header::AUTHORIZATION,
            format!("Bearer {t}").parse().unwrap(),
        );
        assert_eq!(
            caller(&owner, &usage, &StatusKeys::new(&owner), &hooks, None, &h),
            Some(Caller::Hook {
                session: "s1".into()
            })
        );
        hooks.revoke("s1");
        assert_eq!(
            caller(&owner, &usage, &StatusKeys::new(&owner), &hooks, None, &h),
            None
        );
        hooks.insert("s1", &t);
        assert!(caller(&owner, &usage, &StatusKeys::new(&owner), &hooks, None, &h).is_some());
        let mut cookie = HeaderMap::new();
        cookie.insert(
            header::COOKIE,
            format!("{COOKIE_NAME}={t}").parse().unwrap(),
        );
        assert_eq!(
            caller(
                &owner,
                &usage,
                &StatusKeys::new(&owner),
                &hooks,
                None,
                &cookie
            ),
            None,
            "never as a cookie"
        );
    }
}
