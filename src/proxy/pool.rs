//! The profile's keys taking turns: every plan target is a pool member (the profile's own
//! key, its pool keys, its fallbacks), tried in the plan's order, with what the answers
//! said of each.
//!
//! - A member that answers 429, 529 or 5xx (before anything reached the agent) cools
//!   down until its `Retry-After`, or the reset time of the limit it hit
//!   (`anthropic-ratelimit-*-reset`, `x-ratelimit-reset-*`), or for the profile's
//!   `cooldown_secs`; meanwhile it is not tried.
//! - A member whose rate-limit window is used over `skip_utilization` (every Anthropic
//!   answer carries `anthropic-ratelimit-unified-<window>-utilization`), or has no request
//!   left in its window, gets no new conversation until that window resets; it is still
//!   tried last, before giving up.
//! - A conversation (see `route::Facts::conversation`) stays on the member that last
//!   answered it while that member is not cooling: prompt caches and Codex's encrypted
//!   reasoning live with one key.
//!
//! With one member there is nothing to take turns with: no cool-down, errors pass as
//! they are. Times are wall-clock Unix milliseconds (they are shown and reported).

use std::collections::{HashMap, VecDeque};
use std::sync::Mutex;

use hyper::header::HeaderMap;

use super::cooldown::{cooldown_from, describe, utilization, window_full};
use super::plan::{Plan, PoolSettings};
use crate::requests::{PoolMember, PoolState};

/// Conversations remembered (the oldest forgotten first).
const STICKY: usize = 10_000;

pub fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

struct Fixed {
    key: String,
    hint: Option<String>,
    target: String,
    model: Option<String>,
}

#[derive(Default, Clone)]
struct Live {
    cooling_until: Option<i64>,
    skip_until: Option<i64>,
    reason: Option<String>,
    utilization: Option<f64>,
    last_status: Option<u16>,
    requests: u64,
    failures: u64,
    input_tokens: u64,
    output_tokens: u64,
}

struct Inner {
    live: Vec<Live>,
    sticky: HashMap<String, usize>,
    order: VecDeque<String>,
    /// Something changed since the last report.
    dirty: bool,
}

pub struct Pool {
    profile: String,
    fixed: Vec<Fixed>,
    settings: PoolSettings,
    inner: Mutex<Inner>,
}

/// Which members a request tries, in order.
pub enum Order {
    Try {
        members: Vec<usize>,
        /// The first one is the conversation's earlier key.
        sticky: bool,
    },
    /// Every member is cooling: the soonest one's label and when it is back, and
    /// whether a rate limit (a 429) put one of them there.
    Exhausted {
        key: String,
        until_ms: i64,
        limited: bool,
    },
}

impl Pool {
    pub fn new(plan: &Plan) -> Self {
        let fixed = plan
            .targets
            .iter()
            .map(|t| Fixed {
                key: t.key_label.clone().unwrap_or_else(|| match t.key {
                    Some(_) => "primary".into(),
                    None => "none".into(),
                }),
                hint: t.key_hint.clone(),
                target: t.provider.clone(),
                model: t.model.clone(),
            })
            .collect::<Vec<_>>();
        let live = vec![Live::default(); fixed.len()];
        Self {
            profile: plan.profile.clone(),
            fixed,
            settings: plan.pool,
            inner: Mutex::new(Inner {
                live,
                sticky: HashMap::new(),
                order: VecDeque::new(),
                dirty: true,
            }),
        }
    }

    /// More than one member: keys take turns.
    pub fn active(&self) -> bool {
        self.fixed.len() > 1
    }

    pub fn key(&self, i: usize) -> &str {
        &self.fixed[i].key
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The members to try for a request: those of `preferred` (a rule's provider) first,
    /// then the rest, in plan order; the conversation's member first while it is not
    /// cooling; members over their window's threshold after the others; cooling ones not
    /// at all.
    pub fn order(&self, preferred: Option<&str>, conversation: Option<&str>) -> Order {
        let all: Vec<usize> = (0..self.fixed.len()).collect();
        if !self.active() {
            return Order::Try {
                members: all,
                sticky: false,
            };
        }
        let now = now_ms();
        let mut inner = self.lock();
        let mut changed = false;
        for l in inner.live.iter_mut() {
            if l.cooling_until.is_some_and(|u| u <= now) {
                l.cooling_until = None;
                l.reason = None;
                changed = true;
            }
            if l.skip_until.is_some_and(|u| u <= now) {
                l.skip_until = None;
                changed = true;
            }
        }
        inner.dirty |= changed;
        let mut ranked: Vec<usize> = match preferred {
            Some(p) => all
                .iter()
                .copied()
                .filter(|&i| self.fixed[i].target == p)
                .chain(all.iter().copied().filter(|&i| self.fixed[i].target != p))
                .collect(),
            None => all,
        };
        ranked.retain(|&i| inner.live[i].cooling_until.is_none());
        if ranked.is_empty() {
            let (i, until) = inner
                .live
                .iter()
                .enumerate()
                .filter_map(|(i, l)| l.cooling_until.map(|u| (i, u)))
                .min_by_key(|(_, u)| *u)
                .unwrap_or((0, now));
            let limited = inner.live.iter().any(|l| l.last_status == Some(429));
            return Order::Exhausted {
                key: self.fixed[i].key.clone(),
                until_ms: until,
                limited,
            };
        }
        // Stable: ready members keep their order ahead of skipped ones.
        ranked.sort_by_key(|&i| inner.live[i].skip_until.is_some());
        let sticky = conversation
            .and_then(|c| inner.sticky.get(&sticky_key(c, preferred)).copied())
            .and_then(|m| ranked.iter().position(|&i| i == m));
        if let Some(pos) = sticky {
            let m = ranked.remove(pos);
            ranked.insert(0, m);
        }
        Order::Try {
            members: ranked,
            sticky: sticky.is_some(),
        }
    }

    /// Member `i` answered (the answer goes to the agent): what its headers say of its
    /// window, and the conversation stays with it.
    pub fn answered(
        &self,
        i: usize,
        status: u16,
        headers: &HeaderMap,
        preferred: Option<&str>,
        conversation: Option<&str>,
    ) {
        if !self.active() {
            return;
        }
        let now = now_ms();
        let mut inner = self.lock();
        let skip = window_full(headers, self.settings.skip_utilization, now);
        let l = &mut inner.live[i];
        l.requests += 1;
        l.last_status = Some(status);
        l.utilization = utilization(headers).or(l.utilization);
        match skip {
            Some((until, why)) => {
                l.skip_until = Some(until.unwrap_or(now + self.cooldown_ms()));
                l.reason = Some(why);
            }
            None => {
                l.skip_until = None;
                if l.cooling_until.is_none() {
                    l.reason = None;
                }
            }
        }
        inner.dirty = true;
        if let Some(c) = conversation {
            let k = sticky_key(c, preferred);
            if inner.sticky.insert(k.clone(), i).is_none() {
                inner.order.push_back(k);
                if inner.order.len() > STICKY
                    && let Some(old) = inner.order.pop_front()
                {
                    inner.sticky.remove(&old);
                }
            }
        }
    }

    /// Member `i` failed with `status` (0: no answer): it cools down.
    pub fn failed(&self, i: usize, status: u16, headers: Option<&HeaderMap>) {
        if !self.active() {
            return;
        }
        let now = now_ms();
        let (until, why) = headers
            .and_then(|h| cooldown_from(h, now))
            .unwrap_or_else(|| {
                (
                    now + self.cooldown_ms(),
                    format!(
                        "{}; cooling {} s",
                        describe(status),
                        self.settings.cooldown_secs
                    ),
                )
            });
        let mut inner = self.lock();
        let l = &mut inner.live[i];
        l.failures += 1;
        l.last_status = (status != 0).then_some(status);
        l.cooling_until = Some(until.max(now + 1));
        l.reason = Some(match status {
            0 => why,
            s => format!("{s}: {why}"),
        });
        if let Some(h) = headers {
            l.utilization = utilization(h).or(l.utilization);
        }
        inner.dirty = true;
    }

    /// The tokens member `i`'s answer used.
    pub fn tokens(&self, i: usize, input: u64, output: u64) {
        if !self.active() {
            return;
        }
        let mut inner = self.lock();
        let l = &mut inner.live[i];
        l.input_tokens = l.input_tokens.saturating_add(input);
        l.output_tokens = l.output_tokens.saturating_add(output);
        inner.dirty = true;
    }

    /// The pool's state, when something changed since the last call.
    pub fn report(&self) -> Option<PoolState> {
        if !self.active() {
            return None;
        }
        let mut inner = self.lock();
        if !inner.dirty {
            return None;
        }
        inner.dirty = false;
        let now = now_ms();
        let members = self
            .fixed
            .iter()
            .zip(&inner.live)
            .map(|(f, l)| {
                let cooling = l.cooling_until.filter(|u| *u > now);
                let skipped = l.skip_until.filter(|u| *u > now);
                let (state, until) = match (cooling, skipped) {
                    (Some(u), _) => ("cooling", Some(u)),
                    (None, Some(u)) => ("skipped", Some(u)),
                    _ => ("ready", None),
                };
                PoolMember {
                    key: f.key.clone(),
                    key_hint: f.hint.clone(),
                    target: f.target.clone(),
                    model: f.model.clone(),
                    state: state.into(),
                    until_ms: until,
                    reason: until.and(l.reason.clone()),
                    utilization: l.utilization,
                    last_status: l.last_status,
                    requests: l.requests,
                    failures: l.failures,
                    input_tokens: l.input_tokens,
                    output_tokens: l.output_tokens,
                }
            })
            .collect();
        Some(PoolState {
            profile: self.profile.clone(),
            at_ms: now,
            members,
        })
    }

    fn cooldown_ms(&self) -> i64 {
        self.settings.cooldown_secs.min(86_400) as i64 * 1000
    }
}

fn sticky_key(conversation: &str, preferred: Option<&str>) -> String {
    format!("{}\u{0}{conversation}", preferred.unwrap_or_default())
}
