//! One start of a proxy: read the profile and its secrets, build the plan, choose the
//! port, spawn the child, and wait until it answers `/health`.
//!
//! The port is the profile's fixed one, else one from `proxy.port_range`, checked free:
//! the one this proxy had before if it still is (agents keep their URL across restarts),
//! else the first free one from a place that depends on the alias, skipping ports other
//! proxies hold.

use std::collections::HashMap;
use std::time::Duration;

use super::child::{self, ProxyChild};
use super::logfile::LogFile;
use super::plan::{self, Plan};
use crate::app::AppState;
use crate::profiles::proxy_settings;
use crate::store::profiles as db;

pub struct Launch {
    pub child: ProxyChild,
    pub port: u16,
}

pub enum Failure {
    /// Starting again cannot help (the profile is gone, the plan is invalid).
    Fatal(String),
    /// Counts as a crash: restarted after a delay.
    Retry(String),
}

pub async fn launch(
    state: &AppState,
    alias: &str,
    previous_port: Option<u16>,
    log: &LogFile,
) -> Result<Launch, Failure> {
    let (mut plan, settings_port) = load_plan(state, alias).await?;
    plan.daemon_url = daemon_url(state);
    plan.daemon_token = Some(state.token().expose().to_string());
    let port = choose_port(state, alias, settings_port, previous_port)?;
    let config = state.config();
    log.note(&format!("starting on port {port}"));
    let mut child = child::spawn(&plan, port, state.env(), &config.log, log)
        .map_err(|e| Failure::Retry(e.to_string()))?;
    let deadline =
        tokio::time::Instant::now() + Duration::from_millis(config.proxy.startup_timeout_ms);
    loop {
        let exited = tokio::select! {
            code = child.wait() => Some(code),
            _ = tokio::time::sleep(Duration::from_millis(25)) => None,
        };
        if let Some(code) = exited {
            let why = log.last_line().unwrap_or_default();
            return Err(Failure::Retry(format!(
                "exited with code {code} while starting (last output: {why})"
            )));
        }
        if child::healthy(port, Duration::from_millis(500)).await {
            return Ok(Launch { child, port });
        }
        if tokio::time::Instant::now() >= deadline {
            child.kill();
            child.wait().await;
            return Err(Failure::Retry(format!(
                "did not answer /health within {} ms",
                config.proxy.startup_timeout_ms
            )));
        }
    }
}

async fn load_plan(state: &AppState, alias: &str) -> Result<(Plan, Option<u16>), Failure> {
    let a = alias.to_string();
    let loaded = state
        .store()
        .call(move |c| {
            let Some(row) = db::get(c, &a)? else {
                return Ok(None);
            };
            let secret = db::secret(c, &a)?;
            // Keys of the profiles the fallbacks borrow theirs from.
            let mut keys = HashMap::new();
            for f in proxy_settings(&row).fallbacks {
                if let Some(other) = f.key_profile {
                    let key = db::secret(c, &other)?.map(|s| s.api_key);
                    keys.insert(other, key);
                }
            }
            Ok(Some((row, secret, keys)))
        })
        .await
        .map_err(|e| Failure::Retry(e.to_string()))?;
    let Some((row, secret, keys)) = loaded else {
        return Err(Failure::Fatal(format!("Profile '{alias}' not found")));
    };
    let Some(secret) = secret else {
        return Err(Failure::Fatal(format!(
            "Profile '{alias}' has no secrets row"
        )));
    };
    let key_of = |other: &str| match keys.get(other) {
        Some(Some(key)) => Ok(key.clone()),
        _ => Err(()),
    };
    let config = state.config();
    let plan = plan::build(&row, &secret, &state.catalogue(), &config.proxy, &key_of)
        .map_err(|e| Failure::Fatal(e.to_string()))?;
    Ok((plan, proxy_settings(&row).port))
}

/// The daemon's own URL for the child's usage reports (a wildcard address is reached
/// through loopback).
fn daemon_url(state: &AppState) -> Option<String> {
    let addr = state.local_addrs().first()?;
    let ip = match addr.ip() {
        ip if !ip.is_unspecified() => ip,
        std::net::IpAddr::V4(_) => std::net::Ipv4Addr::LOCALHOST.into(),
        std::net::IpAddr::V6(_) => std::net::Ipv6Addr::LOCALHOST.into(),
    };
    Some(format!(
        "http://{}",
        std::net::SocketAddr::new(ip, addr.port())
    ))
}

fn choose_port(
    state: &AppState,
    alias: &str,
    fixed: Option<u16>,
    previous: Option<u16>,
) -> Result<u16, Failure> {
    if let Some(p) = fixed {
        // The user chose it: used as is; if it is taken the child cannot listen, says
        // so in the log, and the crash is handled (and reported) like any other.
        return Ok(p);
    }
    let (lo, hi) = state.config().proxy.port_range;
    let held = state.proxies().ports_held_by_others(alias);
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
        .ok_or_else(|| Failure::Retry(format!("no free port in {lo}-{hi}")))
}

fn fnv(s: &str) -> u32 {
    s.bytes().fold(0x811c_9dc5u32, |h, b| {
        (h ^ u32::from(b)).wrapping_mul(0x0100_0193)
    })
}
