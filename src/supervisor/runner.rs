//! The task that keeps one profile's proxy up: it takes commands (start, stop, restart)
//! over a channel, owns and waits on the child, and publishes every status change on a
//! watch channel and the event bus (`proxy_state_changed`).
//!
//! Lifecycle: `stopped` → start → `starting` (spawned, polling `/health`) → `running`.
//! A crash (exit, or `/health` silent three times in a row) → `backoff` for the next
//! delay → `starting` again. More than `max_restarts` restarts within the window, or a
//! plan that cannot work (profile gone, unknown provider) → `failed`. A run that stayed
//! up `healthy_reset_secs` starts the delays and the window over.

use std::collections::VecDeque;
use std::sync::{Arc, Weak};
use std::time::{Duration, Instant};

use serde_json::json;
use tokio::sync::{mpsc, oneshot, watch};

use super::backoff::Backoff;
use super::child::{self, ProxyChild};
use super::logfile::LogFile;
use super::start::{self, Started};
use super::status::{ProxyStatus, State};
use super::{Context, PlanFailure, Procs};
use crate::proxy::control::Control;

const HEALTH_MISSES: u32 = 3;

pub enum Cmd {
    /// Start unless already active; the reply says whether it was.
    Start(oneshot::Sender<bool>),
    Stop(oneshot::Sender<()>),
    /// Stop and start again (new settings), if active.
    Restart(oneshot::Sender<()>),
}

enum Outcome {
    Stopped,
    Restart,
    Crashed { error: String, ran: Duration },
    Closed,
}

pub struct Runner {
    alias: String,
    ctx: Arc<Context>,
    /// The supervisor's map, to see which ports other proxies hold.
    procs: Weak<Procs>,
    status: watch::Sender<ProxyStatus>,
    cmds: mpsc::Receiver<Cmd>,
    log: LogFile,
    backoff: Backoff,
    recent: VecDeque<Instant>,
    port: Option<u16>,
}

impl Runner {
    pub fn new(
        alias: String,
        ctx: Arc<Context>,
        procs: Weak<Procs>,
        status: watch::Sender<ProxyStatus>,
        cmds: mpsc::Receiver<Cmd>,
    ) -> Self {
        let config = ctx.config.get();
        let log = LogFile::new(super::logfile::path(&ctx.state_dir, &alias));
        Self {
            alias,
            backoff: Backoff::new(
                Duration::from_millis(config.proxy.restart_initial_ms),
                Duration::from_millis(config.proxy.restart_max_ms),
            ),
            ctx,
            procs,
            status,
            cmds,
            log,
            recent: VecDeque::new(),
            port: None,
        }
    }

    /// Idle (stopped or failed) until a start; returns when the channel closes.
    pub async fn run(mut self) {
        while let Some(cmd) = self.cmds.recv().await {
            match cmd {
                Cmd::Start(reply) => {
                    self.restarts_reset();
                    // `starting` before the reply, so a caller waiting for the outcome
                    // never sees the old state.
                    self.set(|s| {
                        s.status = State::Starting;
                        s.restarts = 0;
                        s.last_error = None;
                        s.last_exit_code = None;
                    });
                    let _ = reply.send(true);
                    if self.active().await {
                        return;
                    }
                }
                Cmd::Stop(reply) => {
                    // Stopping a failed proxy acknowledges it: it is then just stopped.
                    if self.status.borrow().status == State::Failed {
                        self.set(|s| s.status = State::Stopped);
                    }
                    let _ = reply.send(());
                }
                Cmd::Restart(reply) => {
                    let _ = reply.send(());
                }
            }
        }
    }

    fn restarts_reset(&mut self) {
        let c = self.ctx.config.get();
        self.backoff = Backoff::new(
            Duration::from_millis(c.proxy.restart_initial_ms),
            Duration::from_millis(c.proxy.restart_max_ms),
        );
        self.recent.clear();
    }

    fn set(&self, f: impl FnOnce(&mut ProxyStatus)) {
        self.status.send_modify(f);
        let snapshot = self.status.borrow().clone();
        self.ctx
            .events
            .publish("proxy_state_changed", json!(snapshot));
    }

    /// Keeps the proxy up until stopped or failed; true when the channel closed.
    async fn active(&mut self) -> bool {
        loop {
            self.set(|s| {
                s.status = State::Starting;
                s.pid = None;
                s.backoff_ms = None;
            });
            let mut attempted = None;
            let started = start::start(
                &self.ctx,
                &self.procs,
                &self.alias,
                self.port,
                &self.log,
                &mut attempted,
            )
            .await;
            if started.is_err()
                && let Some(port) = attempted
            {
                // The status names the port this start tried (a newly fixed one that
                // cannot be had, say), not the one an earlier run had.
                self.set(|s| s.port = Some(port));
            }
            let outcome = match started {
                Ok(Started { child, port }) => {
                    self.port = Some(port);
                    self.supervise(child, port).await
                }
                Err(PlanFailure::Fatal(e)) => {
                    self.log.note(&format!("cannot start: {e}"));
                    self.set(|s| {
                        s.status = State::Failed;
                        s.pid = None;
                        s.last_error = Some(e);
                    });
                    return false;
                }
                Err(PlanFailure::Retry(e)) => Outcome::Crashed {
                    error: e,
                    ran: Duration::ZERO,
                },
            };
            let (error, ran) = match outcome {
                Outcome::Closed => return true,
                Outcome::Stopped => {
                    self.set(|s| {
                        s.status = State::Stopped;
                        s.pid = None;
                        s.started_at = None;
                    });
                    return false;
                }
                Outcome::Restart => continue,
                Outcome::Crashed { error, ran } => (error, ran),
            };
            if !self.after_crash(error, ran) {
                return false;
            }
            let delay = self.backoff.next_delay();
            self.log
                .note(&format!("restarting in {} ms", delay.as_millis()));
            self.set(|s| {
                s.status = State::Backoff;
                s.pid = None;
                s.started_at = None;
                s.restarts += 1;
                s.backoff_ms = Some(delay.as_millis() as u64);
            });
            let until = tokio::time::Instant::now() + delay;
            loop {
                let cmd = tokio::select! {
                    _ = tokio::time::sleep_until(until) => break,
                    cmd = self.cmds.recv() => cmd,
                };
                match cmd {
                    None => return true,
                    Some(Cmd::Stop(reply)) => {
                        self.set(|s| {
                            s.status = State::Stopped;
                            s.backoff_ms = None;
                        });
                        let _ = reply.send(());
                        return false;
                    }
                    // Already active: the delay runs on (the caller answers 409).
                    Some(Cmd::Start(reply)) => {
                        let _ = reply.send(false);
                    }
                    Some(Cmd::Restart(reply)) => {
                        let _ = reply.send(());
                        break;
                    }
                }
            }
        }
    }

    /// Counts a crash; false when the proxy is now `failed`.
    fn after_crash(&mut self, error: String, ran: Duration) -> bool {
        let c = self.ctx.config.get().proxy.clone();
        if ran >= Duration::from_secs(c.healthy_reset_secs) {
            self.backoff.reset();
            self.recent.clear();
        }
        let window = Duration::from_secs(c.restart_window_secs);
        while self.recent.front().is_some_and(|t| t.elapsed() > window) {
            self.recent.pop_front();
        }
        self.log.note(&error);
        if self.recent.len() >= c.max_restarts as usize {
            let msg = format!(
                "{error}; gave up after {} restarts within {}s",
                self.recent.len(),
                c.restart_window_secs
            );
            self.log
                .note("failed: too many restarts; start it again by hand");
            self.set(|s| {
                s.status = State::Failed;
                s.pid = None;
                s.started_at = None;
                s.backoff_ms = None;
                s.last_error = Some(msg);
            });
            return false;
        }
        self.recent.push_back(Instant::now());
        self.set(|s| s.last_error = Some(error));
        true
    }

    async fn supervise(&mut self, mut child: ProxyChild, port: u16) -> Outcome {
        let since = Instant::now();
        let pid = child.pid();
        self.set(|s| {
            s.status = State::Running;
            s.pid = Some(pid);
            s.port = Some(port);
            s.url = Some(format!("http://127.0.0.1:{port}"));
            s.started_at = Some(crate::time::now_rfc3339());
            s.backoff_ms = None;
        });
        self.log.note(&format!("running, pid {pid}, port {port}"));
        let config = self.ctx.config.get();
        let grace = Duration::from_millis(config.proxy.stop_grace_ms);
        let every = Duration::from_millis(config.proxy.health_interval_ms);
        let mut health = tokio::time::interval_at(tokio::time::Instant::now() + every, every);
        let mut misses = 0;
        // What the child knows of a budget stop (its plan had the one of its start).
        let mut stops = Some(self.ctx.stops.clone());
        let mut told = stops
            .as_mut()
            .and_then(|s| s.borrow_and_update().get(&self.alias).cloned());
        loop {
            enum Ev {
                Exited(i32),
                Cmd(Option<Cmd>),
                Tick,
                Stops(bool),
            }
            let ev = tokio::select! {
                code = child.wait() => Ev::Exited(code),
                cmd = self.cmds.recv() => Ev::Cmd(cmd),
                _ = health.tick() => Ev::Tick,
                changed = async { stops.as_mut()?.changed().await.ok() }, if stops.is_some() => Ev::Stops(changed.is_some()),
            };
            match ev {
                Ev::Stops(false) => stops = None,
                Ev::Stops(true) => {
                    let now = stops
                        .as_mut()
                        .and_then(|s| s.borrow_and_update().get(&self.alias).cloned());
                    if now != told {
                        let said = if now.is_some() {
                            "stopped by a budget"
                        } else {
                            "budget stop lifted"
                        };
                        match child.control(&Control { stop: now.clone() }).await {
                            Ok(()) => {
                                self.log.note(said);
                                told = now;
                            }
                            Err(e) => self
                                .log
                                .note(&format!("cannot tell the child ({said}): {e}")),
                        }
                    }
                }
                Ev::Exited(code) => {
                    self.set(|s| s.last_exit_code = Some(code));
                    let why = self.log.last_line().unwrap_or_default();
                    return Outcome::Crashed {
                        error: format!("pid {pid} exited with code {code} (last output: {why})"),
                        ran: since.elapsed(),
                    };
                }
                Ev::Cmd(None) => {
                    child.stop(grace).await;
                    return Outcome::Closed;
                }
                Ev::Cmd(Some(Cmd::Stop(reply))) => {
                    let code = child.stop(grace).await;
                    self.log
                        .note(&format!("stopped, pid {pid} exited with code {code}"));
                    self.set(|s| s.last_exit_code = Some(code));
                    let _ = reply.send(());
                    return Outcome::Stopped;
                }
                Ev::Cmd(Some(Cmd::Restart(reply))) => {
                    child.stop(grace).await;
                    self.log.note("restarting with new settings");
                    let _ = reply.send(());
                    return Outcome::Restart;
                }
                Ev::Cmd(Some(Cmd::Start(reply))) => {
                    let _ = reply.send(false);
                }
                Ev::Tick => {
                    if child::healthy(port, Duration::from_secs(2)).await {
                        misses = 0;
                        continue;
                    }
                    misses += 1;
                    if misses >= HEALTH_MISSES {
                        child.kill();
                        let code = child.wait().await;
                        self.set(|s| s.last_exit_code = Some(code));
                        return Outcome::Crashed {
                            error: format!(
                                "pid {pid} did not answer /health {HEALTH_MISSES} times; killed"
                            ),
                            ran: since.elapsed(),
                        };
                    }
                }
            }
        }
    }
}
