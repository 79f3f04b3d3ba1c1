//! A profile's agent in a new terminal session: the agent must be installed, the session
//! limit not reached and, for a sandboxed profile, the sandbox ready (its tool installed,
//! the working directory not hidden) before anything is prepared, so a refused request
//! leaves no session, no process and no launch files behind. A sandboxed agent runs
//! under the sandbox's command (`crate::agents::sandbox`), never without it.
//!
//! The session's environment is a small base taken from the daemon's own (PATH with the
//! agent directories, locale, user, home, time zone; `TERM=xterm-256color`) with the
//! profile's launch environment over it, and what the agent's hooks need to report to
//! the daemon: `CLOWN_SESSION_ID`, `CLOWN_HOOK_URL` and `CLOWN_HOOK_TOKEN` (a token good
//! for that session's hook route only, revoked when it ends).

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;

use super::{ProfileError, Profiles};
use crate::pty::{NewSession, Program, PtyError, Session};

/// Variables copied from the daemon's environment into every session.
const BASE_VARS: &[&str] = &["LANG", "SHELL", "USER", "LOGNAME", "HOME", "TMPDIR", "TZ"];

/// A validated request for a session.
#[derive(Debug)]
pub struct SessionRequest {
    /// The profile; `None`: the one bound to `working_dir` (see `bindings`).
    pub profile_alias: Option<String>,
    pub args: Vec<String>,
    pub cols: u16,
    pub rows: u16,
    pub working_dir: Option<PathBuf>,
    /// The client's PATH: where to look when the daemon finds the agent nowhere else.
    pub search_path: Option<String>,
    /// Run the agent's own login (a profile with auth 'login') instead of the agent.
    pub login: bool,
    /// Start in a new git worktree of the directory's repository.
    pub worktree: bool,
}

impl Profiles {
    pub async fn start_session(&self, req: SessionRequest) -> Result<Arc<Session>, ProfileError> {
        let alias = match &req.profile_alias {
            Some(a) => a.clone(),
            None => {
                let dir = req
                    .working_dir
                    .clone()
                    .ok_or_else(|| ProfileError::Invalid("profile_alias is required".into()))?;
                self.resolve_binding(&dir).await?.1
            }
        };
        let row = self.row(&alias).await?;
        let mut req = req;
        if req.login {
            let spec = super::login_spec(&row)?;
            let mut args: Vec<String> = spec.args.iter().map(|a| a.to_string()).collect();
            args.append(&mut req.args);
            req.args = args;
        }
        let (binary, npm_package) = self
            .r
            .catalogue
            .get()
            .agent(&row.agent_id)
            .map(|a| (a.binary.clone(), a.npm_package.clone()))
            .ok_or_else(|| {
                ProfileError::Invalid(format!(
                    "Profile '{}' uses agent '{}', which the catalogue no longer has",
                    row.alias, row.agent_id
                ))
            })?;
        let mut dirs = self.agent_search_dirs().await;
        let path = match crate::agents::detect::find_binary(&binary, &dirs) {
            Some(path) => path,
            None => {
                let vouched = req
                    .search_path
                    .as_deref()
                    .map(|p| self.r.agent_paths.vouched(&binary, p));
                match vouched {
                    Some(Ok(Some(path))) => {
                        self.r.detector.invalidate();
                        tracing::info!(
                            "agent '{}' found at {} on the client's PATH; that directory is searched from now on",
                            row.agent_id,
                            path.display()
                        );
                        path
                    }
                    other => {
                        let refused = match other {
                            Some(Err(why)) => {
                                format!(" Your PATH has one, but it is not used: {why}.")
                            }
                            _ => String::new(),
                        };
                        return Err(ProfileError::Invalid(
                            not_installed(
                                &row.agent_id,
                                &binary,
                                &npm_package,
                                &dirs,
                                &self.r.home,
                                &self.r.config_file,
                            ) + &refused,
                        ));
                    }
                }
            }
        };
        // The agent's own directory first: its `#!/usr/bin/env node` finds the node it
        // was installed with (nvm, volta) before an older system one.
        if let Some(dir) = path.parent() {
            dirs.retain(|d| d != dir);
            dirs.insert(0, dir.to_path_buf());
        }
        let config = self.r.config.get();
        // Checked again, atomically, when the session starts; this spares the launch files.
        if self.r.terminals.running() >= config.terminal.max_sessions {
            return Err(PtyError::Limit {
                limit: config.terminal.max_sessions,
            }
            .into());
        }
        let cwd = req
            .working_dir
            .clone()
            .unwrap_or_else(|| PathBuf::from(&row.profile_home));
        let sandbox = self.sandbox_for(&row)?;
        let id = uuid::Uuid::new_v4();
        let sid = id.to_string();
        // A worktree of its own, when asked: made last of the checks, undone on failure.
        let worktree = if req.worktree {
            let (dir, name) = (cwd.clone(), sid[..8].to_string());
            let made = tokio::task::spawn_blocking(move || crate::worktrees::create(&dir, &name))
                .await
                .map_err(|e| ProfileError::Internal(e.to_string()))?;
            Some(made.map_err(|e| match e {
                crate::worktrees::WorktreeError::NotARepository(m) => ProfileError::Invalid(m),
                other => ProfileError::Conflict(other.to_string()),
            })?)
        } else {
            None
        };
        let started = self
            .start_program(StartProgram {
                row: &row,
                req,
                id,
                path,
                dirs,
                cwd: worktree.as_ref().map_or(cwd, |(_, inside)| inside.clone()),
                sandbox,
                worktree: worktree.as_ref().map(|(w, _)| w.clone()),
            })
            .await;
        if started.is_err()
            && let Some((mut w, _)) = worktree
        {
            let _ = tokio::task::spawn_blocking(move || w.remove()).await;
        }
        started
    }

    /// The rest of a start, once everything was checked (and the worktree made).
    async fn start_program(&self, s: StartProgram<'_>) -> Result<Arc<Session>, ProfileError> {
        let StartProgram {
            row,
            req,
            id,
            path,
            dirs,
            cwd,
            sandbox,
            worktree,
        } = s;
        let config = self.r.config.get();
        let user_args = req.args.clone();
        let (path, args) = match sandbox {
            Some(tool) => self
                .confine(&tool, row, &cwd, &path, false)?
                .command(&path, &req.args),
            None => (path, req.args),
        };
        let spec = self.launch_spec(&row.alias, Some(&cwd)).await?;
        let mut env = base_env(&self.r.env, &dirs);
        env.extend(spec.env);
        let secrets = spec
            .secret_fds
            .into_iter()
            .map(|s| (s.env, s.value))
            .collect();
        let sid = id.to_string();
        let tokens = self.r.terminals.tokens();
        let token = tokens
            .issue(&sid)
            .map_err(|e| ProfileError::Internal(format!("cannot make a hook token: {e}")))?;
        env.insert("CLOWN_SESSION_ID".into(), sid.clone());
        env.insert("CLOWN_HOOK_TOKEN".into(), token);
        if let Some(url) = &self.r.daemon_url {
            env.insert("CLOWN_HOOK_URL".into(), url.clone());
        }
        let created = self
            .r
            .terminals
            .create(NewSession {
                id,
                profile: row.alias.clone(),
                agent_id: row.agent_id.clone(),
                args: user_args,
                program: Program {
                    path,
                    args,
                    env,
                    cwd,
                    cols: req.cols,
                    rows: req.rows,
                    secrets,
                },
                scrollback_bytes: config.terminal.scrollback_bytes,
                max_sessions: config.terminal.max_sessions,
                quiet: std::time::Duration::from_millis(config.terminal.quiet_ms),
                worktree: worktree.map(|w| serde_json::to_value(w).unwrap_or_default()),
            })
            .await;
        if created.is_err() {
            tokens.revoke(&sid);
        }
        Ok(created?)
    }
}

/// What [`Profiles::start_program`] takes.
struct StartProgram<'a> {
    row: &'a crate::store::profiles::ProfileRow,
    req: SessionRequest,
    id: uuid::Uuid,
    path: PathBuf,
    dirs: Vec<PathBuf>,
    cwd: PathBuf,
    sandbox: Option<super::sandbox::Tool>,
    worktree: Option<crate::worktrees::Worktree>,
}

/// Where the daemon looked for an agent it did not find, and how to fix that.
pub fn not_installed(
    agent_id: &str,
    binary: &str,
    npm_package: &str,
    dirs: &[PathBuf],
    home: &std::path::Path,
    config_file: &std::path::Path,
) -> String {
    let looked: Vec<String> = dirs
        .iter()
        .map(|d| super::tilde(&d.display().to_string(), home))
        .collect();
    let install = if npm_package.is_empty() || npm_package == "none" {
        String::new()
    } else {
        format!("install it ('npm install -g {npm_package}'), or ")
    };
    format!(
        "Agent '{agent_id}' is not installed where the daemon looks: no executable '{binary}' in {}. \
         To fix: {install}add the directory that holds it to agents.extra_paths in {} \
         (under [agents], e.g. extra_paths = [\"{}/.local/bin\"]) and reload the daemon \
         ('systemctl --user reload clown', or kill -HUP its pid); 'clown terminal new' also \
         passes your PATH.",
        if looked.is_empty() {
            "any directory (none of them exists)".to_string()
        } else {
            looked.join(", ")
        },
        super::tilde(&config_file.display().to_string(), home),
        home.display(),
    )
}

/// The daemon's basics every session gets; PATH also holds the agent directories.
fn base_env(daemon: &crate::paths::Env, dirs: &[PathBuf]) -> BTreeMap<String, String> {
    let mut env: BTreeMap<String, String> = daemon
        .iter()
        .filter(|(k, _)| BASE_VARS.contains(&k.as_str()) || k.starts_with("LC_"))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    let path = std::env::join_paths(dirs)
        .ok()
        .and_then(|p| p.into_string().ok())
        .or_else(|| daemon.get("PATH").cloned());
    if let Some(path) = path {
        env.insert("PATH".into(), path);
    }
    env.insert("TERM".into(), "xterm-256color".into());
    env
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base_environment_is_explicit() {
        let daemon: crate::paths::Env = [
            ("PATH", "/usr/bin"),
            ("HOME", "/h"),
            ("LC_ALL", "C.UTF-8"),
            ("NOTIFY_SOCKET", "/run/x"),
            ("LISTEN_FDS", "1"),
            ("TERM", "dumb"),
        ]
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
        let env = base_env(&daemon, &[PathBuf::from("/a"), PathBuf::from("/b")]);
        assert_eq!(env["PATH"], "/a:/b");
        assert_eq!(env["HOME"], "/h");
        assert_eq!(env["LC_ALL"], "C.UTF-8");
        assert_eq!(env["TERM"], "xterm-256color");
        assert!(!env.contains_key("NOTIFY_SOCKET") && !env.contains_key("LISTEN_FDS"));
    }
}
