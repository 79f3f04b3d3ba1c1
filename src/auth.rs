//! The daemon's access token: 32 random bytes, hex-encoded, in `<state>/token` (0600).
//!
//! Created on first start and kept across restarts. Compared in constant time. Its
//! `Debug` never shows the value. A request presents it as `Authorization: Bearer` or in
//! the session cookie ([`authorized`]).

use std::io;
use std::path::Path;

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

/// Whether the request carries the token, as a bearer header or the session cookie.
pub fn authorized(token: &Token, headers: &HeaderMap) -> bool {
    let bearer = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|auth| auth.strip_prefix("Bearer "));
    if let Some(presented) = bearer {
        return token.matches(presented.trim());
    }
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|kv| kv.trim().split_once('='))
        .any(|(k, v)| k == COOKIE_NAME && token.matches(v))
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
}
