//! The daemon's half of `clown doctor` (`GET /api/daemon/doctor`): what the daemon sees —
//! where it looks for agents and what it finds there, each profile's home, key or login
//! and proxy, the sandbox tool, the free disk — each as a check with the command that
//! fixes what is wrong. The CLI adds what only the client can see (its binary, the
//! service units, its own PATH).

use std::path::{Path, PathBuf};

use serde::Serialize;

use super::{ProfileError, Profiles, proxy_settings, sandbox_settings, tilde};
use crate::agents::search::{LoginPath, SearchDir, Source};
use crate::store::profiles as db;
use crate::supervisor::State;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    Ok,
    /// Worth knowing, nothing wrong (an agent no profile uses is not installed).
    Info,
    Warn,
    Fail,
}

#[derive(Debug, Clone, Serialize)]
pub struct Check {
    pub name: String,
    pub status: Status,
    pub detail: String,
    /// The command (or change) that fixes it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fix: Option<String>,
}

fn check(name: impl Into<String>, status: Status, detail: impl Into<String>) -> Check {
    Check {
        name: name.into(),
        status,
        detail: detail.into(),
        fix: None,
    }
}

impl Check {
    fn fix(mut self, fix: impl Into<String>) -> Self {
        self.fix = Some(fix.into());
        self
    }
}

/// The whole report.
#[derive(Debug, Serialize)]
pub struct Report {
    pub checks: Vec<Check>,
    pub search_dirs: Vec<SearchDir>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub login_shell: Option<LoginPath>,
    /// The configuration file, `~/…` under the home.
    pub config_file: String,
}

/// The files an agent's own login leaves in its home.
fn login_file(agent_id: &str) -> Option<&'static str> {
    match agent_id {
        "claude" => Some(".credentials.json"),
        "codex" => Some("auth.json"),
        "gemini" => Some(".gemini/oauth_creds.json"),
        "qwen" => Some("oauth_creds.json"),
        _ => None,
    }
}

impl Profiles {
    pub async fn doctor(&self) -> Result<Report, ProfileError> {
        let config = self.r.config.get();
        let catalogue = self.r.catalogue.get();
        let search = self.agent_search().await;
        let dirs: Vec<PathBuf> = search.iter().map(|d| d.dir.clone()).collect();
        let config_file = tilde(&self.r.config_file.display().to_string(), &self.r.home);
        let mut checks = Vec::new();

        let login = if config.agents.login_shell {
            Some(self.r.agent_paths.login_path().await.clone())
        } else {
            None
        };
        checks.push(search_check(&search, login.as_ref(), &config_file));

        let rows = self.list(None).await?;
        let found = self.r.detector.detect_all(&catalogue.agents, &dirs).await;
        for (agent, d) in catalogue.agents.iter().zip(&found) {
            let users: Vec<&str> = rows
                .iter()
                .filter(|r| r.agent_id == agent.id)
                .map(|r| r.alias.as_str())
                .collect();
            let name = format!("agent {}", agent.id);
            let install = format!(
                "clown agents install {} (or npm install -g {}, or add the directory that holds '{}' to agents.extra_paths in {config_file})",
                agent.id, agent.npm_package, agent.binary
            );
            checks.push(match (&d.binary_path, &d.version) {
                (Some(path), Some(v)) => check(
                    name,
                    Status::Ok,
                    format!("{} {v} at {}", agent.name, path.display()),
                ),
                (Some(path), None) => check(
                    name,
                    Status::Warn,
                    format!(
                        "{} found at {}, but its --version printed no version",
                        agent.name,
                        path.display()
                    ),
                )
                .fix(format!(
                    "run '{} --version' to see why (an old node? 'node --version')",
                    path.display()
                )),
                (None, _) if users.is_empty() => check(
                    name,
                    Status::Info,
                    format!("{} is not installed; no profile uses it", agent.name),
                )
                .fix(format!(
                    "clown agents install {} (or npm install -g {})",
                    agent.id, agent.npm_package
                )),
                (None, _) => check(
                    name,
                    Status::Fail,
                    format!(
                        "{} is not installed where the daemon looks; used by {}",
                        agent.name,
                        users.join(", ")
                    ),
                )
                .fix(install),
            });
        }

        let tool = self.sandbox_tool();
        for row in &rows {
            checks.extend(self.profile_checks(row, tool.as_deref()).await?);
        }
        checks.extend(self.r.clown_dirs.first().map(|d| disk_check(d)));
        Ok(Report {
            checks,
            search_dirs: search,
            login_shell: login,
            config_file,
        })
    }

    async fn profile_checks(
        &self,
        row: &db::ProfileRow,
        sandbox_tool: Option<&Path>,
    ) -> Result<Vec<Check>, ProfileError> {
        let name = format!("profile {}", row.alias);
        let home = Path::new(&row.profile_home);
        let shown = tilde(&row.profile_home, &self.r.home);
        let mut out = Vec::new();
        let catalogue = self.r.catalogue.get();
        let requires_key = catalogue
            .provider(&row.provider_id)
            .is_none_or(|p| p.requires_key);
        let a = row.alias.clone();
        let secret = self.r.store.read(move |c| db::secret(c, &a)).await?;
        let has_key = secret.as_ref().is_some_and(|s| s.api_key.is_some());
        let login = login_file(&row.agent_id).filter(|f| home.join(f).is_file());
        let recreate = format!(
            "clown profiles delete {0} && clown profiles create {0} --agent {1} --provider {2}",
            row.alias, row.agent_id, row.provider_id
        );
        out.push(match (home.is_dir(), has_key, login) {
            (false, _, _) => check(
                &name,
                Status::Warn,
                format!("home {shown} is missing (settings and logins are gone); it is made again at the next launch"),
            ),
            (true, true, _) => check(&name, Status::Ok, format!("home {shown}, key set ({} on {})", row.agent_id, row.provider_id)),
            (true, false, Some(file)) => check(&name, Status::Ok, format!("home {shown}, logged in ({file})")),
            (true, false, None) if requires_key => check(
                &name,
                Status::Fail,
                format!("provider '{}' needs a key and this profile has none", row.provider_id),
            )
            .fix(recreate),
            (true, false, None) => check(
                &name,
                Status::Warn,
                format!("no key and no login in {shown}"),
            )
            .fix(format!("clown terminal new {} --attach, then log in inside the agent", row.alias)),
        });
        if proxy_settings(row).enabled {
            let status = self.proxy_status(&row.alias);
            let pname = format!("proxy {}", row.alias);
            out.push(match status.status {
                State::Running | State::Starting => check(
                    pname,
                    Status::Ok,
                    format!(
                        "{:?} on port {}",
                        status.status,
                        status.port.map_or("-".into(), |p| p.to_string())
                    )
                    .to_lowercase(),
                ),
                s => check(
                    pname,
                    Status::Fail,
                    format!(
                        "enabled but {}{}",
                        format!("{s:?}").to_lowercase(),
                        status
                            .last_error
                            .map(|e| format!(": {e}"))
                            .unwrap_or_default()
                    ),
                )
                .fix(format!(
                    "clown proxy logs {0}; then clown proxy start {0}",
                    row.alias
                )),
            });
        }
        if sandbox_settings(row).enabled && sandbox_tool.is_none() {
            out.push(
                check(
                    format!("sandbox {}", row.alias),
                    Status::Fail,
                    "the sandbox is on but its tool (bwrap) is not on the daemon's PATH: launches are refused",
                )
                .fix("sudo apt-get install bubblewrap (or dnf install bubblewrap)"),
            );
        }
        Ok(out)
    }
}

fn search_check(search: &[SearchDir], login: Option<&LoginPath>, config_file: &str) -> Check {
    let count = |s: Source| search.iter().filter(|d| d.source == s).count();
    let summary = format!(
        "{} directories: {} from the login shell, {} from the daemon's PATH, {} from agents.extra_paths, {} per-user prefixes, {} vouched for by clients",
        search.len(),
        count(Source::LoginShell),
        count(Source::DaemonPath),
        count(Source::ExtraPaths),
        count(Source::UserPrefix),
        count(Source::Client)
    );
    match login {
        Some(LoginPath::Failed { shell, reason }) => check(
            "agent search path",
            Status::Warn,
            format!("{summary}; the login shell {} gave no PATH: {reason}", shell.display()),
        )
        .fix(format!(
            "make '{} -l -c \"echo $PATH\"' finish quickly, or list the directories in agents.extra_paths ({config_file})",
            shell.display()
        )),
        Some(LoginPath::NoShell) => check(
            "agent search path",
            Status::Info,
            format!("{summary}; SHELL is not set for the daemon, so no login shell PATH"),
        ),
        _ => check("agent search path", Status::Ok, summary),
    }
}

/// Free space where the database lives: a full disk stops usage records and sessions.
// The block counts are u32 on macOS.
#[allow(clippy::useless_conversion)]
fn disk_check(dir: &Path) -> Check {
    let probe = dir
        .ancestors()
        .find(|p| p.exists())
        .unwrap_or(Path::new("/"));
    match nix::sys::statvfs::statvfs(probe) {
        Ok(s) => {
            let free = u64::from(s.blocks_available()) * s.fragment_size();
            let total = u64::from(s.blocks()) * s.fragment_size();
            let gib = free as f64 / (1u64 << 30) as f64;
            let detail = format!(
                "{gib:.1} GiB free on the file system of {}",
                probe.display()
            );
            let fix = format!("free some space on the file system of {}", probe.display());
            if free < 100 << 20 {
                check("disk", Status::Fail, detail).fix(fix)
            } else if free < 1 << 30 || free.saturating_mul(20) < total {
                check("disk", Status::Warn, detail).fix(fix)
            } else {
                check("disk", Status::Ok, detail)
            }
        }
        Err(e) => check(
            "disk",
            Status::Warn,
            format!("cannot read the free space of {}: {e}", probe.display()),
        ),
    }
}
