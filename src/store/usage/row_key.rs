//! The row key of an event in `usage_raw`.
//!
//! Most events are keyed by the 64-bit hash of their dedupe key ([`key_hash`]): the same
//! response read twice (a transcript re-read, a copy in another file) meets its first
//! copy there, wherever it came from. Their keys are spread over the whole range, so a
//! batch of new events writes as many b-tree pages as it has events, and the retention's
//! pruning leaves holes in every page.
//!
//! A proxy's events need no such meeting: each request's dedupe key is
//! `proxy:<the proxy process's random prefix>:<its request counter>`, made once, and only
//! the same batch sent again brings it back (with the same time). Those are keyed in time
//! order instead — the second since 2020 in the top bits, then the prefix's number in
//! this store (`usage_key_prefixes`, given when the store first sees it) and the counter:
//!
//! ```text
//! bit 62..31: seconds since 2020-01-01   30..20: prefix number mod 2048   19..0: counter mod 2^20
//! ```
//!
//! so a batch appends to the end of the table's time range (a few pages written, not one
//! per event) and the pruning frees whole pages. Two events share a key only if they
//! came in the same second from two proxy processes whose numbers are 2048 apart and
//! with counters 2^20 apart: a proxy would need a million requests in a second.

use std::collections::HashMap;

use rusqlite::{Transaction, params};

use super::key_hash;
use crate::store::StoreError;

/// 2020-01-01T00:00:00Z: keys count seconds from here (32 bits last past 2100).
const EPOCH: i64 = 1_577_836_800;

/// The numbers of the proxy prefixes met in one transaction.
#[derive(Debug, Default)]
pub(super) struct Prefixes(HashMap<String, i64>);

impl Prefixes {
    /// The row key of an event with this dedupe key, source and time.
    pub(super) fn key(
        &mut self,
        tx: &Transaction,
        dedupe_key: &str,
        source: &str,
        ts: i64,
    ) -> Result<i64, StoreError> {
        let Some((prefix, counter)) = proxy_parts(dedupe_key, source) else {
            return Ok(key_hash(dedupe_key));
        };
        let secs = ts - EPOCH;
        if !(0..1 << 32).contains(&secs) {
            return Ok(key_hash(dedupe_key));
        }
        let n = match self.0.get(prefix) {
            Some(&n) => n,
            None => {
                let n = number(tx, prefix)?;
                self.0.insert(prefix.to_owned(), n);
                n
            }
        };
        Ok(secs << 31 | (n & 0x7ff) << 20 | (counter & 0xf_ffff) as i64)
    }
}

/// `proxy:<prefix>:<counter>` of a proxy's event: the prefix and the counter.
fn proxy_parts<'a>(dedupe_key: &'a str, source: &str) -> Option<(&'a str, u64)> {
    if source != "proxy" {
        return None;
    }
    let (prefix, counter) = dedupe_key.strip_prefix("proxy:")?.rsplit_once(':')?;
    if prefix.is_empty() || counter.is_empty() || !counter.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    Some((prefix, counter.parse().ok()?))
}

/// The store's number for a proxy prefix, given on first sight.
fn number(tx: &Transaction, prefix: &str) -> Result<i64, StoreError> {
    tx.prepare_cached(
        "INSERT INTO usage_key_prefixes (prefix) VALUES (?1) ON CONFLICT DO NOTHING",
    )?
    .execute(params![prefix])?;
    Ok(tx
        .prepare_cached("SELECT id FROM usage_key_prefixes WHERE prefix = ?1")?
        .query_row(params![prefix], |r| r.get(0))?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_a_proxys_own_keys_are_parsed() {
        assert_eq!(proxy_parts("proxy:ab12:7", "proxy"), Some(("ab12", 7)));
        assert_eq!(proxy_parts("proxy:ab12:7", "claude"), None);
        assert_eq!(proxy_parts("proxy:ab12:x7", "proxy"), None);
        assert_eq!(proxy_parts("proxy::7", "proxy"), None);
        assert_eq!(proxy_parts("proxy:7", "proxy"), None);
        assert_eq!(proxy_parts("claude:msg_1", "proxy"), None);
    }
}
