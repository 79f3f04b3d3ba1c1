//! The proxy child, `clown proxy --profile ALIAS --port N`: a small HTTP/1.1 server on
//! 127.0.0.1:N in front of the profile's provider.
//!
//! First it makes itself non-dumpable ([`harden`]), so other processes of the same user —
//! the agent it shields among them — can neither read its memory nor its `/proc` files,
//! and it leaves no core dump. Then it reads its [`Plan`] from the first line of standard
//! input (a pipe the daemon's supervisor holds; the real keys are never on the command
//! line or in the environment), answers `/health`, and forwards `/v1/*` through
//! [`Forwarder`]; the lines the daemon writes after the plan set or lift a budget's stop
//! ([`control`]). SIGTERM or SIGINT — or, under the daemon, standard input closing —
//! stops it: it stops accepting, lets in-flight requests finish (bounded), flushes the
//! usage queue to the daemon, and exits 0.

use std::convert::Infallible;
use std::io::IsTerminal;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, bail};
use hyper::service::service_fn;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::Watcher;
use tokio::net::{TcpListener, TcpStream};
use tokio::signal::unix::{SignalKind, signal};

use super::control::{self, Gate};
use super::forward::Forwarder;
use super::plan::{self, Plan, ReadError};
use super::report::Reporter;
use super::workers::{self, Open, Workers, keep_timer_due, runtime};

/// How long in-flight requests get at shutdown.
const DRAIN: Duration = Duration::from_secs(5);
const FLUSH: Duration = Duration::from_secs(5);

/// Runs the child until told to stop; returns the exit code.
pub fn run(alias: &str, port: u16) -> anyhow::Result<i32> {
    harden()?;
    let hint = format!(
        "the proxy child is started by the daemon, which hands it its plan; use 'clown proxy start {alias}'"
    );
    let stdin = std::io::stdin();
    if stdin.is_terminal() {
        bail!("no plan on standard input: {hint}");
    }
    let plan = match plan::read(stdin.lock()) {
        Ok(p) => p,
        Err(ReadError::Missing) => bail!("no plan on standard input: {hint}"),
        Err(e) => return Err(e.into()),
    };
    if plan.profile != alias {
        bail!("the plan is for profile '{}', not '{alias}'", plan.profile);
    }
    if plan.targets.is_empty() {
        bail!("the plan has no upstream target");
    }
    // Each thread a current-thread runtime of its own, a connection served on one of
    // them from start to end (`workers`): none of a request's wake-ups cross threads.
    let runtime = runtime(plan.busy_poll_us)?;
    let code = runtime.block_on(serve(plan, port))?;
    runtime.shutdown_timeout(Duration::from_millis(100));
    Ok(code)
}

/// Serves one agent connection on this thread's runtime until it ends.
fn serve_connection(stream: TcpStream, forwarder: Arc<Forwarder>, watcher: Watcher, open: Open) {
    let _ = stream.set_nodelay(true);
    let service = service_fn(move |req| {
        let f = forwarder.clone();
        async move { Ok::<_, Infallible>(f.handle(req).await) }
    });
    let conn = hyper::server::conn::http1::Builder::new()
        .timer(TokioTimer::new())
        .header_read_timeout(Duration::from_secs(60))
        .keep_alive(true)
        .serve_connection(TokioIo::new(stream), service);
    let conn = watcher.watch(conn);
    tokio::spawn(async move {
        if let Err(e) = conn.await {
            tracing::debug!("connection ended with error: {e}");
        }
        drop(open);
    });
}

/// Makes this process non-dumpable: its memory (`/proc/PID/mem`), environment and
/// other `/proc` files become root's, `ptrace` by the same user is refused, and a crash
/// writes no core file holding the keys. Done before the plan is read.
#[cfg(target_os = "linux")]
fn harden() -> anyhow::Result<()> {
    nix::sys::prctl::set_dumpable(false).context("cannot make the proxy non-dumpable")
}

/// Elsewhere there is no such switch; the plan still never touches the environment.
#[cfg(not(target_os = "linux"))]
fn harden() -> anyhow::Result<()> {
    Ok(())
}

async fn serve(plan: Plan, port: u16) -> anyhow::Result<i32> {
    let listener = TcpListener::bind(("127.0.0.1", port))
        .await
        .with_context(|| format!("cannot listen on 127.0.0.1:{port}"))?;
    let (reporter, reporter_task) =
        Reporter::spawn(plan.daemon_url.clone(), plan.daemon_token.clone());
    let stdin_eof = plan.exit_on_stdin_eof;
    let (threads, busy_poll_us) = (workers::count(plan.threads), plan.busy_poll_us);
    let gate = Arc::new(Gate::new(plan.stop.clone()));
    let forwarder = Arc::new(
        Forwarder::new(plan, reporter, gate.clone())
            .map_err(|e| anyhow::anyhow!("invalid plan: {e}"))?,
    );
    let p = forwarder.plan();
    let names: Vec<String> = p
        .targets
        .iter()
        .map(|t| format!("{} {}", t.provider, t.base_url))
        .collect();
    tracing::info!(
        "proxy for profile '{}' listening on 127.0.0.1:{port} (pid {}, {threads} thread{}); upstream: {}",
        p.profile,
        std::process::id(),
        if threads == 1 { "" } else { "s" },
        names.join(", then ")
    );
    let mut term = signal(SignalKind::terminate()).context("cannot watch SIGTERM")?;
    let mut int = signal(SignalKind::interrupt()).context("cannot watch SIGINT")?;
    // After the plan the pipe carries the daemon's control lines; its end means the
    // daemon is gone.
    let parent_gone = async move {
        if !stdin_eof {
            return std::future::pending().await;
        }
        control::follow(tokio::io::stdin(), gate).await;
    };
    tokio::pin!(parent_gone);
    let graceful = hyper_util::server::graceful::GracefulShutdown::new();
    keep_timer_due();
    let workers = Workers::start(threads, busy_poll_us, &forwarder, serve_connection);
    let reason = loop {
        let (stream, _) = tokio::select! {
            _ = term.recv() => break "SIGTERM",
            _ = int.recv() => break "SIGINT",
            _ = &mut parent_gone => break "the daemon went away",
            accepted = listener.accept() => match accepted {
                Ok(pair) => pair,
                Err(e) => {
                    tracing::warn!("accept failed: {e}");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
        };
        if let Some((stream, watcher, open)) = workers.place(stream, graceful.watcher()) {
            serve_connection(stream, forwarder.clone(), watcher, open);
        }
    };
    tracing::info!("stopping ({reason})");
    drop(listener);
    if tokio::time::timeout(DRAIN, graceful.shutdown())
        .await
        .is_err()
    {
        tracing::warn!("requests still running after {DRAIN:?}; cutting them");
    }
    workers.stop(DRAIN).await;
    drop(forwarder);
    reporter_task.flush(FLUSH).await;
    tracing::info!("stopped");
    Ok(0)
}
