//! `GET /metrics`: what the daemon knows, in Prometheus's text format or OpenMetrics.
//!
//! Families, by where they come from:
//! - `usage`: tokens (`clown_tokens_total{kind}`), cost (`clown_cost_usd_total`) and
//!   responses per profile, agent, provider and model, from the store's totals table
//!   (never a scan of events), read on a reader connection.
//! - `requests`: proxy requests by profile, target and status, with duration and
//!   time-to-first-byte histograms, from the proxies' reports (in memory).
//! - [`Snapshot`]: proxies by state and their restarts, terminal sessions by state, the
//!   shared-database sync, gathered by the handler from the components.
//! - `imports`: the Claude Code import's progress.
//! - `process`: the daemon's CPU, memory, descriptors and start time.
//!
//! Key pools and rate-limit windows are not modelled yet: when they are, their gauges
//! (`clown_key_pool_keys{profile,state}`, `clown_limit_utilization_ratio{profile,window}`)
//! go in a file of their own here and are written from [`Snapshot`].
//!
//! Names follow Prometheus's conventions: a `clown_` prefix, `_total` counters, base
//! units (`_seconds`, `_bytes`, `_usd`), and no label whose values grow without bound
//! (no session or request ids).

pub mod gzip;
pub mod imports;
pub mod process;
pub mod requests;
pub mod text;
pub mod usage;

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use gzip::{Gzip, Piece};
use text::{Format, Kind, Writer};
use usage::{UsageCache, UsageSamples};

/// (profile, state, restarts) of every proxy the supervisor knows.
pub type Proxies = Vec<(String, &'static str, u32)>;

/// What the components say at the moment of a scrape.
#[derive(Debug, Default)]
pub struct Snapshot {
    pub proxies: Proxies,
    /// Terminal sessions: (running, terminated).
    pub sessions: (u64, u64),
    pub sync: Option<SyncGauges>,
}

/// The shared-database sync, when configured.
#[derive(Debug, Default, Clone)]
pub struct SyncGauges {
    pub connected: bool,
    /// Changes recorded locally and not yet in the shared database.
    pub backlog: u64,
    pub pushed_events: u64,
    pub pushed_sessions: u64,
    pub errors: u64,
    /// Unix seconds of the last successful push (0: none yet).
    pub last_push: i64,
}

/// The proxies' states, always all listed (0 or 1), so a dashboard can sum by state.
const PROXY_STATES: [&str; 5] = ["starting", "running", "backoff", "stopped", "failed"];

/// What scrapes keep between them: the usage families, and the proxies' families as last
/// written in each format with the states they show.
#[derive(Default)]
pub struct ScrapeCache {
    pub usage: UsageCache,
    proxies: Mutex<[Option<Written>; 2]>,
    /// Scrapes served, by format (text, OpenMetrics) and encoding (identity, gzip).
    scrapes: [[AtomicU64; 2]; 2],
}

/// The proxies' families as written, with the states they show.
type Written = (Proxies, Arc<Piece>);

/// A scrape's body.
pub enum Body {
    /// The plain text, as pieces kept between scrapes and the scrape's own tail.
    Plain(Vec<Bytes>),
    /// One gzip member (`Content-Encoding: gzip`).
    Gzip(Vec<u8>),
}

impl ScrapeCache {
    /// The whole body: the usage families (`usage`, refreshed by the caller on a store
    /// reader), then the proxies' requests and states (kept while unchanged), then what
    /// changes every scrape.
    pub fn body(
        &self,
        format: Format,
        gzip: bool,
        usage: &UsageSamples,
        requests: &requests::RequestStats,
        imports: &imports::ImportStats,
        snap: Snapshot,
    ) -> Body {
        self.scrapes[usize::from(format == Format::OpenMetrics)][usize::from(gzip)]
            .fetch_add(1, Ordering::Relaxed);
        let requests = requests.piece(format);
        let proxies = self.proxies(format, snap.proxies);
        let mut tail = Writer::new(format, 4096);
        write_tail(&mut tail, imports, snap.sessions, snap.sync.as_ref());
        self.write_scrapes(&mut tail);
        let tail = tail.finish();
        if gzip {
            let mut gz = Gzip::new(1 << 19);
            self.usage.gzip(usage, format, &mut gz);
            gz.push(requests.gz());
            gz.push(proxies.gz());
            Body::Gzip(gz.finish(&tail))
        } else {
            let mut out = Vec::with_capacity(1024);
            self.usage.plain(usage, format, &mut out);
            out.push(requests.plain().clone());
            out.push(proxies.plain().clone());
            out.push(Bytes::from(tail));
            Body::Plain(out)
        }
    }

    fn proxies(&self, format: Format, proxies: Proxies) -> Arc<Piece> {
        let mut slots = self.proxies.lock().unwrap_or_else(|p| p.into_inner());
        let slot = &mut slots[usize::from(format == Format::OpenMetrics)];
        if let Some((seen, piece)) = slot.as_ref()
            && *seen == proxies
        {
            return piece.clone();
        }
        let mut out = Writer::new(format, 256 * proxies.len() + 1024);
        write_proxies(&mut out, &proxies);
        let piece = Arc::new(Piece::new(out.into_bytes()));
        *slot = Some((proxies, piece.clone()));
        piece
    }
}

impl ScrapeCache {
    fn write_scrapes(&self, out: &mut Writer) {
        out.family(
            "clown_metrics_scrapes",
            Kind::Counter,
            "Scrapes of /metrics served (this one included), by format and content encoding.",
        );
        for (format, by_encoding) in ["text", "openmetrics"].into_iter().zip(&self.scrapes) {
            for (encoding, n) in ["identity", "gzip"].into_iter().zip(by_encoding) {
                out.sample(
                    "clown_metrics_scrapes_total",
                    &[("format", format), ("encoding", encoding)],
                    n.load(Ordering::Relaxed),
                );
            }
        }
    }
}

fn write_proxies(out: &mut Writer, proxies: &Proxies) {
    out.family(
        "clown_proxy_state",
        Kind::Gauge,
        "1 for the state each profile's proxy is in.",
    );
    for (profile, state, _) in proxies {
        for s in PROXY_STATES {
            let v = u64::from(*state == s);
            out.sample(
                "clown_proxy_state",
                &[("profile", profile), ("state", s)],
                v,
            );
        }
    }
    out.family(
        "clown_proxy_restarts",
        Kind::Counter,
        "Restarts of each proxy after crashes since it was last started by hand.",
    );
    for (profile, _, restarts) in proxies {
        out.sample(
            "clown_proxy_restarts_total",
            &[("profile", profile)],
            u64::from(*restarts),
        );
    }
}

/// What may change every scrape: sessions, imports, sync, build, the process.
fn write_tail(
    out: &mut Writer,
    imports: &imports::ImportStats,
    sessions: (u64, u64),
    sync: Option<&SyncGauges>,
) {
    out.family(
        "clown_terminal_sessions",
        Kind::Gauge,
        "Terminal sessions the daemon holds, by state.",
    );
    out.sample(
        "clown_terminal_sessions",
        &[("state", "running")],
        sessions.0,
    );
    out.sample(
        "clown_terminal_sessions",
        &[("state", "terminated")],
        sessions.1,
    );
    imports.write(out);
    if let Some(s) = sync {
        write_sync(out, s);
    }
    out.family("clown_build_info", Kind::Gauge, "The daemon's version.");
    out.sample(
        "clown_build_info",
        &[("version", env!("CARGO_PKG_VERSION"))],
        1u64,
    );
    process::write(out);
}

fn write_sync(out: &mut Writer, s: &SyncGauges) {
    for (name, kind, help, value) in [
        (
            "clown_sync_connected",
            Kind::Gauge,
            "1 while the shared database is reachable.",
            u64::from(s.connected),
        ),
        (
            "clown_sync_backlog_changes",
            Kind::Gauge,
            "Usage changes recorded here and not yet in the shared database.",
            s.backlog,
        ),
        (
            "clown_sync_pushed_events",
            Kind::Counter,
            "Usage events pushed to the shared database since the daemon started.",
            s.pushed_events,
        ),
        (
            "clown_sync_pushed_sessions",
            Kind::Counter,
            "Sessions pushed to the shared database since the daemon started.",
            s.pushed_sessions,
        ),
        (
            "clown_sync_errors",
            Kind::Counter,
            "Failed connections or pushes to the shared database since the daemon started.",
            s.errors,
        ),
        (
            "clown_sync_last_push_timestamp_seconds",
            Kind::Gauge,
            "When a push last succeeded (Unix seconds; 0: none yet).",
            s.last_push.max(0) as u64,
        ),
    ] {
        out.family(name, kind, help);
        let sample = if kind == Kind::Counter {
            format!("{name}_total")
        } else {
            name.to_string()
        };
        out.sample(&sample, &[], value);
    }
}

/// Every metric name the daemon can serve (sample names: `_total`, `_bucket`, …), for
/// checking the shipped dashboard against.
pub const SERVED: &[&str] = &[
    "clown_tokens_total",
    "clown_cost_usd_total",
    "clown_responses_total",
    "clown_proxy_requests_total",
    "clown_proxy_request_duration_seconds_bucket",
    "clown_proxy_request_duration_seconds_sum",
    "clown_proxy_request_duration_seconds_count",
    "clown_proxy_time_to_first_byte_seconds_bucket",
    "clown_proxy_time_to_first_byte_seconds_sum",
    "clown_proxy_time_to_first_byte_seconds_count",
    "clown_proxy_state",
    "clown_proxy_restarts_total",
    "clown_terminal_sessions",
    "clown_import_running",
    "clown_import_files_done",
    "clown_import_files",
    "clown_import_bytes_done",
    "clown_import_bytes",
    "clown_import_runs_total",
    "clown_import_failures_total",
    "clown_import_events_added_total",
    "clown_import_last_success_timestamp_seconds",
    "clown_sync_connected",
    "clown_sync_backlog_changes",
    "clown_sync_pushed_events_total",
    "clown_sync_pushed_sessions_total",
    "clown_sync_errors_total",
    "clown_sync_last_push_timestamp_seconds",
    "clown_build_info",
    "clown_metrics_scrapes_total",
    "process_cpu_seconds_total",
    "process_virtual_memory_bytes",
    "process_resident_memory_bytes",
    "process_open_fds",
    "process_max_fds",
    "process_start_time_seconds",
];
