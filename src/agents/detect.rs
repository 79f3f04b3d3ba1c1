//! Agent detection: look the binary up in the search directories (`super::search`),
//! run its version command with a timeout, and parse the version.
//!
//! Results are cached for a few seconds only, so an agent installed while the daemon runs
//! shows up almost at once while a busy UI does not spawn processes on every request.

use std::collections::HashMap;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use serde::Serialize;

use crate::registry::AgentManifest;

const CACHE_TTL: Duration = Duration::from_secs(2);
const VERSION_TIMEOUT: Duration = Duration::from_secs(5);

#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Detection {
    pub installed: bool,
    pub version: Option<String>,
    pub binary_path: Option<PathBuf>,
}

#[derive(Default)]
pub struct Detector {
    cache: Mutex<HashMap<String, (Instant, Detection)>>,
}

/// The directories searched, in order: `PATH`, then the extra ones.
pub fn search_dirs(path_var: Option<&str>, extra: &[PathBuf]) -> Vec<PathBuf> {
    let mut dirs: Vec<PathBuf> = path_var
        .map(|p| {
            std::env::split_paths(p)
                .filter(|d| d.is_absolute())
                .collect()
        })
        .unwrap_or_default();
    for d in extra {
        if d.is_absolute() && !dirs.contains(d) {
            dirs.push(d.clone());
        }
    }
    dirs
}

/// The first executable file named `binary` in `dirs`.
pub fn find_binary(binary: &str, dirs: &[PathBuf]) -> Option<PathBuf> {
    if binary.is_empty() || binary.contains('/') {
        return None;
    }
    dirs.iter()
        .map(|d| d.join(binary))
        .find(|p| is_executable(p))
}

fn is_executable(p: &Path) -> bool {
    std::fs::metadata(p).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}

/// Runs the version command and extracts the version with the manifest's pattern.
async fn read_version(agent: &AgentManifest, path: &Path, dirs: &[PathBuf]) -> Option<String> {
    let mut cmd = tokio::process::Command::new(path);
    cmd.args(&agent.version_args)
        .env_clear()
        .env("PATH", std::env::join_paths(dirs).unwrap_or_default())
        .stdin(std::process::Stdio::null())
        .kill_on_drop(true);
    for key in ["HOME", "LANG", "USER", "TMPDIR"] {
        if let Ok(v) = std::env::var(key) {
            cmd.env(key, v);
        }
    }
    let out = tokio::time::timeout(VERSION_TIMEOUT, cmd.output())
        .await
        .ok()?
        .ok()?;
    let text = format!(
        "{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let re = regex_lite::Regex::new(&agent.version_regex).ok()?;
    let caps = re.captures(&text)?;
    caps.get(1)
        .or_else(|| caps.get(0))
        .map(|m| m.as_str().to_string())
}

impl Detector {
    pub async fn detect(&self, agent: &AgentManifest, dirs: &[PathBuf]) -> Detection {
        let key = format!("{}\0{}", agent.id, agent.binary);
        if let Some((at, hit)) = self
            .cache
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(&key)
            && at.elapsed() < CACHE_TTL
        {
            return hit.clone();
        }
        let detection = match find_binary(&agent.binary, dirs) {
            Some(path) => Detection {
                installed: true,
                version: read_version(agent, &path, dirs).await,
                binary_path: Some(path),
            },
            None => Detection::default(),
        };
        self.cache
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(key, (Instant::now(), detection.clone()));
        detection
    }

    /// Forgets every cached result (the search directories changed).
    pub fn invalidate(&self) {
        self.cache.lock().unwrap_or_else(|p| p.into_inner()).clear();
    }

    /// Drops what is cached about `agent_id` (it was just installed or updated).
    pub fn forget(&self, agent_id: &str) {
        self.cache
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .retain(|k, _| !k.starts_with(&format!("{agent_id}\0")));
    }

    /// Detects several agents concurrently.
    pub async fn detect_all(&self, agents: &[AgentManifest], dirs: &[PathBuf]) -> Vec<Detection> {
        futures_util::future::join_all(agents.iter().map(|a| self.detect(a, dirs))).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_only_executables() {
        let dir = std::env::temp_dir().join(format!("clown-detect-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let f = dir.join("tool");
        std::fs::write(&f, "#!/bin/sh\necho tool 1.2.3\n").unwrap();
        let dirs = vec![dir.clone()];
        assert_eq!(find_binary("tool", &dirs), None);
        std::fs::set_permissions(&f, std::fs::Permissions::from_mode(0o755)).unwrap();
        assert_eq!(find_binary("tool", &dirs), Some(f));
        assert_eq!(find_binary("../tool", &dirs), None);
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
