//! Token counts: the one type for how many tokens of each kind a response, a day, a
//! profile or a whole report holds. Every reader of usage (the proxy's tap, the transcript
//! and stats-cache imports, the store, the reports) turns its own wire format into this
//! at once, so counts are never copied field by field or read by position.

use serde::Serialize;

/// The four token kinds every report shows, and two parts kept apart inside them (out of
/// the reports' four-kind JSON): the cache writes that had a one-hour lifetime (billed at
/// a higher rate, inside `cache_creation_input_tokens`) and the reasoning ("thinking")
/// output an agent reports separately (billed as output, inside `output_tokens`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Tokens {
    pub input_tokens: u64,
    pub output_tokens: u64,
    pub cache_creation_input_tokens: u64,
    pub cache_read_input_tokens: u64,
    #[serde(skip)]
    pub cache_creation_1h_input_tokens: u64,
    #[serde(skip)]
    pub reasoning_output_tokens: u64,
}

/// Above this many context tokens (uncached input, cache writes and cache reads of one
/// request), providers with long-context prices bill the whole request at those
/// (Gemini 2.5 Pro, Claude Sonnet 4 and 4.5 with a 1M context).
pub const LONG_CONTEXT: u64 = 200_000;

impl Tokens {
    /// Adds `o`, saturating: a sum never wraps.
    pub fn add(&mut self, o: &Tokens) {
        self.input_tokens = self.input_tokens.saturating_add(o.input_tokens);
        self.output_tokens = self.output_tokens.saturating_add(o.output_tokens);
        self.cache_creation_input_tokens = self
            .cache_creation_input_tokens
            .saturating_add(o.cache_creation_input_tokens);
        self.cache_read_input_tokens = self
            .cache_read_input_tokens
            .saturating_add(o.cache_read_input_tokens);
        self.cache_creation_1h_input_tokens = self
            .cache_creation_1h_input_tokens
            .saturating_add(o.cache_creation_1h_input_tokens);
        self.reasoning_output_tokens = self
            .reasoning_output_tokens
            .saturating_add(o.reasoning_output_tokens);
    }

    /// `self` minus `o`, kind by kind, never below zero.
    pub fn minus(&self, o: &Tokens) -> Tokens {
        Tokens {
            input_tokens: self.input_tokens.saturating_sub(o.input_tokens),
            output_tokens: self.output_tokens.saturating_sub(o.output_tokens),
            cache_creation_input_tokens: self
                .cache_creation_input_tokens
                .saturating_sub(o.cache_creation_input_tokens),
            cache_read_input_tokens: self
                .cache_read_input_tokens
                .saturating_sub(o.cache_read_input_tokens),
            cache_creation_1h_input_tokens: self
                .cache_creation_1h_input_tokens
                .saturating_sub(o.cache_creation_1h_input_tokens),
            reasoning_output_tokens: self
                .reasoning_output_tokens
                .saturating_sub(o.reasoning_output_tokens),
        }
    }

    /// The context of one request: everything it sent, cached or not.
    pub fn context(&self) -> u64 {
        self.input_tokens
            .saturating_add(self.cache_creation_input_tokens)
            .saturating_add(self.cache_read_input_tokens)
    }

    /// Whether one request's context is over [`LONG_CONTEXT`].
    pub fn is_long_context(&self) -> bool {
        self.context() > LONG_CONTEXT
    }

    /// The reasoning output, never more than the output it is part of.
    pub fn reasoning(&self) -> u64 {
        self.reasoning_output_tokens.min(self.output_tokens)
    }

    /// The four kinds together (the one-hour writes are inside the cache writes).
    pub fn total(&self) -> u64 {
        self.input_tokens
            .saturating_add(self.output_tokens)
            .saturating_add(self.cache_creation_input_tokens)
            .saturating_add(self.cache_read_input_tokens)
    }

    /// The one-hour cache writes, never more than the cache writes they are part of.
    pub fn one_hour_writes(&self) -> u64 {
        self.cache_creation_1h_input_tokens
            .min(self.cache_creation_input_tokens)
    }

    /// The largest single count, for bounds checks.
    pub fn max_count(&self) -> u64 {
        [
            self.input_tokens,
            self.output_tokens,
            self.cache_creation_input_tokens,
            self.cache_read_input_tokens,
            self.cache_creation_1h_input_tokens,
            self.reasoning_output_tokens,
        ]
        .into_iter()
        .max()
        .unwrap_or(0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sums_saturate_and_one_hour_is_bounded() {
        let mut t = Tokens {
            input_tokens: u64::MAX - 1,
            cache_creation_input_tokens: 3,
            cache_creation_1h_input_tokens: 5,
            ..Default::default()
        };
        assert_eq!(t.one_hour_writes(), 3);
        t.add(&Tokens {
            input_tokens: 10,
            ..Default::default()
        });
        assert_eq!(t.input_tokens, u64::MAX);
        assert_eq!(t.total(), u64::MAX);
        let json = serde_json::to_string(&t).unwrap();
        assert!(!json.contains("1h"), "{json}");
    }
}
