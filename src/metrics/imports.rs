//! Progress of the Claude Code import (`POST /api/usage/import-claude`), for `/metrics`:
//! whether one runs, how far it is (files and bytes), how many ran and what they added.
//! Updated by the import's progress callback, read at each scrape; atomics only.
//!
//! A watcher that imports as transcripts change would report here too.

use std::sync::atomic::{AtomicU64, Ordering};

use super::text::{Kind, Writer};

#[derive(Default)]
pub struct ImportStats {
    running: AtomicU64,
    files_done: AtomicU64,
    files_total: AtomicU64,
    bytes_done: AtomicU64,
    bytes_total: AtomicU64,
    runs: AtomicU64,
    failures: AtomicU64,
    events_added: AtomicU64,
    last_success: AtomicU64,
}

impl ImportStats {
    pub fn started(&self) {
        self.running.store(1, Ordering::Relaxed);
        for a in [
            &self.files_done,
            &self.files_total,
            &self.bytes_done,
            &self.bytes_total,
        ] {
            a.store(0, Ordering::Relaxed);
        }
    }

    pub fn progress(&self, files: (u64, u64), bytes: (u64, u64)) {
        self.files_done.store(files.0, Ordering::Relaxed);
        self.files_total.store(files.1, Ordering::Relaxed);
        self.bytes_done.store(bytes.0, Ordering::Relaxed);
        self.bytes_total.store(bytes.1, Ordering::Relaxed);
    }

    /// The run ended: with the events it added, or failed (`None`).
    pub fn finished(&self, added: Option<u64>, now: i64) {
        self.running.store(0, Ordering::Relaxed);
        self.runs.fetch_add(1, Ordering::Relaxed);
        match added {
            Some(n) => {
                self.events_added.fetch_add(n, Ordering::Relaxed);
                self.last_success
                    .store(now.max(0) as u64, Ordering::Relaxed);
            }
            None => {
                self.failures.fetch_add(1, Ordering::Relaxed);
            }
        }
    }

    pub fn write(&self, out: &mut Writer) {
        let get = |a: &AtomicU64| a.load(Ordering::Relaxed);
        for (name, kind, help, value) in [
            (
                "clown_import_running",
                Kind::Gauge,
                "1 while a Claude Code import runs.",
                get(&self.running),
            ),
            (
                "clown_import_files_done",
                Kind::Gauge,
                "Files the current (or last) import has read.",
                get(&self.files_done),
            ),
            (
                "clown_import_files",
                Kind::Gauge,
                "Files the current (or last) import reads in all.",
                get(&self.files_total),
            ),
            (
                "clown_import_bytes_done",
                Kind::Gauge,
                "Bytes the current (or last) import has read.",
                get(&self.bytes_done),
            ),
            (
                "clown_import_bytes",
                Kind::Gauge,
                "Bytes the current (or last) import reads in all.",
                get(&self.bytes_total),
            ),
            (
                "clown_import_runs",
                Kind::Counter,
                "Imports run since the daemon started.",
                get(&self.runs),
            ),
            (
                "clown_import_failures",
                Kind::Counter,
                "Imports that failed since the daemon started.",
                get(&self.failures),
            ),
            (
                "clown_import_events_added",
                Kind::Counter,
                "Events the imports added or grew since the daemon started.",
                get(&self.events_added),
            ),
            (
                "clown_import_last_success_timestamp_seconds",
                Kind::Gauge,
                "When an import last finished (Unix seconds; 0: none yet).",
                get(&self.last_success),
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
}
