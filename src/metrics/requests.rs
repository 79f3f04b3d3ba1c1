//! Proxy requests as the proxies report them (counted per target and status in the proxy,
//! [`RequestCounts`], in the usage batches they already post): a count per profile, target
//! and status, and histograms of the whole duration and of the time to the first body byte
//! per profile and target. Kept in memory since the daemon started (Prometheus sees a
//! restart as a counter reset), behind one short lock.
//!
//! The label sets are bounded: past [`MAX_SERIES`] combinations new ones are counted
//! under target `other`, so a misbehaving proxy cannot grow the scrape without end.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use super::gzip::Piece;
use super::text::{Format, Kind, Writer, labels};
use crate::records::Histogram;
pub use crate::records::{BUCKETS, ProxyRequest, RequestCounts};

/// Most (profile, target, status) combinations kept apart.
pub const MAX_SERIES: usize = 10_000;

/// Requests counted by profile, target and status, apart from the daemon's totals: a
/// batch's thousand requests become a few entries, added under the lock at once.
#[derive(Debug, Default)]
pub struct Tally {
    requests: BTreeMap<(String, String, u16), u64>,
    duration: BTreeMap<(String, String), Histogram>,
    ttfb: BTreeMap<(String, String), Histogram>,
}

impl Tally {
    /// The requests of a batch: counted by its proxy (`counts`), or one by one (`requests`,
    /// as the route first took them).
    pub fn of(counts: &[RequestCounts], requests: &[ProxyRequest]) -> Self {
        let mut tally = Self::default();
        for c in counts {
            tally.add(c);
        }
        for r in requests {
            tally.add(&RequestCounts::of(r));
        }
        tally
    }

    fn add(&mut self, c: &RequestCounts) {
        let pair = (c.profile.clone(), c.target.clone());
        *self
            .requests
            .entry((pair.0.clone(), pair.1.clone(), c.status))
            .or_default() += c.duration.count;
        self.duration
            .entry(pair.clone())
            .or_default()
            .merge(&c.duration);
        if !c.ttfb.is_empty() {
            self.ttfb.entry(pair).or_default().merge(&c.ttfb);
        }
    }
}

#[derive(Default)]
struct Inner {
    requests: BTreeMap<(String, String, u16), u64>,
    duration: BTreeMap<(String, String), Histogram>,
    ttfb: BTreeMap<(String, String), Histogram>,
    /// Bumped by every report.
    generation: u64,
    /// The families as last written in each format, with the generation they show.
    written: [Option<(u64, Arc<Piece>)>; 2],
}

#[derive(Default)]
pub struct RequestStats(Mutex<Inner>);

impl RequestStats {
    /// Adds requests already counted by [`Tally::of`] (a short lock: the counting is
    /// done before, off the request's path).
    pub fn add(&self, tally: Tally) {
        if tally.requests.is_empty() {
            return;
        }
        let mut guard = self.0.lock().unwrap_or_else(|p| p.into_inner());
        let inner = &mut *guard;
        inner.generation += 1;
        for ((profile, target, status), n) in tally.requests {
            let mut key = (profile, target, status);
            if inner.requests.len() >= MAX_SERIES && !inner.requests.contains_key(&key) {
                key.1 = "other".into();
            }
            let total = inner.requests.entry(key).or_default();
            *total = total.saturating_add(n);
        }
        for (map, tally) in [
            (&mut inner.duration, tally.duration),
            (&mut inner.ttfb, tally.ttfb),
        ] {
            for (mut pair, h) in tally {
                if map.len() >= MAX_SERIES && !map.contains_key(&pair) {
                    pair.1 = "other".into();
                }
                map.entry(pair).or_default().merge(&h);
            }
        }
    }

    /// The families in `format`, written again only after a report.
    pub fn piece(&self, format: Format) -> Arc<Piece> {
        let mut inner = self.0.lock().unwrap_or_else(|p| p.into_inner());
        let slot = usize::from(format == Format::OpenMetrics);
        if let Some((generation, piece)) = &inner.written[slot]
            && *generation == inner.generation
        {
            return piece.clone();
        }
        let mut out = Writer::new(format, 4096);
        inner.write(&mut out);
        let piece = Arc::new(Piece::new(out.into_bytes()));
        inner.written[slot] = Some((inner.generation, piece.clone()));
        piece
    }
}

impl Inner {
    fn write(&self, out: &mut Writer) {
        let inner = self;
        out.family(
            "clown_proxy_requests",
            Kind::Counter,
            "Requests the proxies sent upstream, by profile, target (provider) and HTTP status (502/504 when the target could not be reached or timed out), since the daemon started.",
        );
        for ((profile, target, status), n) in &inner.requests {
            let status = status.to_string();
            out.sample(
                "clown_proxy_requests_total",
                &[
                    ("profile", profile),
                    ("target", target),
                    ("status", &status),
                ],
                *n,
            );
        }
        for (name, help, map) in [
            (
                "clown_proxy_request_duration_seconds",
                "Time from the request reaching the proxy to the end of the response body, per upstream attempt.",
                &inner.duration,
            ),
            (
                "clown_proxy_time_to_first_byte_seconds",
                "Time from the request reaching the proxy to the first body byte from upstream.",
                &inner.ttfb,
            ),
        ] {
            out.family(name, Kind::Histogram, help);
            for ((profile, target), h) in map {
                let base = labels(&[("profile", profile), ("target", target)]);
                let mut cumulative = 0;
                for (bound, n) in BUCKETS.iter().zip(h.buckets) {
                    cumulative += n;
                    let le = format!(",le=\"{bound}\"");
                    out.sample_raw(&format!("{name}_bucket"), &base, &le, cumulative);
                }
                out.sample_raw(&format!("{name}_bucket"), &base, ",le=\"+Inf\"", h.count);
                out.sample_raw(&format!("{name}_sum"), &base, "", h.sum);
                out.sample_raw(&format!("{name}_count"), &base, "", h.count);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_and_cumulative_buckets() {
        let stats = RequestStats::default();
        let r = |status, d, t| ProxyRequest {
            profile: "p".into(),
            target: "anthropic".into(),
            status,
            duration_seconds: d,
            ttfb_seconds: t,
        };
        // One of them counted by its proxy, the others one by one.
        stats.add(Tally::of(
            &[RequestCounts::of(&r(200, 0.2, Some(0.05)))],
            &[r(200, 3.0, Some(0.3)), r(529, 0.02, None)],
        ));
        let text = String::from_utf8(stats.piece(Format::Text).plain().to_vec()).unwrap();
        // Kept while nothing is reported; written again after a report.
        assert!(Arc::ptr_eq(
            &stats.piece(Format::Text),
            &stats.piece(Format::Text)
        ));
        stats.add(Tally::of(&[], &[r(200, 0.2, None)]));
        let again = String::from_utf8(stats.piece(Format::Text).plain().to_vec()).unwrap();
        assert!(again.contains(
            "clown_proxy_requests_total{profile=\"p\",target=\"anthropic\",status=\"200\"} 3"
        ));
        for line in [
            "clown_proxy_requests_total{profile=\"p\",target=\"anthropic\",status=\"200\"} 2",
            "clown_proxy_requests_total{profile=\"p\",target=\"anthropic\",status=\"529\"} 1",
            "clown_proxy_request_duration_seconds_bucket{profile=\"p\",target=\"anthropic\",le=\"0.025\"} 1",
            "clown_proxy_request_duration_seconds_bucket{profile=\"p\",target=\"anthropic\",le=\"0.25\"} 2",
            "clown_proxy_request_duration_seconds_bucket{profile=\"p\",target=\"anthropic\",le=\"+Inf\"} 3",
            "clown_proxy_request_duration_seconds_count{profile=\"p\",target=\"anthropic\"} 3",
            "clown_proxy_time_to_first_byte_seconds_count{profile=\"p\",target=\"anthropic\"} 2",
        ] {
            assert!(text.contains(line), "{line} in\n{text}");
        }
    }
}
