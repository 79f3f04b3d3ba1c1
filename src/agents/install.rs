//! Agents installed by clown from the npm registry, into a prefix clown owns:
//! `<data>/agents/<id>/<version>/` (a small npm project holding the package), `<data>/agents/<id>/current`
//! (a symbolic link to the version in use) and `<data>/agents/bin/<binary>` (a link into
//! `current`), which detection searches first.
//!
//! An install goes into a fresh staging directory; only when npm succeeded and the
//! installed program answers its version command is `current` switched over (a rename,
//! atomic), so a failed install — a version that does not exist, a broken package, no
//! network — leaves the previous version in place and working. The version before the
//! new one is kept (to go back by hand); older ones are removed. npm's own output is
//! handed to `progress` line by line.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use serde::Serialize;
use tokio::io::{AsyncBufReadExt, BufReader};

use crate::paths::{Env, ensure_private_dir};
use crate::registry::AgentManifest;

const NPM_TIMEOUT: Duration = Duration::from_secs(900);

#[derive(Debug, thiserror::Error)]
pub enum InstallError {
    #[error(
        "npm is not installed (Debian/Ubuntu: apt-get install npm); clown installs agents with it"
    )]
    NoNpm,
    #[error("{0}")]
    Invalid(String),
    #[error("npm could not install {spec}: {detail}")]
    Npm { spec: String, detail: String },
    #[error("{0}")]
    Io(String),
}

/// The result of an install.
#[derive(Debug, Clone, Serialize)]
pub struct Installed {
    pub agent: String,
    pub package: String,
    /// The package version npm installed.
    pub version: String,
    pub previous: Option<String>,
    pub binary_path: PathBuf,
}

/// Where clown installs agents: `<data>/agents`.
#[derive(Debug, Clone)]
pub struct Prefix {
    pub root: PathBuf,
}

impl Prefix {
    pub fn new(data_dir: &Path) -> Self {
        Self {
            root: data_dir.join("agents"),
        }
    }

    /// The directory detection searches (first) for clown-installed agents.
    pub fn bin_dir(&self) -> PathBuf {
        self.root.join("bin")
    }

    /// The package version of `agent` clown installed and uses, if any.
    pub fn current(&self, agent: &AgentManifest) -> Option<String> {
        let link = std::fs::read_link(self.root.join(&agent.id).join("current")).ok()?;
        link.file_name()?.to_str().map(String::from)
    }
}

/// A version or tag npm accepts after `@`, nothing else (it goes on a command line).
fn valid_version(v: &str) -> bool {
    !v.is_empty()
        && v.len() <= 64
        && !v.starts_with('-')
        && v.chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '+' | '_'))
}

fn io<'a>(what: &'static str, path: &'a Path) -> impl FnOnce(std::io::Error) -> InstallError + 'a {
    move |e| InstallError::Io(format!("cannot {what} {}: {e}", path.display()))
}

/// Finds `npm` in the daemon's PATH.
pub fn find_npm(env: &Env) -> Option<PathBuf> {
    let dirs = crate::agents::detect::search_dirs(env.get("PATH").map(String::as_str), &[]);
    crate::agents::detect::find_binary("npm", &dirs)
}

/// The environment npm runs with: the daemon's PATH, HOME, locale, proxy and CA
/// settings, and its `npm_config_*` (a cache, a registry).
fn npm_env(env: &Env) -> Vec<(String, String)> {
    env.iter()
        .filter(|(k, _)| {
            [
                "PATH",
                "HOME",
                "LANG",
                "USER",
                "TMPDIR",
                "HTTPS_PROXY",
                "HTTP_PROXY",
                "NO_PROXY",
                "NODE_EXTRA_CA_CERTS",
                "SSL_CERT_FILE",
                "SSL_CERT_DIR",
            ]
            .contains(&k.as_str())
                || k.starts_with("npm_config_")
                || k.starts_with("LC_")
        })
        .map(|(k, v)| (k.clone(), v.clone()))
        .chain([("npm_config_update_notifier".into(), "false".into())])
        .collect()
}

/// Installs `version` (default: latest) of `agent` into `prefix`; `progress` gets npm's
/// output lines. On any failure the agent's current version stays as it was.
pub async fn install(
    prefix: &Prefix,
    agent: &AgentManifest,
    version: Option<&str>,
    env: &Env,
    progress: &(dyn Fn(&str) + Send + Sync),
) -> Result<Installed, InstallError> {
    if agent.npm_package.is_empty() || agent.npm_package == "none" {
        return Err(InstallError::Invalid(format!(
            "Agent '{}' has no npm package",
            agent.id
        )));
    }
    let version = version.unwrap_or("latest");
    if !valid_version(version) {
        return Err(InstallError::Invalid(format!(
            "'{version}' is not an npm version or tag"
        )));
    }
    let npm = find_npm(env).ok_or(InstallError::NoNpm)?;
    let dir = prefix.root.join(&agent.id);
    ensure_private_dir(&dir).map_err(io("create", &dir))?;
    let staging = dir.join(format!(".staging-{}", crate::auth::hex(&rand8())));
    ensure_private_dir(&staging).map_err(io("create", &staging))?;
    let spec = format!("{}@{version}", agent.npm_package);
    let result = run_npm(&npm, &staging, &spec, env, progress).await;
    let outcome = match result {
        Ok(()) => finish(prefix, agent, &dir, &staging, &spec).await,
        Err(e) => Err(e),
    };
    if staging.exists() {
        let _ = tokio::fs::remove_dir_all(&staging).await;
    }
    outcome
}

fn rand8() -> [u8; 8] {
    let mut b = [0u8; 8];
    let _ = getrandom::fill(&mut b);
    b
}

async fn run_npm(
    npm: &Path,
    staging: &Path,
    spec: &str,
    env: &Env,
    progress: &(dyn Fn(&str) + Send + Sync),
) -> Result<(), InstallError> {
    progress(&format!("npm install {spec}"));
    // A project of its own in the staging directory (not `--prefix`, which would also
    // move npm's global configuration, and with it a system's CA file or registry).
    let manifest = staging.join("package.json");
    tokio::fs::write(
        &manifest,
        b"{\"name\": \"clown-agent\", \"private\": true}\n",
    )
    .await
    .map_err(io("write", &manifest))?;
    let mut child = tokio::process::Command::new(npm)
        .arg("install")
        .args([
            "--no-audit",
            "--no-fund",
            "--no-save",
            "--loglevel=http",
            "--progress=false",
        ])
        .arg(spec)
        .env_clear()
        .envs(npm_env(env))
        .current_dir(staging)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .map_err(|e| InstallError::Io(format!("cannot start npm: {e}")))?;
    let (Some(out), Some(err)) = (child.stdout.take(), child.stderr.take()) else {
        return Err(InstallError::Io("npm's output is not readable".into()));
    };
    let mut errors: Vec<String> = Vec::new();
    let mut out = BufReader::new(out).lines();
    let mut err = BufReader::new(err).lines();
    let read = async {
        let (mut out_done, mut err_done) = (false, false);
        while !(out_done && err_done) {
            tokio::select! {
                line = out.next_line(), if !out_done => match line {
                    Ok(Some(l)) => progress(&l),
                    _ => out_done = true,
                },
                line = err.next_line(), if !err_done => match line {
                    Ok(Some(l)) => {
                        if l.contains("ERR") {
                            errors.push(l.clone());
                        }
                        progress(&l);
                    }
                    _ => err_done = true,
                },
            }
        }
        child.wait().await
    };
    let status = tokio::time::timeout(NPM_TIMEOUT, read)
        .await
        .map_err(|_| InstallError::Npm {
            spec: spec.into(),
            detail: format!("no result within {NPM_TIMEOUT:?}"),
        })?
        .map_err(|e| InstallError::Io(format!("npm: {e}")))?;
    if status.success() {
        return Ok(());
    }
    let detail = errors
        .iter()
        .map(|l| l.trim_start_matches("npm error").trim())
        .filter(|l| !l.is_empty())
        .take(3)
        .collect::<Vec<_>>()
        .join("; ");
    Err(InstallError::Npm {
        spec: spec.into(),
        detail: if detail.is_empty() {
            format!("npm exited with {status}")
        } else {
            detail
        },
    })
}

/// Checks the staged install and switches `current` over to it.
async fn finish(
    prefix: &Prefix,
    agent: &AgentManifest,
    dir: &Path,
    staging: &Path,
    spec: &str,
) -> Result<Installed, InstallError> {
    let manifest = staging
        .join("node_modules")
        .join(&agent.npm_package)
        .join("package.json");
    let version = tokio::fs::read_to_string(&manifest)
        .await
        .ok()
        .and_then(|t| serde_json::from_str::<serde_json::Value>(&t).ok())
        .and_then(|v| v["version"].as_str().map(String::from))
        .filter(|v| valid_version(v))
        .ok_or_else(|| InstallError::Npm {
            spec: spec.into(),
            detail: "no package.json with a version after the install".into(),
        })?;
    let program = staging.join("node_modules/.bin").join(&agent.binary);
    let answered = tokio::time::timeout(
        Duration::from_secs(30),
        tokio::process::Command::new(&program)
            .args(&agent.version_args)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .kill_on_drop(true)
            .status(),
    )
    .await;
    if !matches!(answered, Ok(Ok(s)) if s.success()) {
        return Err(InstallError::Npm {
            spec: spec.into(),
            detail: format!(
                "the installed '{}' does not run ({} {})",
                agent.binary,
                program.display(),
                agent.version_args.join(" ")
            ),
        });
    }
    let previous = prefix.current(agent);
    let target = dir.join(&version);
    if target.exists() {
        let old = dir.join(format!(".old-{}", crate::auth::hex(&rand8())));
        tokio::fs::rename(&target, &old)
            .await
            .map_err(io("move", &target))?;
        let _ = tokio::fs::remove_dir_all(&old).await;
    }
    tokio::fs::rename(staging, &target)
        .await
        .map_err(io("move", staging))?;
    // `current` → the new version, replaced in one rename.
    let tmp = dir.join(format!(".current-{}", crate::auth::hex(&rand8())));
    std::os::unix::fs::symlink(&version, &tmp).map_err(io("link", &tmp))?;
    tokio::fs::rename(&tmp, dir.join("current"))
        .await
        .map_err(io("switch", dir))?;
    let bin = prefix.bin_dir();
    ensure_private_dir(&bin).map_err(io("create", &bin))?;
    let link = bin.join(&agent.binary);
    let points = PathBuf::from("..")
        .join(&agent.id)
        .join("current/node_modules/.bin")
        .join(&agent.binary);
    if std::fs::read_link(&link).ok().as_ref() != Some(&points) {
        let tmp = bin.join(format!(".{}-{}", agent.binary, crate::auth::hex(&rand8())));
        std::os::unix::fs::symlink(&points, &tmp).map_err(io("link", &tmp))?;
        tokio::fs::rename(&tmp, &link)
            .await
            .map_err(io("link", &link))?;
    }
    // Keep the new version and the one before it.
    if let Ok(mut entries) = tokio::fs::read_dir(dir).await {
        while let Ok(Some(e)) = entries.next_entry().await {
            let name = e.file_name().to_string_lossy().to_string();
            let keep = name == version
                || Some(&name) == previous.as_ref()
                || name == "current"
                || name.starts_with('.');
            if !keep && e.file_type().await.is_ok_and(|t| t.is_dir()) {
                let _ = tokio::fs::remove_dir_all(e.path()).await;
            }
        }
    }
    Ok(Installed {
        agent: agent.id.clone(),
        package: agent.npm_package.clone(),
        version,
        previous,
        binary_path: link,
    })
}

/// The installs running now (one per agent at a time), announcing each on the bus:
/// `agent_install_started`, `agent_install_progress` (npm's lines), `agent_install_finished`.
#[derive(Default)]
pub struct Installer {
    running: std::sync::Mutex<std::collections::HashSet<String>>,
}

struct Running<'a>(&'a Installer, String);

impl Drop for Running<'_> {
    fn drop(&mut self) {
        self.0
            .running
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(&self.1);
    }
}

impl Installer {
    /// Installs `agent` unless an install of it runs already (`Ok(None)` then).
    pub async fn run(
        &self,
        prefix: &Prefix,
        agent: &AgentManifest,
        version: Option<&str>,
        env: &Env,
        events: &crate::events::EventBus,
    ) -> Option<Result<Installed, InstallError>> {
        let fresh = self
            .running
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(agent.id.clone());
        if !fresh {
            return None;
        }
        let _running = Running(self, agent.id.clone());
        let id = agent.id.clone();
        events.publish(
            "agent_install_started",
            serde_json::json!({"agent": id, "package": agent.npm_package, "version": version}),
        );
        let bus = events.clone();
        let progress = move |line: &str| {
            bus.publish(
                "agent_install_progress",
                serde_json::json!({"agent": id, "line": line.chars().take(500).collect::<String>()}),
            );
        };
        let result = install(prefix, agent, version, env, &progress).await;
        let finished = match &result {
            Ok(done) => {
                serde_json::json!({"agent": agent.id, "ok": true, "version": done.version, "previous": done.previous})
            }
            Err(e) => serde_json::json!({"agent": agent.id, "ok": false, "error": e.to_string()}),
        };
        events.publish("agent_install_finished", finished);
        Some(result)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_are_plain() {
        for ok in ["latest", "0.0.34", "1.2.3-beta.1", "next"] {
            assert!(valid_version(ok), "{ok}");
        }
        for bad in ["", "-g", "1 2", "x;rm", "../x", "a/b"] {
            assert!(!valid_version(bad), "{bad}");
        }
    }
}
