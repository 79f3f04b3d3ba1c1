//! `GET /api/usage/blocks` and the active block of one profile (for the status line).
//!
//! Blocks chain: where one starts depends on every entry before it back to the last
//! silence longer than the block length. So a range is computed from such a silence
//! before its first day (found in the 15-minute rollup, at most 31 days back), which gives
//! the same blocks as computing from the very first event; the active block of a profile
//! looks back at most 7 days. Each event is priced on its own, as ccusage does.

use serde::Serialize;

use super::reports::Scope;
use super::{Meter, MeterError, Prices};
use crate::store::events;
use crate::usage::blocks::{BLOCK_SECS, Block, Blocks, Entry};

/// How far back a range's first silence is looked for, and the active block's.
const LOOK_BACK_SECS: i64 = 31 * 86_400;
const ACTIVE_LOOK_BACK_SECS: i64 = 7 * 86_400;
/// `recent` keeps blocks started in the last three days (and the active one).
const RECENT_SECS: i64 = 3 * 86_400;

#[derive(Debug, Default)]
pub struct BlocksQuery {
    pub scope: Scope,
    pub active: bool,
    pub recent: bool,
}

#[derive(Debug, Serialize)]
pub struct BlocksReport {
    pub time_zone: String,
    pub session_length_hours: i64,
    pub since: Option<String>,
    pub until: Option<String>,
    /// The profiles counted (`null`: all).
    pub profiles: Option<Vec<String>>,
    pub blocks: Vec<Block>,
    pub unpriced_models: Vec<String>,
    /// Before this time raw events are no longer kept: blocks there are built from the
    /// 15-minute rollup (each bucket one entry), so their edges are within 15 minutes.
    pub events_kept_since: Option<String>,
}

fn iso(ts: i64) -> Option<String> {
    jiff::Timestamp::from_second(ts)
        .ok()
        .map(crate::time::rfc3339)
}

fn build(
    c: &rusqlite::Connection,
    prices: &mut Prices,
    profiles: Option<&[String]>,
    from: i64,
    to: i64,
    now: i64,
) -> Result<Vec<Block>, crate::store::StoreError> {
    let mut blocks = Blocks::new(BLOCK_SECS);
    events::fold(c, profiles, from, to, |r| {
        blocks.push(&Entry {
            ts: r.ts,
            model: r.model,
            tokens: r.tokens,
            cost: prices.cost_event(r.model, &r.tokens, r.source, r.count),
            count: r.count,
        })
    })?;
    Ok(blocks.finish(now))
}

impl Meter {
    pub async fn blocks(&self, q: BlocksQuery) -> Result<BlocksReport, MeterError> {
        let now = jiff::Zoned::now();
        let range = q.scope.range(&now)?;
        let profiles = self.select(&q.scope).await?;
        let catalogue = self.inner.catalogue.get();
        let tz = now.time_zone().clone();
        let now_ts = now.timestamp().as_second();
        let (mut start, end) = range.bounds(&tz);
        // Only the active or recent blocks: no need to go back to the first event.
        if start == 0 && q.active {
            start = now_ts;
        } else if start == 0 && q.recent {
            start = now_ts - RECENT_SECS;
        }
        let filter = profiles.clone();
        let (blocks, unpriced, horizon) = self
            .store()
            .read(move |c| {
                let p = filter.as_deref();
                let from = if start > 0 {
                    events::quiet_before(c, p, start, BLOCK_SECS, start - LOOK_BACK_SECS)?
                } else {
                    0
                };
                let to = end.saturating_add(BLOCK_SECS);
                let mut prices = Prices::new(&catalogue);
                let blocks = build(c, &mut prices, p, from, to, now_ts)?;
                Ok((blocks, prices.unpriced(), events::horizon(c)?))
            })
            .await?;
        let blocks = blocks
            .into_iter()
            .filter(|b| range.contains(b.start, &tz))
            .filter(|b| !q.active || b.is_active)
            .filter(|b| !q.recent || b.is_active || b.start >= now_ts - RECENT_SECS)
            .collect();
        Ok(BlocksReport {
            time_zone: tz.iana_name().unwrap_or("local").to_string(),
            session_length_hours: BLOCK_SECS / 3600,
            since: range.first.map(|d| d.to_string()),
            until: range.last.map(|d| d.to_string()),
            profiles,
            blocks,
            unpriced_models: unpriced,
            events_kept_since: horizon.filter(|h| *h > 0).and_then(iso),
        })
    }

    /// The active block of `profile` now, if any: computed once per usage change, and
    /// brought up to the minute from memory in between.
    pub async fn active_block(&self, profile: &str) -> Result<Option<Block>, MeterError> {
        let now = jiff::Timestamp::now().as_second();
        let generation = self.generation();
        let cached = self
            .inner
            .active
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(profile)
            .filter(|(g, _, _)| *g == generation)
            .map(|(_, _, b)| b.clone());
        if let Some(block) = cached {
            return Ok(block.and_then(|b| b.still_active(now, BLOCK_SECS)));
        }
        let catalogue = self.inner.catalogue.get();
        let filter = [profile.to_string()];
        let block = self
            .store()
            .read(move |c| {
                let p = Some(&filter[..]);
                let from =
                    events::quiet_before(c, p, now, BLOCK_SECS, now - ACTIVE_LOOK_BACK_SECS)?;
                let mut prices = Prices::new(&catalogue);
                let blocks = build(c, &mut prices, p, from, now + 1, now)?;
                Ok(blocks.into_iter().rev().find(|b| b.is_active))
            })
            .await?;
        let mut cache = self.inner.active.lock().unwrap_or_else(|p| p.into_inner());
        if cache.len() > 1024 {
            cache.clear();
        }
        cache.insert(profile.to_string(), (generation, now, block.clone()));
        Ok(block)
    }
}
