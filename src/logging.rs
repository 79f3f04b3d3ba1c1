//! Logging setup: journald when stderr is the journal, else human-readable stderr.
//!
//! `JOURNAL_STREAM` holds `DEVICE:INODE` of the journal stream systemd connected to our
//! stderr; only when stderr still is that stream do we log to journald natively. A
//! bounded in-memory tail of recent lines feeds the API and the UI's log page.

use std::collections::VecDeque;
use std::fmt::Write as _;
use std::os::unix::fs::MetadataExt;
use std::sync::{Arc, Mutex};

use tracing::field::{Field, Visit};
use tracing::{Event, Subscriber};
use tracing_subscriber::EnvFilter;
use tracing_subscriber::layer::{Context, SubscriberExt};
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::{Layer, reload};

use crate::events::EventBus;

const TAIL_LINES: usize = 1000;

/// Recent log lines, newest last.
#[derive(Clone, Default)]
pub struct LogTail {
    inner: Arc<Mutex<TailInner>>,
}

#[derive(Default)]
struct TailInner {
    lines: VecDeque<String>,
    bus: Option<EventBus>,
}

impl LogTail {
    pub fn lines(&self, n: usize) -> Vec<String> {
        let inner = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        let skip = inner.lines.len().saturating_sub(n);
        inner.lines.iter().skip(skip).cloned().collect()
    }

    /// Also publish every new line on `bus` as a `log` event.
    pub fn attach_bus(&self, bus: EventBus) {
        self.inner.lock().unwrap_or_else(|p| p.into_inner()).bus = Some(bus);
    }

    fn push(&self, line: String) {
        let mut inner = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        if inner.lines.len() == TAIL_LINES {
            inner.lines.pop_front();
        }
        if let Some(bus) = &inner.bus {
            bus.publish("log", serde_json::Value::String(line.clone()));
        }
        inner.lines.push_back(line);
    }
}

struct TailLayer(LogTail);

struct LineVisitor(String);

impl Visit for LineVisitor {
    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        if field.name() == "message" {
            let _ = write!(self.0, " {value:?}");
        } else {
            let _ = write!(self.0, " {}={value:?}", field.name());
        }
    }
    fn record_str(&mut self, field: &Field, value: &str) {
        if field.name() == "message" {
            let _ = write!(self.0, " {value}");
        } else {
            let _ = write!(self.0, " {}={value}", field.name());
        }
    }
}

impl<S: Subscriber> Layer<S> for TailLayer {
    fn on_event(&self, event: &Event<'_>, _ctx: Context<'_, S>) {
        let meta = event.metadata();
        let mut v = LineVisitor(format!(
            "{} {:>5} {}:",
            crate::time::now_rfc3339(),
            meta.level(),
            meta.target()
        ));
        event.record(&mut v);
        self.0.push(v.0);
    }
}

/// Handle to change the filter at run time (SIGHUP reload).
pub type FilterHandle = reload::Handle<EnvFilter, tracing_subscriber::Registry>;

fn stderr_is_journal(journal_stream: Option<&str>) -> bool {
    let Some((dev, ino)) = journal_stream.and_then(|s| s.split_once(':')) else {
        return false;
    };
    let Ok(meta) =
        std::fs::metadata("/proc/self/fd/2").or_else(|_| std::fs::metadata("/dev/stderr"))
    else {
        return false;
    };
    dev.parse::<u64>().ok() == Some(meta.dev()) && ino.parse::<u64>().ok() == Some(meta.ino())
}

/// Parses a filter, falling back to `info` (and saying so) when it does not parse.
pub fn parse_filter(filter: &str) -> EnvFilter {
    EnvFilter::try_new(filter).unwrap_or_else(|e| {
        eprintln!("warning: ignoring invalid log filter '{filter}': {e}");
        EnvFilter::new("info")
    })
}

/// Colour only for a person at a terminal: a log file (the CLI starts the daemon with
/// stderr on `daemon.log`) or a pipe gets plain text, and `NO_COLOR` turns it off.
fn colour() -> bool {
    use std::io::IsTerminal;
    std::io::stderr().is_terminal() && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty())
}

/// Installs the global subscriber. Returns the tail and a handle to swap the filter.
pub fn init(filter: &str, journal_stream: Option<&str>) -> (LogTail, Option<FilterHandle>) {
    let tail = LogTail::default();
    let (filter, handle) = reload::Layer::new(parse_filter(filter));
    let registry = tracing_subscriber::registry()
        .with(filter)
        .with(TailLayer(tail.clone()));
    let journald = if stderr_is_journal(journal_stream) {
        tracing_journald::layer().ok()
    } else {
        None
    };
    let ok = match journald {
        Some(j) => registry.with(j).try_init().is_ok(),
        None => registry
            .with(
                tracing_subscriber::fmt::layer()
                    .with_writer(std::io::stderr)
                    .with_ansi(colour()),
            )
            .try_init()
            .is_ok(),
    };
    (tail, ok.then_some(handle))
}

/// Minimal stderr logging for client commands.
pub fn init_client(filter: &str) {
    let _ = tracing_subscriber::registry()
        .with(parse_filter(filter))
        .with(
            tracing_subscriber::fmt::layer()
                .with_writer(std::io::stderr)
                .with_ansi(colour()),
        )
        .try_init();
}
