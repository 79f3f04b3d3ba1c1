//! Read-only share links of terminal sessions.
//!
//! A link is `/share/<token>`, the token `clown-share-` and 64 hex digits, made for one
//! session with a lifetime (at most [`MAX_TTL_SECS`]). It opens that session's read-only
//! page and its read-only WebSocket (`/ws/share/<token>`) and nothing else: as a bearer
//! anywhere else it is refused (the guard answers 403), and it is never the daemon's
//! token nor derived from it. Links are held only in the daemon's memory: they end when
//! they expire, when they are revoked, and when the daemon exits (a restart revokes them
//! all; share again); a link whose session was removed shows nothing (its socket says
//! the session is not found). Connected viewers watch [`ShareLinks::changes`] and are
//! disconnected when their link goes.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};
use std::time::{Duration, SystemTime};

use serde::Serialize;
use tokio::sync::watch;

use super::{Token, constant_time_eq, hex};

/// The start of every share token.
pub const SHARE_PREFIX: &str = "clown-share-";
/// The longest a link may live: a week.
pub const MAX_TTL_SECS: u64 = 7 * 86_400;
/// A link's lifetime when none is asked for: an hour.
pub const DEFAULT_TTL_SECS: u64 = 3_600;
/// The most links alive at once (expired ones do not count).
pub const MAX_LINKS: usize = 256;

/// A link as the API shows it (never with its token, but at creation).
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct ShareLink {
    pub id: String,
    pub session_id: String,
    pub created_at: String,
    pub expires_at: String,
}

struct Entry {
    token: String,
    link: ShareLink,
    expires: SystemTime,
}

/// The live share links. Cheap to clone (shared).
#[derive(Clone)]
pub struct ShareLinks {
    links: Arc<RwLock<HashMap<String, Entry>>>,
    changed: Arc<watch::Sender<u64>>,
}

impl Default for ShareLinks {
    fn default() -> Self {
        Self {
            links: Arc::default(),
            changed: Arc::new(watch::Sender::new(0)),
        }
    }
}

impl std::fmt::Debug for ShareLinks {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ShareLinks(<redacted>)")
    }
}

fn iso(t: SystemTime) -> String {
    jiff::Timestamp::try_from(t)
        .map(|t| t.round(jiff::Unit::Second).unwrap_or(t).to_string())
        .unwrap_or_default()
}

/// What went wrong making a link.
#[derive(Debug, PartialEq, Eq)]
pub enum ShareError {
    TooMany,
    Random(String),
}

impl ShareLinks {
    /// A new link to `session` for `ttl`; answers its token and what the API shows of it.
    pub fn issue(&self, session: &str, ttl: Duration) -> Result<(String, ShareLink), ShareError> {
        let now = SystemTime::now();
        let mut links = self.links.write().unwrap_or_else(|p| p.into_inner());
        links.retain(|_, e| e.expires > now);
        if links.len() >= MAX_LINKS {
            return Err(ShareError::TooMany);
        }
        let token = Token::generate().map_err(|e| ShareError::Random(e.to_string()))?;
        let token = format!("{SHARE_PREFIX}{}", token.expose());
        let mut id = [0u8; 8];
        getrandom::fill(&mut id).map_err(|e| ShareError::Random(e.to_string()))?;
        let expires = now + ttl;
        let link = ShareLink {
            id: hex(&id),
            session_id: session.to_string(),
            created_at: iso(now),
            expires_at: iso(expires),
        };
        links.insert(
            link.id.clone(),
            Entry {
                token: token.clone(),
                link: link.clone(),
                expires,
            },
        );
        Ok((token, link))
    }

    /// The live link whose token `presented` is, with when it expires. Every entry is
    /// compared in constant time.
    pub fn find(&self, presented: &str) -> Option<(ShareLink, SystemTime)> {
        if !presented.starts_with(SHARE_PREFIX) {
            return None;
        }
        let now = SystemTime::now();
        let links = self.links.read().unwrap_or_else(|p| p.into_inner());
        let mut found = None;
        for e in links.values() {
            if constant_time_eq(e.token.as_bytes(), presented.as_bytes()) && e.expires > now {
                found = Some((e.link.clone(), e.expires));
            }
        }
        found
    }

    /// Whether the link `id` is still alive.
    pub fn alive(&self, id: &str) -> bool {
        let links = self.links.read().unwrap_or_else(|p| p.into_inner());
        links.get(id).is_some_and(|e| e.expires > SystemTime::now())
    }

    /// The live links of `session`, the oldest first.
    pub fn list(&self, session: &str) -> Vec<ShareLink> {
        let now = SystemTime::now();
        let links = self.links.read().unwrap_or_else(|p| p.into_inner());
        let mut out: Vec<_> = links
            .values()
            .filter(|e| e.link.session_id == session && e.expires > now)
            .map(|e| e.link.clone())
            .collect();
        out.sort_by(|a, b| (&a.created_at, &a.id).cmp(&(&b.created_at, &b.id)));
        out
    }

    /// Revokes `session`'s link `id` (every link of the session with `None`); answers how
    /// many went.
    pub fn revoke(&self, session: &str, id: Option<&str>) -> usize {
        let mut links = self.links.write().unwrap_or_else(|p| p.into_inner());
        let before = links.len();
        links.retain(|key, e| {
            e.link.session_id != session || id.is_some_and(|id| id != key.as_str())
        });
        let gone = before - links.len();
        drop(links);
        if gone > 0 {
            self.changed.send_modify(|n| *n += 1);
        }
        gone
    }

    /// Changes (revocations) that connected viewers check their link against.
    pub fn changes(&self) -> watch::Receiver<u64> {
        self.changed.subscribe()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_link_opens_its_session_until_it_expires_or_is_revoked() {
        let links = ShareLinks::default();
        let (t, link) = links.issue("s1", Duration::from_secs(60)).unwrap();
        assert!(t.starts_with(SHARE_PREFIX) && t.len() == SHARE_PREFIX.len() + 64);
        assert_eq!(links.find(&t).unwrap().0, link);
        assert!(links.find(&t[..t.len() - 1]).is_none());
        assert!(links.find("clown-hook-x").is_none());
        let (t2, l2) = links.issue("s2", Duration::from_secs(60)).unwrap();
        assert_eq!(links.list("s1"), vec![link.clone()]);
        let mut seen = links.changes();
        assert_eq!(links.revoke("s1", Some("nope")), 0);
        assert_eq!(
            links.revoke("s2", Some(&link.id)),
            0,
            "another session's link"
        );
        assert_eq!(links.revoke("s1", Some(&link.id)), 1);
        assert!(seen.has_changed().unwrap());
        seen.mark_unchanged();
        assert!(links.find(&t).is_none() && !links.alive(&link.id));
        assert_eq!(links.find(&t2).unwrap().0, l2);
        let (t3, _) = links.issue("s1", Duration::ZERO).unwrap();
        assert!(links.find(&t3).is_none(), "expired");
        assert_eq!(links.revoke("s2", None), 1);
        assert!(links.list("s2").is_empty());
        assert_eq!(format!("{links:?}"), "ShareLinks(<redacted>)");
    }

    #[test]
    fn links_are_bounded() {
        let links = ShareLinks::default();
        for _ in 0..MAX_LINKS {
            links.issue("s", Duration::from_secs(60)).unwrap();
        }
        assert_eq!(
            links.issue("s", Duration::from_secs(60)).unwrap_err(),
            ShareError::TooMany
        );
        links.revoke("s", None);
        assert!(links.issue("s", Duration::from_secs(60)).is_ok());
    }
}
