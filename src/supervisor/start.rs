//! One start of a proxy: get its plan, choose the port, spawn the child, and wait until
//! it answers `/health`.
//!
//! The port is the profile's fixed one, else one from `proxy.port_range`, checked free:
//! the one this proxy had before if it still is (agents keep their URL across restarts),
//! else the first free one from a place that depends on the alias, skipping ports other
//! proxies hold.

use std::collections::HashSet;
use std::sync::Weak;
use std::time::Duration;

use super::child::{self, ProxyChild};
use super::logfile::LogFile;
use super::{Context, PlanFailure, Planned, Procs, ports_held_by_others};

pub struct Started {
    pub child: ProxyChild,
    pub port: u16,
}

pub async fn start(
    ctx: &Context,
    procs: &Weak<Procs>,
    alias: &str,
    previous_port: Option<u16>,
    log: &LogFile,
    attempted: &mut Option<u16>,
) -> Result<Started, PlanFailure> {
    let Planned {
        mut plan,
        fixed_port,
    } = ctx.plans.plan(alias).await?;
    plan.daemon_url = ctx.daemon_url.clone();
    plan.stop = ctx.stops.borrow().get(alias).cloned();
    plan.daemon_token = match &ctx.daemon_url {
        Some(_) => Some(
            ctx.usage_tokens
                .issue(alias)
                .map_err(|e| PlanFailure::Retry(format!("cannot make a usage token: {e}")))?,
        ),
        None => None,
    };
    let config = ctx.config.get();
    let held = ports_held_by_others(procs, alias);
    let port = choose_port(
        config.proxy.port_range,
        &held,
        alias,
        fixed_port,
        previous_port,
    )?;
    *attempted = Some(port);
    log.note(&format!("starting on port {port}"));
    let mut child = child::spawn(&plan, port, &ctx.env, &config.log, log)
        .await
        .map_err(|e| PlanFailure::Retry(e.to_string()))?;
    let deadline =
        tokio::time::Instant::now() + Duration::from_millis(config.proxy.startup_timeout_ms);
    loop {
        let exited = tokio::select! {
            code = child.wait() => Some(code),
            _ = tokio::time::sleep(Duration::from_millis(25)) => None,
        };
        if let Some(code) = exited {
            let why = log.last_line().unwrap_or_default();
            return Err(PlanFailure::Retry(format!(
                "exited with code {code} while starting (last output: {why})"
            )));
        }
        if child::healthy(port, Duration::from_millis(500)).await {
            return Ok(Started { child, port });
        }
        if tokio::time::Instant::now() >= deadline {
            child.kill();
            child.wait().await;
            return Err(PlanFailure::Retry(format!(
                "did not answer /health within {} ms",
                config.proxy.startup_timeout_ms
            )));
        }
    }
}

fn choose_port(
    (lo, hi): (u16, u16),
    held: &HashSet<u16>,
    alias: &str,
    fixed: Option<u16>,
    previous: Option<u16>,
) -> Result<u16, PlanFailure> {
    if let Some(p) = fixed {
        // The user chose it: used as is; if it is taken the child cannot listen, says
        // so in the log, and the crash is handled (and reported) like any other.
        return Ok(p);
    }
    let usable = |p: u16| !held.contains(&p) && child::port_free(p);
    if let Some(p) = previous.filter(|p| (lo..=hi).contains(p))
        && usable(p)
    {
        return Ok(p);
    }
    let size = u32::from(hi - lo) + 1;
    let start = fnv(alias) % size;
    (0..size.min(2000))
        .map(|i| lo + ((start + i) % size) as u16)
        .find(|&p| usable(p))
        .ok_or_else(|| PlanFailure::Retry(format!("no free port in {lo}-{hi}")))
}

fn fnv(s: &str) -> u32 {
    s.bytes().fold(0x811c_9dc5u32, |h, b| {
        (h ^ u32::from(b)).wrapping_mul(0x0100_0193)
    })
}
