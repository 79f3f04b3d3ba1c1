//! Five-hour billing blocks, computed as ccusage 20 computes them (`ccusage blocks`), with
//! the burn rate and the projection to the block's end.
//!
//! Entries arrive in time order ([`Blocks::push`]). The first opens a block at the start
//! of its UTC hour; each later entry closes the block when it comes more than the block
//! length after the block's start or after the previous entry (strictly: an entry exactly
//! five hours later still belongs), and a silence longer than the block length also
//! leaves a gap block from the last entry plus the length until the new entry. A block
//! is active while now is before its end and less than the length after its last entry;
//! only an active block has a burn rate (tokens and cost per minute between its first and
//! last entry) and a projection (its totals carried on at that rate to its end).
//!
//! Times are Unix seconds, as the store keeps them; ccusage keeps milliseconds, so two
//! entries less than a second apart around a boundary can fall differently.

use serde::Serialize;

use super::pricing::ExactCost;
use crate::tokens::Tokens;

/// The default block length: five hours.
pub const BLOCK_SECS: i64 = 5 * 3600;

/// A model ccusage leaves out of a block's models (Claude Code's API-error lines).
const SYNTHETIC: &str = "<synthetic>";

/// One usage entry (an event, or where events are no longer kept, one 15-minute bucket).
pub struct Entry<'a> {
    pub ts: i64,
    pub model: &'a str,
    pub tokens: Tokens,
    pub cost: ExactCost,
    /// How many events it stands for.
    pub count: u64,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct BurnRate {
    pub tokens_per_minute: f64,
    /// Input and output tokens only: what ccusage's indicator (normal, moderate, high)
    /// is judged on.
    pub tokens_per_minute_for_indicator: f64,
    pub cost_per_hour: f64,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Projection {
    pub total_tokens: u64,
    pub total_cost: f64,
    pub remaining_minutes: i64,
}

#[derive(Debug, Clone, Serialize)]
pub struct Block {
    pub id: String,
    pub start_time: String,
    pub end_time: String,
    pub actual_end_time: Option<String>,
    pub is_active: bool,
    pub is_gap: bool,
    pub entries: u64,
    pub tokens: Tokens,
    pub total_tokens: u64,
    pub cost_usd: f64,
    pub models: Vec<String>,
    pub burn_rate: Option<BurnRate>,
    pub projection: Option<Projection>,
    /// Unix seconds of the start, end and last entry (for filters and the status line).
    #[serde(skip)]
    pub start: i64,
    #[serde(skip)]
    pub end: i64,
    #[serde(skip)]
    pub last: Option<i64>,
}

struct Open {
    start: i64,
    first: i64,
    last: i64,
    entries: u64,
    tokens: Tokens,
    cost: ExactCost,
    models: Vec<String>,
}

/// Builds the blocks from entries in time order.
pub struct Blocks {
    length: i64,
    open: Option<Open>,
    done: Vec<Block>,
}

fn iso(ts: i64) -> String {
    jiff::Timestamp::from_second(ts)
        .map(crate::time::rfc3339)
        .unwrap_or_default()
}

fn usd(c: &ExactCost) -> f64 {
    c.usd().total_cost
}

impl Blocks {
    pub fn new(length: i64) -> Self {
        Self {
            length: length.max(60),
            open: None,
            done: Vec::new(),
        }
    }

    pub fn push(&mut self, e: &Entry) {
        if let Some(o) = &self.open {
            let since_start = e.ts - o.start;
            let since_last = e.ts - o.last;
            if since_start > self.length || since_last > self.length {
                let last = o.last;
                self.close();
                if since_last > self.length {
                    self.done.push(self.gap(last + self.length, e.ts));
                }
            }
        }
        let o = self.open.get_or_insert_with(|| Open {
            start: e.ts.div_euclid(3600) * 3600,
            first: e.ts,
            last: e.ts,
            entries: 0,
            tokens: Tokens::default(),
            cost: ExactCost::default(),
            models: Vec::new(),
        });
        o.last = o.last.max(e.ts);
        o.entries += e.count;
        o.tokens.add(&e.tokens);
        o.cost.add(&e.cost);
        if e.model != SYNTHETIC && !o.models.iter().any(|m| m == e.model) {
            o.models.push(e.model.to_string());
        }
    }

    fn gap(&self, start: i64, end: i64) -> Block {
        Block {
            id: format!("gap-{}", iso(start)),
            start_time: iso(start),
            end_time: iso(end),
            actual_end_time: None,
            is_active: false,
            is_gap: true,
            entries: 0,
            tokens: Tokens::default(),
            total_tokens: 0,
            cost_usd: 0.0,
            models: Vec::new(),
            burn_rate: None,
            projection: None,
            start,
            end,
            last: None,
        }
    }

    fn close(&mut self) {
        if let Some(o) = self.open.take() {
            let end = o.start + self.length;
            self.done.push(Block {
                id: iso(o.start),
                start_time: iso(o.start),
                end_time: iso(end),
                actual_end_time: Some(iso(o.last)),
                is_active: false,
                is_gap: false,
                entries: o.entries,
                total_tokens: o.tokens.total(),
                tokens: o.tokens,
                cost_usd: usd(&o.cost),
                models: o.models,
                burn_rate: burn_rate(o.first, o.last, &o.tokens, &o.cost),
                projection: None,
                start: o.start,
                end,
                last: Some(o.last),
            });
        }
    }

    /// The blocks in start order, with the active one (if any) marked as of `now`.
    pub fn finish(mut self, now: i64) -> Vec<Block> {
        self.close();
        let length = self.length;
        for b in &mut self.done {
            b.is_active = !b.is_gap && b.last.is_some_and(|l| now - l < length) && now < b.end;
            if b.is_active {
                b.projection = b.burn_rate.as_ref().map(|r| project(b, r, now));
            } else {
                b.burn_rate = None;
            }
        }
        // Stable: a gap keeps its place after the block that ends before it.
        self.done.sort_by_key(|b| b.start);
        self.done
    }
}

impl Block {
    /// This block as of `now`: `None` once it is no longer active, else with its
    /// projection brought up to `now` (for a block computed earlier).
    pub fn still_active(&self, now: i64, length: i64) -> Option<Block> {
        let active = !self.is_gap && self.last.is_some_and(|l| now - l < length) && now < self.end;
        if !active {
            return None;
        }
        let mut b = self.clone();
        b.is_active = true;
        b.projection = b.burn_rate.as_ref().map(|r| project(&b, r, now));
        Some(b)
    }
}

/// Per minute between the first and the last entry; none when they are the same moment.
fn burn_rate(first: i64, last: i64, tokens: &Tokens, cost: &ExactCost) -> Option<BurnRate> {
    let minutes = (last - first) as f64 / 60.0;
    if minutes <= 0.0 {
        return None;
    }
    Some(BurnRate {
        tokens_per_minute: tokens.total() as f64 / minutes,
        tokens_per_minute_for_indicator: (tokens.input_tokens + tokens.output_tokens) as f64
            / minutes,
        cost_per_hour: usd(cost) / minutes * 60.0,
    })
}

fn project(b: &Block, r: &BurnRate, now: i64) -> Projection {
    let remaining = ((b.end - now) as f64 / 60.0).round() as i64;
    let minutes = remaining.max(0) as f64;
    Projection {
        total_tokens: (b.total_tokens as f64 + r.tokens_per_minute * minutes).round() as u64,
        total_cost: ((b.cost_usd + r.cost_per_hour / 60.0 * minutes) * 100.0).round() / 100.0,
        remaining_minutes: remaining,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::registry::Price;

    const SONNET: Price = Price {
        input: 3.0,
        output: 15.0,
        cache_write: 3.75,
        cache_read: 0.30,
        cache_write_1h: None,
        above_200k: None,
    };

    fn ts(s: &str) -> i64 {
        s.parse::<jiff::Timestamp>().unwrap().as_second()
    }

    fn entry(at: &str, counts: [u64; 4]) -> (i64, Tokens) {
        (
            ts(at),
            Tokens {
                input_tokens: counts[0],
                output_tokens: counts[1],
                cache_creation_input_tokens: counts[2],
                cache_read_input_tokens: counts[3],
                ..Default::default()
            },
        )
    }

    fn run(entries: &[(i64, Tokens)], now: i64) -> Vec<Block> {
        let mut b = Blocks::new(BLOCK_SECS);
        for (t, tokens) in entries {
            b.push(&Entry {
                ts: *t,
                model: "claude-sonnet-4-20250514",
                tokens: *tokens,
                cost: ExactCost::of(tokens, &SONNET),
                count: 1,
            });
        }
        b.finish(now)
    }

    /// ccusage's boundary fixture, at second precision: exactly five hours after the
    /// start stays in the block, one second more opens the next; a silence of more than
    /// five hours leaves a gap, listed after the block that starts before it.
    #[test]
    fn boundaries_and_gaps_as_ccusage() {
        let blocks = run(
            &[
                entry("2026-03-14T09:15:00Z", [1, 1, 0, 0]),
                entry("2026-03-14T14:00:00Z", [2, 1, 0, 0]),
                entry("2026-03-14T14:00:01Z", [3, 1, 0, 0]),
                entry("2026-03-14T19:00:01Z", [4, 1, 0, 0]),
                entry("2026-03-15T00:30:00Z", [5, 1, 0, 0]),
            ],
            ts("2026-03-20T00:00:00Z"),
        );
        let ids: Vec<&str> = blocks.iter().map(|b| b.id.as_str()).collect();
        assert_eq!(
            ids,
            [
                "2026-03-14T09:00:00Z",
                "2026-03-14T14:00:00Z",
                "2026-03-14T19:00:00Z",
                "2026-03-15T00:00:00Z",
                "gap-2026-03-15T00:00:01Z",
            ]
        );
        assert_eq!(blocks[0].entries, 2);
        assert_eq!(blocks[0].total_tokens, 5);
        assert_eq!(
            blocks[0].actual_end_time.as_deref(),
            Some("2026-03-14T14:00:00Z")
        );
        assert!((blocks[0].cost_usd - 0.000039).abs() < 1e-12);
        assert_eq!(blocks[4].end_time, "2026-03-15T00:30:00Z");
        assert!(blocks[4].is_gap && blocks[4].actual_end_time.is_none());
        assert!(blocks.iter().all(|b| !b.is_active && b.burn_rate.is_none()));
    }

    /// ccusage's active example: entries 100, 70, 40 and 10 minutes before now.
    #[test]
    fn active_block_burn_rate_and_projection() {
        let now = ts("2026-11-29T02:34:40Z");
        let at = |m: i64| (now - m * 60, [1000, 500, 2000, 10000]);
        let entries: Vec<(i64, Tokens)> = [100, 70, 40, 10]
            .iter()
            .map(|m| {
                let (t, c) = at(*m);
                (t, entry("2026-01-01T00:00:00Z", c).1)
            })
            .collect();
        let blocks = run(&entries, now);
        assert_eq!(blocks.len(), 1);
        let b = &blocks[0];
        assert!(b.is_active);
        assert_eq!(b.id, "2026-11-29T00:00:00Z");
        assert_eq!(b.total_tokens, 54000);
        assert!((b.cost_usd - 0.084).abs() < 1e-12);
        let r = b.burn_rate.as_ref().unwrap();
        assert!((r.tokens_per_minute - 600.0).abs() < 1e-9);
        assert!((r.tokens_per_minute_for_indicator - 66.666_666_666).abs() < 1e-6);
        assert!((r.cost_per_hour - 0.056).abs() < 1e-12);
        assert_eq!(
            b.projection,
            Some(Projection {
                total_tokens: 141000,
                total_cost: 0.22,
                remaining_minutes: 145
            })
        );
        // Five hours after the last entry it is over.
        let later = run(&entries, now + BLOCK_SECS);
        assert!(!later[0].is_active && later[0].projection.is_none());
    }
}
