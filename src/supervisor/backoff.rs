//! Restart delays: exponential with jitter and a cap.
//!
//! The n-th delay is `initial × 2ⁿ` capped at `max`, less a random part of up to a
//! quarter, so proxies that crash together do not restart in lockstep, while every delay
//! below the cap is still longer than the one before it.

use std::time::Duration;

/// Up to this fraction of a delay is taken off at random.
const JITTER: f64 = 0.25;

#[derive(Debug, Clone)]
pub struct Backoff {
    initial: Duration,
    max: Duration,
    attempt: u32,
}

impl Backoff {
    pub fn new(initial: Duration, max: Duration) -> Self {
        Self {
            initial,
            max: max.max(initial),
            attempt: 0,
        }
    }

    /// The delay before the next restart; each call doubles the base.
    pub fn next_delay(&mut self) -> Duration {
        let factor = 2u32.saturating_pow(self.attempt.min(30));
        let base = self.initial.saturating_mul(factor).min(self.max);
        self.attempt = self.attempt.saturating_add(1);
        base.mul_f64(1.0 - JITTER * random_unit())
    }

    /// Back to the first delay (after a healthy run).
    pub fn reset(&mut self) {
        self.attempt = 0;
    }
}

/// A uniform value in [0, 1).
fn random_unit() -> f64 {
    let mut b = [0u8; 8];
    if getrandom::fill(&mut b).is_err() {
        return 0.5;
    }
    (u64::from_le_bytes(b) >> 11) as f64 / (1u64 << 53) as f64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn doubles_with_jitter_up_to_the_cap_and_resets() {
        let mut b = Backoff::new(Duration::from_millis(500), Duration::from_secs(30));
        let delays: Vec<Duration> = (0..10).map(|_| b.next_delay()).collect();
        for (n, d) in delays.iter().enumerate() {
            let base = Duration::from_millis(500 * (1 << n)).min(Duration::from_secs(30));
            assert!(*d <= base && *d >= base.mul_f64(0.75), "{n}: {d:?}");
        }
        for w in delays[..7].windows(2) {
            assert!(w[1] > w[0], "{delays:?}");
        }
        b.reset();
        assert!(b.next_delay() <= Duration::from_millis(500));
    }
}
