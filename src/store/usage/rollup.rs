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

type LabelKey = [String; 8];

/// Rollup changes accumulated during a transaction, applied once at its end; the label
/// ids looked up in it; and the next change number (`rev`) to give an event, read once
/// per transaction.
#[derive(Debug, Default)]
pub struct Rollup {
    deltas: HashMap<(i64, String, String), Delta>,
    /// All-time totals by (profile, agent, provider, model); unknown names are ''.
    totals: HashMap<(String, String, String, String), Delta>,
    /// Per label: its id and its first time (what its events' times are stored after).
    labels: HashMap<LabelKey, (i64, i64)>,
    /// The ids of (profile, model) pairs in `usage_names` met in this transaction.
    names: HashMap<(String, String), i64>,
    /// Per label id: the sums kept on the label (a conversation's tokens).
    by_label: HashMap<i64, Delta>,
    next_rev: Option<i64>,
    /// Whether events carry their change number (only while a push to a shared database
    /// is configured, see `store::sync::track_changes`), read once per transaction.
    numbered: Option<bool>,
    /// The last change number taken in this transaction.
    taken: Option<i64>,
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

    pub(super) fn add(&mut self, ts: i64, label: i64, n: &Names, counts: [i64; 6], sign: i64) {
        let signed = counts.map(|c| c.saturating_mul(sign));
        let one_request = !crate::records::AGGREGATE_SOURCES.contains(&n.source);
        let long = one_request && tokens_of(counts).is_long_context();
        self.by_label
            .entry(label)
            .or_default()
            .add(signed, long, sign, ts);
        self.deltas
            .entry((
                ts.div_euclid(BUCKET_SECS),
                n.profile.to_string(),
                n.model.to_string(),
            ))
            .or_default()
            .add(signed, long, sign, ts);
        self.totals
            .entry((
                n.profile.to_string(),
                n.agent.to_string(),
                n.provider.to_string(),
                n.model.to_string(),
            ))
            .or_default()
            .add(signed, long, sign, ts);
    }

    /// The id of the event's label and its first time (an event stores its time as the
    /// seconds after it: two bytes for a conversation's events instead of four); created
    /// when new, with `ts` as its first time.
    pub(super) fn label(
        &mut self,
        tx: &Transaction,
        e: &UsageEvent,
        ts: i64,
    ) -> Result<(i64, i64), StoreError> {
        let key: LabelKey = [
            e.profile.clone(),
            e.agent.clone().unwrap_or_default(),
            e.provider.clone().unwrap_or_default(),
            e.model.clone(),
            e.source.clone(),
            e.session_id.clone().unwrap_or_default(),
            e.key_label.clone().unwrap_or_default(),
            e.key_hint.clone().unwrap_or_default(),
        ];
        if let Some(&found) = self.labels.get(&key) {
            return Ok(found);
        }
        // Found through the index by conversation (a conversation has a label per model
        // and key, names without one a label per profile, model and source): there is
        // no unique index over the names, which would repeat every name of every label.
        let found = tx
            .prepare_cached(
                "SELECT id, first_ts FROM usage_labels WHERE session_id = ?6 AND profile = ?1 AND agent = ?2
                   AND provider = ?3 AND model = ?4 AND source = ?5 AND key_label = ?7
                   AND key_hint = ?8",
            )?
            .query_row(rusqlite::params_from_iter(key.iter()), |r| {
                Ok((r.get(0)?, r.get(1)?))
            })
            .optional()?;
        let found =
            match found {
                Some(found) => found,
                None => {
                    tx.prepare_cached(
                    "INSERT INTO usage_labels (profile, agent, provider, model, source, session_id,
                         key_label, key_hint, first_ts, min_ts, max_ts)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?9, ?9)",
                )?
                .execute(rusqlite::params_from_iter(
                    key.iter().map(|s| s as &dyn rusqlite::ToSql).chain([&ts as _]),
                ))?;
                    (tx.last_insert_rowid(), ts)
                }
            };
        self.labels.insert(key, found);
        Ok(found)
    }

    /// The id of a (profile, model) pair in `usage_names`, which the 15-minute rows name
    /// instead of repeating the text; created when new.
    fn names_id(
        &mut self,
        tx: &Transaction,
        profile: &str,
        model: &str,
    ) -> Result<i64, StoreError> {
        if let Some(&id) = self.names.get(&(profile.to_string(), model.to_string())) {
            return Ok(id);
        }
        tx.prepare_cached(
            "INSERT INTO usage_names (profile, model) VALUES (?1, ?2) ON CONFLICT DO NOTHING",
        )?
        .execute(params![profile, model])?;
        let id = tx
            .prepare_cached("SELECT id FROM usage_names WHERE profile = ?1 AND model = ?2")?
            .query_row(params![profile, model], |r| r.get(0))?;
        self.names
            .insert((profile.to_string(), model.to_string()), id);
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
        // The same change per local day (`local_day` is bound to the daemon's zone).
        let daily_sql = format!(
            "INSERT INTO usage_daily (day, profile, model, {COLS})
             VALUES (local_day(?1 * 900), ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15)
             ON CONFLICT(day, profile, model) DO UPDATE SET {SET}"
        );
        for ((bucket, profile, model), d) in std::mem::take(&mut self.deltas) {
            let [i, o, cw, cr, cw1h, r] = d.counts;
            let [li, lo, lcw, lcr] = d.long;
            let names = self.names_id(tx, &profile, &model)?;
            tx.prepare_cached(&rollup_sql)?.execute(params![
                bucket, names, i, o, cw, cr, cw1h, r, li, lo, lcw, lcr, d.events, d.last_ts
            ])?;
            tx.prepare_cached(&daily_sql)?.execute(params![
                bucket, profile, model, i, o, cw, cr, cw1h, r, li, lo, lcw, lcr, d.events,
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
        for ((profile, agent, provider, model), d) in self.totals {
            let [i, o, cw, cr, cw1h, _] = d.counts;
            totals.execute(params![
                profile, agent, provider, model, i, o, cw, cr, cw1h, d.events, d.last_ts, rev
            ])?;
        }
        Ok(())
    }
}
