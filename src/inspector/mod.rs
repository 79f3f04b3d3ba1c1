//! The request inspector and the key pools' state, in the daemon's memory: each proxy
//! reports its requests ([`InspectedRequest`]) and its pool's state ([`PoolState`]) in the
//! usage batches it already posts; the daemon keeps the last `keep` requests per profile
//! (the profile's `inspector.keep`, set at each start of its proxy) and the pool's last
//! state, and announces both on the bus (`proxy_requests`, `proxy_pool_changed`).
//!
//! Kept in memory, not stored: the inspector is for looking at what just happened; a
//! restarted daemon starts empty. Captured bodies are bounded per profile
//! ([`MAX_BYTES`]): past that the oldest requests go first.

use std::collections::{HashMap, VecDeque};
use std::sync::Mutex;

use serde_json::json;

use crate::events::EventBus;
use crate::requests::{InspectedRequest, PoolState};

/// Requests kept for a profile whose proxy never said how many.
pub const DEFAULT_KEEP: usize = 100;
/// Text (bodies, errors) kept per profile at most.
pub const MAX_BYTES: usize = 64 * 1024 * 1024;

#[derive(Default)]
struct Kept {
    keep: usize,
    ring: VecDeque<InspectedRequest>,
    bytes: usize,
    pool: Option<PoolState>,
}

#[derive(Default)]
pub struct Inspector {
    inner: Mutex<Inner>,
}

#[derive(Default)]
struct Inner {
    profiles: HashMap<String, Kept>,
    /// The daemon's own numbering: increasing across proxy restarts.
    next: u64,
}

fn size(r: &InspectedRequest) -> usize {
    [&r.request_body, &r.response_body, &r.error]
        .iter()
        .map(|t| t.as_ref().map_or(0, String::len))
        .sum::<usize>()
        + 256
}

impl Inspector {
    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// How many requests to keep for `profile` (0: none).
    pub fn configure(&self, profile: &str, keep: usize) {
        let mut inner = self.lock();
        let k = inner.profiles.entry(profile.to_string()).or_default();
        k.keep = keep;
        trim(k);
    }

    /// Takes a batch from a proxy: keeps the requests, the pool's state, and announces
    /// them (requests without their bodies).
    /// `skipped` requests came before these and were left out by the proxy (more than
    /// the ring keeps in one batch): they take their numbers, so the ids still count the
    /// requests, and the announcement says how many were not shown.
    pub fn accept(
        &self,
        bus: &EventBus,
        requests: Vec<InspectedRequest>,
        pool: Option<PoolState>,
        skipped: u64,
    ) {
        let mut announce: HashMap<String, Vec<InspectedRequest>> = HashMap::new();
        let mut pool_changed = None;
        {
            let mut inner = self.lock();
            inner.next += skipped;
            for mut r in requests {
                inner.next += 1;
                r.id = inner.next;
                let k = inner
                    .profiles
                    .entry(r.profile.clone())
                    .or_insert_with(|| Kept {
                        keep: DEFAULT_KEEP,
                        ..Kept::default()
                    });
                if k.keep == 0 {
                    continue;
                }
                announce
                    .entry(r.profile.clone())
                    .or_default()
                    .push(r.summary());
                k.bytes += size(&r);
                k.ring.push_back(r);
                trim(k);
            }
            if let Some(p) = pool {
                let k = inner.profiles.entry(p.profile.clone()).or_default();
                if k.pool.as_ref().is_none_or(|old| !old.same_states(&p)) {
                    pool_changed = Some(p.clone());
                }
                k.pool = Some(p);
            }
        }
        for (profile, requests) in announce {
            let data = if skipped > 0 {
                json!({"profile": profile, "requests": requests, "skipped": skipped})
            } else {
                json!({"profile": profile, "requests": requests})
            };
            bus.publish("proxy_requests", data);
        }
        if let Some(p) = pool_changed {
            bus.publish(
                "proxy_pool_changed",
                json!({"profile": p.profile, "pool": view(&p)}),
            );
        }
    }

    /// The last `limit` requests of `profile` after id `after`, oldest first.
    pub fn requests(&self, profile: &str, limit: usize, after: u64) -> Vec<InspectedRequest> {
        let inner = self.lock();
        let Some(k) = inner.profiles.get(profile) else {
            return Vec::new();
        };
        let newer: Vec<&InspectedRequest> = k.ring.iter().filter(|r| r.id > after).collect();
        let skip = newer.len().saturating_sub(limit);
        newer.into_iter().skip(skip).cloned().collect()
    }

    /// The pool's state as the API shows it (a cool-down that ran out is `ready`).
    pub fn pool(&self, profile: &str) -> Option<serde_json::Value> {
        let inner = self.lock();
        inner
            .profiles
            .get(profile)
            .and_then(|k| k.pool.as_ref())
            .map(view)
    }

    /// A deleted profile's requests go with it.
    pub fn forget(&self, profile: &str) {
        self.lock().profiles.remove(profile);
    }
}

fn trim(k: &mut Kept) {
    while k.ring.len() > k.keep || (k.bytes > MAX_BYTES && !k.ring.is_empty()) {
        if let Some(r) = k.ring.pop_front() {
            k.bytes = k.bytes.saturating_sub(size(&r));
        }
    }
}

/// Members with their states as of now, and times as RFC 3339.
pub fn view(p: &PoolState) -> serde_json::Value {
    let now = jiff::Timestamp::now().as_millisecond();
    let iso = |ms: i64| {
        jiff::Timestamp::from_millisecond(ms)
            .map(crate::time::rfc3339)
            .ok()
    };
    let members: Vec<serde_json::Value> = p
        .members
        .iter()
        .map(|m| {
            let live = m.until_ms.filter(|u| *u > now);
            json!({
                "key": m.key,
                "key_hint": m.key_hint,
                "target": m.target,
                "model": m.model,
                "state": if live.is_some() { m.state.as_str() } else { "ready" },
                "until": live.and_then(iso),
                "reason": live.and(m.reason.clone()),
                "utilization": m.utilization,
                "last_status": m.last_status,
                "requests": m.requests,
                "failures": m.failures,
                "input_tokens": m.input_tokens,
                "output_tokens": m.output_tokens,
            })
        })
        .collect();
    json!({"observed_at": iso(p.at_ms), "members": members})
}

#[cfg(test)]
mod tests {
    use super::*;

    fn req(profile: &str, body: Option<&str>) -> InspectedRequest {
        InspectedRequest {
            profile: profile.into(),
            status: 200,
            request_body: body.map(String::from),
            ..InspectedRequest::default()
        }
    }

    #[test]
    fn keeps_the_last_n_numbered_in_order() {
        let i = Inspector::default();
        let bus = EventBus::new();
        i.configure("a", 3);
        i.accept(&bus, (0..5).map(|_| req("a", None)).collect(), None, 0);
        let got = i.requests("a", 10, 0);
        assert_eq!(got.iter().map(|r| r.id).collect::<Vec<_>>(), [3, 4, 5]);
        assert_eq!(i.requests("a", 1, 0)[0].id, 5);
        assert_eq!(i.requests("a", 10, 4).len(), 1);
        i.configure("a", 0);
        i.accept(&bus, vec![req("a", None)], None, 0);
        assert!(i.requests("a", 10, 0).is_empty());
        assert!(i.requests("b", 10, 0).is_empty());
    }

    #[test]
    fn requests_a_proxy_left_out_take_their_numbers_and_are_announced() {
        let i = Inspector::default();
        let bus = EventBus::new();
        let mut rx = bus.subscribe();
        i.configure("a", 2);
        i.accept(&bus, vec![req("a", None), req("a", None)], None, 7);
        let got = i.requests("a", 10, 0);
        assert_eq!(got.iter().map(|r| r.id).collect::<Vec<_>>(), [8, 9]);
        let ev = rx.try_recv().expect("an announcement");
        let json = serde_json::to_value(&ev).unwrap();
        assert_eq!(json["data"]["skipped"], 7, "{json}");
        assert_eq!(json["data"]["requests"].as_array().map(Vec::len), Some(2));
    }
}
