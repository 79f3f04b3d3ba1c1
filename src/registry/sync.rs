//! Registry sync: fetch a newer catalogue from a git repository (config `registry.url`,
//! branch `registry.channel`) into the cache.
//!
//! The repository holds `agents.json`, `providers.json` and `pricing.json` at its root,
//! in the built-in format. A fresh shallow clone goes into a temporary directory; only a
//! copy that parses and validates replaces `<cache>/registry/current` (by rename), so a
//! bad copy is rejected whole and the previous catalogue stays. Without `force`, a sync
//! younger than 24 hours from the same URL and channel is not repeated.

use std::path::{Path, PathBuf};
use std::time::Duration;

use jiff::Timestamp;

use super::{
    AGENTS_FILE, Catalogue, PRICING_FILE, PROVIDERS_FILE, RegistryError, SyncState, from_dir,
};

const FRESH_FOR: Duration = Duration::from_secs(24 * 3600);
const GIT_TIMEOUT: Duration = Duration::from_secs(120);

pub enum Outcome {
    /// A new copy is in the cache and should be served.
    Updated(Box<Catalogue>, SyncState),
    /// The last sync is fresh enough; nothing fetched.
    Fresh,
}

/// Whether `state` is a sync of `url`/`channel` younger than 24 hours.
pub fn is_fresh(state: &SyncState, url: &str, channel: &str) -> bool {
    if state.url != url || state.channel != channel || state.commit.is_none() {
        return false;
    }
    let Some(last) = state
        .last_sync
        .as_deref()
        .and_then(|t| t.parse::<Timestamp>().ok())
    else {
        return false;
    };
    let age = Timestamp::now().duration_since(last);
    // `last_sync` is rounded to the second, so it can lie up to half a second ahead.
    let ahead = jiff::SignedDuration::from_secs(-1);
    age > ahead && age.unsigned_abs() < FRESH_FOR
}

async fn git(
    args: &[&str],
    cwd: Option<&Path>,
    action: &'static str,
) -> Result<String, RegistryError> {
    let mut cmd = tokio::process::Command::new("git");
    cmd.args(args)
        .env("GIT_TERMINAL_PROMPT", "0")
        .env("GIT_ASKPASS", "true")
        .env("SSH_ASKPASS", "true")
        .env("GIT_SSH_COMMAND", "ssh -oBatchMode=yes")
        .stdin(std::process::Stdio::null())
        .kill_on_drop(true);
    if let Some(dir) = cwd {
        cmd.current_dir(dir);
    }
    let out = tokio::time::timeout(GIT_TIMEOUT, cmd.output())
        .await
        .map_err(|_| RegistryError::Git {
            action,
            message: format!("timed out after {GIT_TIMEOUT:?}"),
        })?
        .map_err(|e| RegistryError::Git {
            action,
            message: format!("cannot run git: {e}"),
        })?;
    if !out.status.success() {
        let stderr = String::from_utf8_lossy(&out.stderr);
        let message = stderr
            .lines()
            .rev()
            .find(|l| !l.trim().is_empty())
            .unwrap_or("failed");
        return Err(RegistryError::Git {
            action,
            message: message.trim().to_string(),
        });
    }
    Ok(String::from_utf8_lossy(&out.stdout).trim().to_string())
}

fn cache_err(path: &Path) -> impl FnOnce(std::io::Error) -> RegistryError + '_ {
    move |source| RegistryError::Cache {
        path: path.to_path_buf(),
        source,
    }
}

/// Fetches, validates and installs a new copy. `cache` is `<cache>/registry`.
pub async fn sync(
    cache: &Path,
    url: &str,
    channel: &str,
    force: bool,
    state: &SyncState,
) -> Result<Outcome, RegistryError> {
    if url.trim().is_empty() {
        return Err(RegistryError::NotConfigured);
    }
    if !force && is_fresh(state, url, channel) {
        return Ok(Outcome::Fresh);
    }
    crate::paths::ensure_private_dir(cache).map_err(cache_err(cache))?;
    let incoming = cache.join(format!("incoming-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&incoming);
    let result = fetch_and_install(cache, &incoming, url, channel).await;
    let _ = std::fs::remove_dir_all(&incoming);
    result
}

async fn fetch_and_install(
    cache: &Path,
    incoming: &Path,
    url: &str,
    channel: &str,
) -> Result<Outcome, RegistryError> {
    let incoming_str = incoming.to_string_lossy().to_string();
    git(
        &[
            "clone",
            "--quiet",
            "--depth",
            "1",
            "--single-branch",
            "--branch",
            channel,
            "--",
            url,
            &incoming_str,
        ],
        None,
        "clone the registry",
    )
    .await?;
    let commit = git(
        &["rev-parse", "--short=7", "HEAD"],
        Some(incoming),
        "read the commit",
    )
    .await?;
    let catalogue = from_dir(incoming)?;

    // Stage the three files, then swap directories by rename.
    let staged = cache.join("current.new");
    let _ = std::fs::remove_dir_all(&staged);
    std::fs::create_dir_all(&staged).map_err(cache_err(&staged))?;
    for name in [AGENTS_FILE, PROVIDERS_FILE, PRICING_FILE] {
        std::fs::copy(incoming.join(name), staged.join(name)).map_err(cache_err(&staged))?;
    }
    let current: PathBuf = cache.join("current");
    let old = cache.join("current.old");
    let _ = std::fs::remove_dir_all(&old);
    if current.exists() {
        std::fs::rename(&current, &old).map_err(cache_err(&current))?;
    }
    std::fs::rename(&staged, &current).map_err(cache_err(&current))?;
    let _ = std::fs::remove_dir_all(&old);

    let state = SyncState {
        url: url.to_string(),
        channel: channel.to_string(),
        commit: Some(commit),
        last_sync: Some(crate::time::now_rfc3339()),
    };
    let json = serde_json::to_vec_pretty(&state).unwrap_or_default();
    let state_path = cache.join("state.json");
    crate::paths::write_private_file(&state_path, &json).map_err(cache_err(&state_path))?;
    Ok(Outcome::Updated(Box::new(catalogue), state))
}
