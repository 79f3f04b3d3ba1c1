//! Cost of tokens from the registry's prices, computed exactly.
//!
//! Prices are USD per million tokens with at most six decimals; they are turned into
//! integer micro-dollars per million tokens, so a cost is an exact integer in units of
//! 1e-12 USD until the one final conversion to a float for the response. That is how the
//! reference's example comes out as exactly 0.375 / 0.675 / 0.0375 / 0.015 = 1.1025.

use serde::Serialize;

use crate::registry::{Price, TierPrice};
use crate::store::daily::DayRow;
use crate::tokens::Tokens;

/// A cost in units of 1e-12 USD, per token kind.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ExactCost {
    pub input: u128,
    pub output: u128,
    pub cache_creation: u128,
    pub cache_read: u128,
}

/// The cost as the API shows it (USD).
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize)]
pub struct Cost {
    pub input_cost: f64,
    pub output_cost: f64,
    pub cache_creation_cost: f64,
    pub cache_read_cost: f64,
    pub total_cost: f64,
}

fn micro(usd_per_million: f64) -> u128 {
    (usd_per_million * 1e6).round().max(0.0) as u128
}

impl ExactCost {
    /// The cost of `tokens` (one-hour cache writes at their own price).
    pub fn of(tokens: &Tokens, price: &Price) -> Self {
        let one_hour = tokens.one_hour_writes();
        let one_hour_price = price.cache_write_1h.unwrap_or(price.input * 2.0);
        Self {
            input: tokens.input_tokens as u128 * micro(price.input),
            output: tokens.output_tokens as u128 * micro(price.output),
            cache_creation: (tokens.cache_creation_input_tokens - one_hour) as u128
                * micro(price.cache_write)
                + one_hour as u128 * micro(one_hour_price),
            cache_read: tokens.cache_read_input_tokens as u128 * micro(price.cache_read),
        }
    }

    /// The cost of a day's row: its long-context requests at the model's long-context
    /// prices (when it has them), the rest at the base prices.
    pub fn of_row(row: &DayRow, price: &Price) -> Self {
        let Some(tier) = price.above_200k else {
            return Self::of(&row.tokens, price);
        };
        let mut base = Self::of(&row.tokens.minus(&row.long), price);
        let TierPrice {
            input,
            output,
            cache_write,
            cache_read,
        } = tier;
        base.add(&Self::of(
            &row.long,
            &Price {
                input,
                output,
                cache_write,
                cache_read,
                cache_write_1h: None,
                above_200k: None,
            },
        ));
        base
    }

    pub fn add(&mut self, o: &ExactCost) {
        self.input += o.input;
        self.output += o.output;
        self.cache_creation += o.cache_creation;
        self.cache_read += o.cache_read;
    }

    pub fn usd(&self) -> Cost {
        let f = |v: u128| v as f64 / 1e12;
        Cost {
            input_cost: f(self.input),
            output_cost: f(self.output),
            cache_creation_cost: f(self.cache_creation),
            cache_read_cost: f(self.cache_read),
            total_cost: f(self.input + self.output + self.cache_creation + self.cache_read),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_reference_example_is_exact() {
        let sonnet = Price {
            input: 3.0,
            output: 15.0,
            cache_write: 3.75,
            cache_read: 0.30,
            cache_write_1h: None,
            above_200k: None,
        };
        let t = Tokens {
            input_tokens: 125_000,
            output_tokens: 45_000,
            cache_creation_input_tokens: 10_000,
            cache_read_input_tokens: 50_000,
            cache_creation_1h_input_tokens: 0,
            reasoning_output_tokens: 0,
        };
        let c = ExactCost::of(&t, &sonnet).usd();
        assert_eq!(c.input_cost, 0.375);
        assert_eq!(c.output_cost, 0.675);
        assert_eq!(c.cache_creation_cost, 0.0375);
        assert_eq!(c.cache_read_cost, 0.015);
        assert_eq!(c.total_cost, 1.1025);
        // One-hour cache writes cost twice the input price: 4,000 of the 10,000 here.
        let mixed = ExactCost::of(
            &Tokens {
                cache_creation_1h_input_tokens: 4_000,
                ..t
            },
            &sonnet,
        )
        .usd();
        assert_eq!(mixed.cache_creation_cost, 0.0465);
        let json = serde_json::to_string(&c).unwrap();
        assert_eq!(
            json,
            r#"{"input_cost":0.375,"output_cost":0.675,"cache_creation_cost":0.0375,"cache_read_cost":0.015,"total_cost":1.1025}"#
        );
    }
}
