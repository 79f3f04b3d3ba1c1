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

pub mod imports;
pub mod process;
pub mod requests;
pub mod text;
pub mod usage;

use text::{Format, Kind, Writer};

/// What the components say at the moment of a scrape.
#[derive(Debug, Default)]
pub struct Snapshot {
    /// (profile, state, restarts) of every proxy the supervisor knows.
    pub proxies: Vec<(String, &'static str, u32)>,
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

/// Everything after the usage families (which the caller writes from the store).
pub fn write_rest(
    out: &mut Writer,
    requests: &requests::RequestStats,
    imports: &imports::ImportStats,
    snap: &Snapshot,
) {
    requests.write(out);
    out.family(
        "clown_proxy_state",
        Kind::Gauge,
        "1 for the state each profile's proxy is in.",
    );
    for (profile, state, _) in &snap.proxies {
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
    for (profile, _, restarts) in &snap.proxies {
        out.sample(
            "clown_proxy_restarts_total",
            &[("profile", profile)],
            u64::from(*restarts),
        );
    }
    out.family(
        "clown_terminal_sessions",
        Kind::Gauge,
        "Terminal sessions the daemon holds, by state.",
    );
    out.sample(
        "clown_terminal_sessions",
        &[("state", "running")],
        snap.sessions.0,
    );
    out.sample(
        "clown_terminal_sessions",
        &[("state", "terminated")],
        snap.sessions.1,
    );
    imports.write(out);
    if let Some(s) = &snap.sync {
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

/// A new writer for a scrape in `format`.
pub fn writer(format: Format) -> Writer {
    Writer::new(format, 1 << 16)
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
    "process_cpu_seconds_total",
    "process_virtual_memory_bytes",
    "process_resident_memory_bytes",
    "process_open_fds",
    "process_max_fds",
    "process_start_time_seconds",
];
