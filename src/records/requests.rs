//! A proxy's upstream attempts, for the daemon's `/metrics`: how many per target and
//! status, with histograms of their durations and times to first byte.
//!
//! A proxy counts its attempts itself ([`RequestCounts`], one entry per target and status)
//! and sends the counts with its usage batches, so a busy proxy's batch carries a few
//! entries, not one record per request (written, copied, posted, read and checked one by
//! one, that was a quarter of a batch's bytes). [`ProxyRequest`], one attempt, is what a
//! proxy hands its reporter, and what the route still takes as it was first documented.

use serde::{Deserialize, Serialize};

use super::check_text;

/// Upper bounds (seconds) of the histogram buckets: model answers take from tens of
/// milliseconds (a cached error) to minutes (a long stream).
pub const BUCKETS: [f64; 14] = [
    0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0,
];
/// Most attempts one entry may count: far above a proxy's batch, far below where sums
/// could overflow.
const MAX_COUNT: u64 = 1_000_000_000_000;
/// The longest duration an attempt may have, in seconds (a day).
const MAX_SECONDS: f64 = 86_400.0;

/// Observations of a duration in seconds, per bucket of [`BUCKETS`] (not cumulative: an
/// observation above the last bound is only in `count`), with their count and sum.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Histogram {
    pub buckets: [u64; BUCKETS.len()],
    pub count: u64,
    pub sum: f64,
}

impl Histogram {
    pub fn observe(&mut self, seconds: f64) {
        if let Some(i) = BUCKETS.iter().position(|b| seconds <= *b) {
            self.buckets[i] += 1;
        }
        self.count += 1;
        self.sum += seconds;
    }

    pub fn merge(&mut self, other: &Histogram) {
        for (b, n) in self.buckets.iter_mut().zip(other.buckets) {
            *b = b.saturating_add(n);
        }
        self.count = self.count.saturating_add(other.count);
        self.sum += other.sum;
    }

    pub fn is_empty(&self) -> bool {
        self.count == 0
    }

    /// At most [`MAX_COUNT`] observations, no more in the buckets than in all, and a sum
    /// that durations of 0 to a day each can make.
    fn validate(&self, what: &str) -> Result<(), String> {
        if self.count > MAX_COUNT {
            return Err(format!("{what}.count is over {MAX_COUNT}"));
        }
        let bucketed = self
            .buckets
            .iter()
            .try_fold(0u64, |all, n| all.checked_add(*n));
        if bucketed.is_none_or(|n| n > self.count) {
            return Err(format!("{what}.buckets count more than {what}.count"));
        }
        if !(self.sum.is_finite() && (0.0..=self.count as f64 * MAX_SECONDS).contains(&self.sum)) {
            return Err(format!(
                "{what}.sum must be between 0 and {MAX_SECONDS} seconds per observation"
            ));
        }
        Ok(())
    }
}

/// One upstream attempt of a proxy: which target, the status the agent got or would have
/// got from it (502 unreachable, 504 timed out), how long the whole response took and
/// when its first body byte came.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProxyRequest {
    pub profile: String,
    /// The target's provider id.
    pub target: String,
    pub status: u16,
    pub duration_seconds: f64,
    #[serde(default)]
    pub ttfb_seconds: Option<f64>,
}

impl ProxyRequest {
    /// A provider-like target (a metric label: short, plain), a real status, and
    /// durations between 0 and a day.
    pub fn validate(&self) -> Result<(), String> {
        check_attempts(&self.profile, &self.target, self.status)?;
        for (what, v) in [
            ("duration_seconds", Some(self.duration_seconds)),
            ("ttfb_seconds", self.ttfb_seconds),
        ] {
            if let Some(v) = v
                && !(v.is_finite() && (0.0..=MAX_SECONDS).contains(&v))
            {
                return Err(format!("{what} must be between 0 and 86400"));
            }
        }
        Ok(())
    }
}

/// A proxy's attempts of one target that ended with one status: how many, how long they
/// took, and when the first body byte came for those that had one.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RequestCounts {
    pub profile: String,
    /// The target's provider id.
    pub target: String,
    pub status: u16,
    /// Every attempt's whole duration (its count is the attempts').
    pub duration: Histogram,
    /// The time to the first body byte, of the attempts that had one.
    #[serde(default, skip_serializing_if = "Histogram::is_empty")]
    pub ttfb: Histogram,
}

impl RequestCounts {
    /// No attempts yet.
    pub fn new(profile: &str, target: &str, status: u16) -> Self {
        Self {
            profile: profile.to_string(),
            target: target.to_string(),
            status,
            duration: Histogram::default(),
            ttfb: Histogram::default(),
        }
    }

    /// One attempt, as one entry.
    pub fn of(request: &ProxyRequest) -> Self {
        let mut counts = Self::new(&request.profile, &request.target, request.status);
        counts.observe(request.duration_seconds, request.ttfb_seconds);
        counts
    }

    /// Counts one more attempt.
    pub fn observe(&mut self, duration_seconds: f64, ttfb_seconds: Option<f64>) {
        self.duration.observe(duration_seconds);
        if let Some(t) = ttfb_seconds {
            self.ttfb.observe(t);
        }
    }

    /// Whether this entry counts `target`'s attempts with `status` (of `profile`).
    pub fn is_for(&self, profile: &str, target: &str, status: u16) -> bool {
        self.status == status && self.target == target && self.profile == profile
    }

    /// What [`ProxyRequest::validate`] checks, for at least one attempt, and histograms
    /// that attempts could make (no more first bytes than attempts).
    pub fn validate(&self) -> Result<(), String> {
        check_attempts(&self.profile, &self.target, self.status)?;
        if self.duration.count == 0 {
            return Err("duration.count must be at least 1".into());
        }
        self.duration.validate("duration")?;
        self.ttfb.validate("ttfb")?;
        if self.ttfb.count > self.duration.count {
            return Err("ttfb.count is over duration.count".into());
        }
        Ok(())
    }
}

/// A profile, a provider-like target (a metric label: short, plain) and a real status.
fn check_attempts(profile: &str, target: &str, status: u16) -> Result<(), String> {
    check_text("profile", profile, true)?;
    let plain = |c: char| c.is_ascii_alphanumeric() || "._-".contains(c);
    if target.is_empty() || target.len() > 64 || !target.chars().all(plain) {
        return Err("target must be 1-64 letters, digits, '.', '_' or '-'".into());
    }
    if !(100..=599).contains(&status) {
        return Err(format!("status {status} is not an HTTP status"));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn attempt(status: u16, d: f64, t: Option<f64>) -> ProxyRequest {
        ProxyRequest {
            profile: "p".into(),
            target: "anthropic".into(),
            status,
            duration_seconds: d,
            ttfb_seconds: t,
        }
    }

    #[test]
    fn counted_attempts_are_the_attempts_one_by_one() {
        let mut counts = RequestCounts::new("p", "anthropic", 200);
        for (d, t) in [(0.2, Some(0.05)), (3.0, Some(0.3)), (400.0, None)] {
            counts.observe(d, t);
        }
        let mut one_by_one = RequestCounts::of(&attempt(200, 0.2, Some(0.05)));
        for r in [attempt(200, 3.0, Some(0.3)), attempt(200, 400.0, None)] {
            one_by_one.duration.merge(&RequestCounts::of(&r).duration);
            one_by_one.ttfb.merge(&RequestCounts::of(&r).ttfb);
        }
        assert_eq!(counts, one_by_one);
        assert_eq!(counts.duration.count, 3);
        // 400 s is above the last bound: counted, in no bucket.
        assert_eq!(counts.duration.buckets.iter().sum::<u64>(), 2);
        assert_eq!(
            counts.duration.buckets[4], 1,
            "0.2 s is in the 0.25 s bucket"
        );
        assert_eq!(counts.ttfb.count, 2);
        assert_eq!(counts.validate(), Ok(()));
        assert!(counts.is_for("p", "anthropic", 200));
        assert!(!counts.is_for("p", "anthropic", 529));
        let text = serde_json::to_string(&counts).unwrap();
        assert_eq!(
            serde_json::from_str::<RequestCounts>(&text).unwrap(),
            counts
        );
    }

    #[test]
    fn counts_no_attempts_could_make_are_refused() {
        let good = RequestCounts::of(&attempt(200, 0.2, Some(0.1)));
        type Spoil = fn(&mut RequestCounts);
        let cases: [(&str, Spoil); 7] = [
            ("target", |c| c.target = "a b".into()),
            ("status", |c| c.status = 42),
            ("at least 1", |c| c.duration = Histogram::default()),
            ("more than duration.count", |c| c.duration.buckets[0] = 5),
            ("duration.sum", |c| c.duration.sum = -1.0),
            ("duration.sum", |c| c.duration.sum = 90_000.0),
            ("over duration.count", |c| {
                c.ttfb.observe(0.1);
                c.ttfb.observe(0.1);
            }),
        ];
        for (want, spoil) in cases {
            let mut bad = good.clone();
            spoil(&mut bad);
            let e = bad.validate().unwrap_err();
            assert!(e.contains(want), "{want} in {e}");
        }
        let mut overflow = good.clone();
        overflow.duration.buckets = [u64::MAX; BUCKETS.len()];
        overflow.duration.count = u64::MAX;
        assert!(overflow.validate().is_err());
    }
}
