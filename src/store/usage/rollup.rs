//! The rollup changes a transaction of event writes accumulates, applied once at its end:
//! per 15-minute bucket (`usage_buckets`, naming the pair by its id in `usage_names`) and
//! per local day (profile × model), and all-time totals (profile ×
//! agent × provider × model) and per label (a conversation's tokens); and the label ids
//! and the change number given in it.

use std::collections::HashMap;

use rusqlite::{OptionalExtension, Transaction, params};

use super::{BUCKET_SECS, UsageEvent, tokens_of};
use crate::store::StoreError;

#[derive(Debug, Clone, Copy, Default)]
pub(super) struct Delta {
    counts: [i64; 6],
    /// The four kinds of the requests over the long-context threshold.
    long: [i64; 4],
    events: i64,
    last_ts: i64,
    /// The earliest time met (for a label's bounds).
    min_ts: Option<i64>,
}

/// A hasher for the maps a commit fills per event (names and numbers it made itself, no
/// one else's keys): a multiply and a rotate per word, where the default hasher's rounds
/// were a tenth of an import's writes.
#[derive(Debug, Default, Clone, Copy)]
pub struct Fast(u64);

impl std::hash::Hasher for Fast {
    fn write(&mut self, bytes: &[u8]) {
        let mut words = bytes.chunks_exact(8);
        for w in &mut words {
            let mut b = [0u8; 8];
            b.copy_from_slice(w);
            self.add(u64::from_le_bytes(b));
        }
        let rest = words.remainder();
        if !rest.is_empty() {
            let mut b = [0u8; 8];
            b[..rest.len()].copy_from_slice(rest);
            self.add(u64::from_le_bytes(b) ^ (rest.len() as u64) << 59);
        }
    }
    fn write_u8(&mut self, n: u8) {
        self.add(u64::from(n));
    }
    fn write_u32(&mut self, n: u32) {
        self.add(u64::from(n));
    }
    fn write_u64(&mut self, n: u64) {
        self.add(n);
    }
    fn write_i64(&mut self, n: i64) {
        self.add(n as u64);
    }
    fn write_usize(&mut self, n: usize) {
        self.add(n as u64);
    }
    fn finish(&self) -> u64 {
        self.0.rotate_left(26)
    }
}

impl Fast {
    fn add(&mut self, w: u64) {
        self.0 = (self.0 ^ w).wrapping_mul(0xf135_7aea_2e62_a9c5);
    }
}

pub type FastMap<K, V> = HashMap<K, V, std::hash::BuildHasherDefault<Fast>>;

/// Rollup changes accumulated during a transaction, applied once at its end; the label
/// ids looked up in it; and the next change number (`rev`) to give an event, read once
/// per transaction.
#[derive(Debug, Default)]
pub struct Rollup {
    /// The names (profile, agent, provider, model) met in this transaction, each kept
    /// once: the sums below are keyed on their numbers, so adding an event allocates
    /// nothing.
    names: Vec<String>,
    name_ids: FastMap<String, u32>,
    /// Per (bucket, profile, model).
    deltas: FastMap<(i64, u32, u32), Delta>,
    /// All-time totals by (profile, agent, provider, model); unknown names are ''.
    totals: FastMap<(u32, u32, u32, u32), Delta>,
    /// Per label, by its eight names (each length-prefixed, in one string): its id and
    /// its first time (what its events' times are stored after).
    labels: FastMap<Vec<u8>, (i64, i64)>,
    label_key: Vec<u8>,
    /// The ids in `usage_names` of the (profile, model) pairs met, by their numbers here.
    pairs: FastMap<(u32, u32), i64>,
    /// Per label id: the sums kept on the label (a conversation's tokens).
    by_label: FastMap<i64, Delta>,
    next_rev: Option<i64>,
    /// Whether events carry their change number (only while a push to a shared database
    /// is configured, see `store::sync::track_changes`), read once per transaction.
    numbered: Option<bool>,
    /// The last change number taken in this transaction.
    taken: Option<i64>,
    /// The numbers of the proxy prefixes met (row keys of a proxy's events).
    pub(super) prefixes: super::row_key::Prefixes,
}

/// Who an event's tokens are counted for.
pub(super) struct Names<'a> {
    pub(super) profile: &'a str,
    pub(super) agent: &'a str,
    pub(super) provider: &'a str,
    pub(super) model: &'a str,
    pub(super) source: &'a str,
}

impl Delta {
    fn add(&mut self, signed: [i64; 6], long: bool, sign: i64, ts: i64) {
        for (acc, c) in self.counts.iter_mut().zip(signed) {
            *acc = acc.saturating_add(c);
        }
        if long {
            for (acc, c) in self.long.iter_mut().zip(signed) {
                *acc = acc.saturating_add(c);
            }
        }
        self.events += sign;
        self.last_ts = self.last_ts.max(ts);
        self.min_ts = Some(self.min_ts.map_or(ts, |m| m.min(ts)));
    }

    /// Adds another sum of the same row's events.
    fn merge(&mut self, o: &Delta) {
        for (acc, c) in self.counts.iter_mut().zip(o.counts) {
            *acc = acc.saturating_add(c);
        }
        for (acc, c) in self.long.iter_mut().zip(o.long) {
            *acc = acc.saturating_add(c);
        }
        self.events += o.events;
        self.last_ts = self.last_ts.max(o.last_ts);
        self.min_ts = match (self.min_ts, o.min_ts) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
    }

    /// Takes off what a new label was written with (its first event's counts), leaving
    /// its times alone.
    fn discount(&mut self, counts: [i64; 6]) {
        for (acc, c) in self.counts.iter_mut().zip(counts) {
            *acc = acc.saturating_sub(c);
        }
        self.events -= 1;
    }
}

impl Rollup {
    /// The next change number, above every one given before (one writer: no other
    /// transaction races); not taken until [`Self::take_rev`].
    pub(super) fn next_rev(&mut self, tx: &Transaction) -> Result<i64, StoreError> {
        let next = match self.next_rev {
            Some(n) => n,
            None => tx
                .prepare_cached("SELECT last_rev + 1 FROM usage_change WHERE id = 1")?
                .query_row([], |r| r.get(0))
                .optional()?
                .unwrap_or(1),
        };
        self.next_rev = Some(next);
        Ok(next)
    }

    /// The change number to store on an event: `rev`, or 0 (no bytes in SQLite's record
    /// format) while events are not numbered; `track_changes` numbers those when a push
    /// is configured.
    pub(super) fn event_rev(&mut self, tx: &Transaction, rev: i64) -> Result<i64, StoreError> {
        let numbered = match self.numbered {
            Some(n) => n,
            None => {
                let n = crate::store::sync::numbering(tx)?;
                self.numbered = Some(n);
                n
            }
        };
        Ok(if numbered { rev } else { 0 })
    }

    /// Takes the change number [`Self::next_rev`] returned (it was stored).
    pub(super) fn take_rev(&mut self, rev: i64) {
        self.taken = Some(rev);
        self.next_rev = Some(rev + 1);
    }

    /// The number of `name` in this transaction.
    fn name(&mut self, name: &str) -> u32 {
        if let Some(&id) = self.name_ids.get(name) {
            return id;
        }
        let id = self.names.len() as u32;
        self.names.push(name.to_string());
        self.name_ids.insert(name.to_string(), id);
        id
    }

    pub(super) fn add(&mut self, ts: i64, label: i64, n: &Names, counts: [i64; 6], sign: i64) {
        let signed = counts.map(|c| c.saturating_mul(sign));
        let one_request = !crate::records::AGGREGATE_SOURCES.contains(&n.source);
        let long = one_request && tokens_of(counts).is_long_context();
        self.by_label
            .entry(label)
            .or_default()
            .add(signed, long, sign, ts);
        let (profile, agent) = (self.name(n.profile), self.name(n.agent));
        let (provider, model) = (self.name(n.provider), self.name(n.model));
        self.deltas
            .entry((ts.div_euclid(BUCKET_SECS), profile, model))
            .or_default()
            .add(signed, long, sign, ts);
        self.totals
            .entry((profile, agent, provider, model))
            .or_default()
            .add(signed, long, sign, ts);
    }

    /// The id of the event's label and its first time (an event stores its time as the
    /// seconds after it: two bytes for a conversation's events instead of four). A new
    /// label is written with `ts` as its first time and this event's sums already on it,
    /// and the difference is kept here (taken back if the event is not stored after
    /// all): no second write of the row at the commit.
    pub(super) fn label<'t>(
        &mut self,
        tx: &'t Transaction,
        stmts: &mut super::Held<'t>,
        e: &UsageEvent,
        ts: i64,
        counts: [i64; 6],
    ) -> Result<(i64, i64), StoreError> {
        let parts = [
            e.profile.as_str(),
            e.agent.as_deref().unwrap_or_default(),
            e.provider.as_deref().unwrap_or_default(),
            e.model.as_str(),
            e.source.as_str(),
            e.session_id.as_deref().unwrap_or_default(),
            e.key_label.as_deref().unwrap_or_default(),
            e.key_hint.as_deref().unwrap_or_default(),
        ];
        self.label_key.clear();
        for p in parts {
            self.label_key
                .extend_from_slice(&(p.len() as u64).to_le_bytes());
            self.label_key.extend_from_slice(p.as_bytes());
        }
        if let Some(&found) = self.labels.get(self.label_key.as_slice()) {
            return Ok(found);
        }
        // Found through the index by conversation (a conversation has a label per model
        // and key, names without one a label per profile, model and source): there is
        // no unique index over the names, which would repeat every name of every label.
        let found = super::held(
            &mut stmts.find_label,
            tx,
            "SELECT id, first_ts FROM usage_labels WHERE session_id = ?6 AND profile = ?1 AND agent = ?2
               AND provider = ?3 AND model = ?4 AND source = ?5 AND key_label = ?7
               AND key_hint = ?8",
        )?
        .query_row(rusqlite::params_from_iter(parts), |r| {
                Ok((r.get(0)?, r.get(1)?))
            })
            .optional()?;
        let found = match found {
            Some(found) => found,
            None => {
                let [i, o, cw, cr, cw1h, r] = counts;
                super::held(
                    &mut stmts.insert_label,
                    tx,
                    "INSERT INTO usage_labels (profile, agent, provider, model, source, session_id,
                         key_label, key_hint, first_ts, min_ts, max_ts, input_tokens, output_tokens,
                         cache_creation_input_tokens, cache_read_input_tokens,
                         cache_creation_1h_tokens, reasoning_output_tokens, events)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?9, ?9, ?10, ?11, ?12, ?13, ?14, ?15, 1)",
                )?
                .execute(params![
                    parts[0], parts[1], parts[2], parts[3], parts[4], parts[5], parts[6],
                    parts[7], ts, i, o, cw, cr, cw1h, r
                ])?;
                let id = tx.last_insert_rowid();
                // Written with the event counted: the event's own `add` evens this out.
                self.by_label.entry(id).or_default().discount(counts);
                (id, ts)
            }
        };
        self.labels.insert(self.label_key.clone(), found);
        Ok(found)
    }

    /// The id in `usage_names` of a (profile, model) pair (by their numbers here), which
    /// the 15-minute rows name instead of repeating the text; created when new.
    fn pair_id(&mut self, tx: &Transaction, profile: u32, model: u32) -> Result<i64, StoreError> {
        if let Some(&id) = self.pairs.get(&(profile, model)) {
            return Ok(id);
        }
        let (p, m) = (&self.names[profile as usize], &self.names[model as usize]);
        tx.prepare_cached(
            "INSERT INTO usage_names (profile, model) VALUES (?1, ?2) ON CONFLICT DO NOTHING",
        )?
        .execute(params![p, m])?;
        let id = tx
            .prepare_cached("SELECT id FROM usage_names WHERE profile = ?1 AND model = ?2")?
            .query_row(params![p, m], |r| r.get(0))?;
        self.pairs.insert((profile, model), id);
        Ok(id)
    }

    pub(super) fn apply(mut self, tx: &Transaction) -> Result<(), StoreError> {
        const SET: &str = "input_tokens = MIN(input_tokens + excluded.input_tokens, 9223372036854775807),
                 output_tokens = MIN(output_tokens + excluded.output_tokens, 9223372036854775807),
                 cache_creation_input_tokens = MIN(cache_creation_input_tokens + excluded.cache_creation_input_tokens, 9223372036854775807),
                 cache_read_input_tokens = MIN(cache_read_input_tokens + excluded.cache_read_input_tokens, 9223372036854775807),
                 cache_creation_1h_tokens = MIN(cache_creation_1h_tokens + excluded.cache_creation_1h_tokens, 9223372036854775807),
                 reasoning_output_tokens = MIN(reasoning_output_tokens + excluded.reasoning_output_tokens, 9223372036854775807),
                 lc_input_tokens = lc_input_tokens + excluded.lc_input_tokens,
                 lc_output_tokens = lc_output_tokens + excluded.lc_output_tokens,
                 lc_cache_creation_tokens = lc_cache_creation_tokens + excluded.lc_cache_creation_tokens,
                 lc_cache_read_tokens = lc_cache_read_tokens + excluded.lc_cache_read_tokens,
                 events = events + excluded.events,
                 last_ts = MAX(last_ts, excluded.last_ts)";
        const COLS: &str = "input_tokens, output_tokens, cache_creation_input_tokens, cache_read_input_tokens,
                 cache_creation_1h_tokens, reasoning_output_tokens, lc_input_tokens, lc_output_tokens,
                 lc_cache_creation_tokens, lc_cache_read_tokens, events, last_ts";
        let rollup_sql = format!(
            "INSERT INTO usage_buckets (bucket, names, {COLS})
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14)
             ON CONFLICT(bucket, names) DO UPDATE SET {SET}"
        );
        // The same change per local day (`local_day` is bound to the daemon's zone),
        // summed here first: one row per day, profile and model, not per bucket.
        let daily_sql = format!(
            "INSERT INTO usage_daily (day, profile, model, {COLS})
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15)
             ON CONFLICT(day, profile, model) DO UPDATE SET {SET}"
        );
        let mut deltas: Vec<_> = std::mem::take(&mut self.deltas).into_iter().collect();
        deltas.sort_unstable_by_key(|&(key, _)| key);
        // Days by their number in `day_names` (the buckets come in order: each day's
        // name is asked once per bucket, and only when the bucket changes).
        let mut day_names: Vec<String> = Vec::new();
        let mut days: FastMap<(u32, u32, u32), Delta> = FastMap::default();
        let mut day_of = tx.prepare_cached("SELECT local_day(?1 * 900)")?;
        let mut day: Option<(i64, u32)> = None;
        for ((bucket, profile_n, model_n), d) in deltas {
            let names = self.pair_id(tx, profile_n, model_n)?;
            let [i, o, cw, cr, cw1h, r] = d.counts;
            let [li, lo, lcw, lcr] = d.long;
            tx.prepare_cached(&rollup_sql)?.execute(params![
                bucket, names, i, o, cw, cr, cw1h, r, li, lo, lcw, lcr, d.events, d.last_ts
            ])?;
            let n = match day {
                Some((b, n)) if b == bucket => n,
                _ => {
                    let name: String = day_of.query_row(params![bucket], |r| r.get(0))?;
                    if day_names.last() != Some(&name) {
                        day_names.push(name);
                    }
                    let n = (day_names.len() - 1) as u32;
                    day = Some((bucket, n));
                    n
                }
            };
            days.entry((n, profile_n, model_n)).or_default().merge(&d);
        }
        for ((n, profile_n, model_n), d) in days {
            let (profile, model) = (
                &self.names[profile_n as usize],
                &self.names[model_n as usize],
            );
            let [i, o, cw, cr, cw1h, r] = d.counts;
            let [li, lo, lcw, lcr] = d.long;
            tx.prepare_cached(&daily_sql)?.execute(params![
                day_names[n as usize],
                profile,
                model,
                i,
                o,
                cw,
                cr,
                cw1h,
                r,
                li,
                lo,
                lcw,
                lcr,
                d.events,
                d.last_ts
            ])?;
        }
        // And the all-time totals (what /metrics serves).
        let mut totals = tx.prepare_cached(
            "INSERT INTO usage_totals (profile, agent, provider, model, input_tokens, output_tokens,
                 cache_creation_input_tokens, cache_read_input_tokens, cache_creation_1h_tokens, events, last_ts, rev)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)
             ON CONFLICT(profile, agent, provider, model) DO UPDATE SET
                 input_tokens = MIN(input_tokens + excluded.input_tokens, 9223372036854775807),
                 output_tokens = MIN(output_tokens + excluded.output_tokens, 9223372036854775807),
                 cache_creation_input_tokens = MIN(cache_creation_input_tokens + excluded.cache_creation_input_tokens, 9223372036854775807),
                 cache_read_input_tokens = MIN(cache_read_input_tokens + excluded.cache_read_input_tokens, 9223372036854775807),
                 cache_creation_1h_tokens = MIN(cache_creation_1h_tokens + excluded.cache_creation_1h_tokens, 9223372036854775807),
                 events = events + excluded.events,
                 last_ts = MAX(last_ts, excluded.last_ts),
                 rev = excluded.rev",
        )?;
        // The last change number given in this transaction (readers ask for rows above
        // the last they saw); one of its own when it changed totals without storing an
        // event (it only removed some).
        if self.taken.is_none() && !self.totals.is_empty() {
            let rev = self.next_rev(tx)?;
            self.take_rev(rev);
        }
        let rev = self.taken.unwrap_or(0);
        if let Some(rev) = self.taken {
            tx.prepare_cached(
                "INSERT INTO usage_change (id, last_rev) VALUES (1, ?1)
                 ON CONFLICT(id) DO UPDATE SET last_rev = MAX(last_rev, excluded.last_rev)",
            )?
            .execute(params![rev])?;
        }
        // The sums on each label.
        let mut labels = tx.prepare_cached(
            "UPDATE usage_labels SET
                 input_tokens = MIN(input_tokens + ?2, 9223372036854775807),
                 output_tokens = MIN(output_tokens + ?3, 9223372036854775807),
                 cache_creation_input_tokens = MIN(cache_creation_input_tokens + ?4, 9223372036854775807),
                 cache_read_input_tokens = MIN(cache_read_input_tokens + ?5, 9223372036854775807),
                 cache_creation_1h_tokens = MIN(cache_creation_1h_tokens + ?6, 9223372036854775807),
                 reasoning_output_tokens = MIN(reasoning_output_tokens + ?7, 9223372036854775807),
                 events = events + ?8,
                 min_ts = MIN(min_ts, ?9),
                 max_ts = MAX(max_ts, ?10)
             WHERE id = ?1",
        )?;
        for (label, d) in &self.by_label {
            if d.events == 0 && d.counts == [0; 6] {
                continue; // a new label whose event was stored: written right already
            }
            let [i, o, cw, cr, cw1h, r] = d.counts;
            labels.execute(params![
                label,
                i,
                o,
                cw,
                cr,
                cw1h,
                r,
                d.events,
                d.min_ts.unwrap_or(i64::MAX),
                d.last_ts
            ])?;
        }
        for ((profile, agent, provider, model), d) in std::mem::take(&mut self.totals) {
            let name = |n: u32| &self.names[n as usize];
            let (profile, agent, provider, model) =
                (name(profile), name(agent), name(provider), name(model));
            let [i, o, cw, cr, cw1h, _] = d.counts;
            totals.execute(params![
                profile, agent, provider, model, i, o, cw, cr, cw1h, d.events, d.last_ts, rev
            ])?;
        }
        Ok(())
    }
}
