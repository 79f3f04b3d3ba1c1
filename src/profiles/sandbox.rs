//! A profile's sandbox: its settings, and the confinement of each launch of its agent —
//! in a terminal session and in `clown profiles run` alike.
//!
//! A sandboxed launch first needs the platform's tool (bubblewrap's `bwrap` on Linux,
//! `sandbox-exec` on macOS) on the daemon's PATH: without it the launch is refused (409,
//! naming the package), before anything is prepared, and never runs unconfined. Then the
//! layout is drawn from the files as they are: the profile home and the working directory
//! writable; hidden are clown's own directories (database, token, logs, configuration),
//! the user's runtime directory (the daemon's socket, the session bus), every
//! `~/.<agent>-profiles` directory (created when missing, so a profile made later is
//! hidden too) but this profile's home, and the agents' real homes (`~/.claude`, …). A
//! working directory inside a hidden path is refused (400).

use std::path::{Path, PathBuf};

use super::{ProfileError, Profiles, SandboxSettings, sandbox_settings};
use crate::agents::prepare::profile_home;
use crate::agents::sandbox::{self, Layout, REAL_HOMES, Wrapper};
use crate::store::profiles::{self as db, ProfileRow};

/// The platform's sandbox tool, found.
pub struct Tool {
    name: &'static str,
    path: PathBuf,
}

/// A path as the kernel sees it (mounts are made on real paths, not symlinks).
fn real(p: &Path) -> PathBuf {
    std::fs::canonicalize(p).unwrap_or_else(|_| p.to_path_buf())
}

impl Profiles {
    /// Where this platform's sandbox tool is, if it is installed.
    pub fn sandbox_tool(&self) -> Option<PathBuf> {
        let (name, _) = sandbox::tool()?;
        let dirs =
            crate::agents::detect::search_dirs(self.r.env.get("PATH").map(String::as_str), &[]);
        crate::agents::detect::find_binary(name, &dirs)
    }

    /// Replaces the sandbox settings of `alias`. Running sessions keep how they started.
    pub async fn set_sandbox(
        &self,
        alias: &str,
        settings: SandboxSettings,
    ) -> Result<SandboxSettings, ProfileError> {
        let text =
            serde_json::to_string(&settings).map_err(|e| ProfileError::Internal(e.to_string()))?;
        let a = alias.to_string();
        if !self
            .r
            .store
            .call(move |c| db::set_sandbox(c, &a, &text))
            .await?
        {
            return Err(ProfileError::NotFound(alias.to_string()));
        }
        tracing::info!(
            "sandbox of '{alias}' turned {}",
            if settings.enabled { "on" } else { "off" }
        );
        Ok(settings)
    }

    /// The sandbox tool a launch of `row` needs: `None` when the profile is not
    /// sandboxed, a conflict when it is and the tool is missing.
    pub(super) fn sandbox_for(&self, row: &ProfileRow) -> Result<Option<Tool>, ProfileError> {
        if !sandbox_settings(row).enabled {
            return Ok(None);
        }
        let off = format!(
            "or turn the sandbox off with 'clown profiles sandbox {} off'",
            row.alias
        );
        let Some((name, package)) = sandbox::tool() else {
            return Err(ProfileError::Conflict(format!(
                "Profile '{}' runs its agent in a sandbox, which clown has on Linux and macOS only; {off}",
                row.alias
            )));
        };
        match self.sandbox_tool() {
            Some(path) => Ok(Some(Tool { name, path })),
            None => Err(ProfileError::Conflict(format!(
                "Profile '{}' runs its agent in a sandbox, but '{name}' is not on the daemon's PATH: install the package '{package}' (Debian/Ubuntu: apt-get install {package}), {off}",
                row.alias
            ))),
        }
    }

    /// The command prefix that confines `row`'s agent (`program`) started in `cwd`;
    /// `own_terminal` when it runs in the user's terminal (`clown profiles run`) rather
    /// than in a terminal session of the daemon.
    pub(super) fn confine(
        &self,
        tool: &Tool,
        row: &ProfileRow,
        cwd: &Path,
        program: &Path,
        own_terminal: bool,
    ) -> Result<Wrapper, ProfileError> {
        let mut layout = self.layout(row, program)?;
        // A session's terminal is the agent's alone; the user's is shared with a shell.
        layout.new_session = own_terminal && sandbox::terminal_injection_possible();
        let dir = real(cwd);
        if layout.hides(&dir) {
            return Err(ProfileError::Invalid(format!(
                "The working directory {} is hidden in the sandbox of profile '{}' (clown's data, another profile's home or an agent's own files); choose another",
                cwd.display(),
                row.alias
            )));
        }
        layout.writable.push(dir.clone());
        layout.cwd = dir;
        Ok(layout.wrapper(tool.name, &tool.path))
    }

    /// The layout without the working directory (which `confine` checks, then adds).
    fn layout(&self, row: &ProfileRow, program: &Path) -> Result<Layout, ProfileError> {
        let home = &self.r.home;
        let mut hidden: Vec<PathBuf> = self.r.clown_dirs.clone();
        // The runtime directory: the daemon's socket, the session bus (through which a
        // process could have systemd start anything outside the sandbox).
        match self.r.env.get("XDG_RUNTIME_DIR") {
            Some(run) => hidden.push(PathBuf::from(run)),
            None => {
                if let Ok(me) = std::fs::metadata("/proc/self") {
                    use std::os::unix::fs::MetadataExt;
                    hidden.push(PathBuf::from(format!("/run/user/{}", me.uid())));
                }
            }
        }
        for agent in &self.r.catalogue.get().agents {
            let Some(parent) = profile_home(home, &agent.id, "x")
                .parent()
                .map(Path::to_path_buf)
            else {
                continue;
            };
            crate::paths::ensure_private_dir(&parent).map_err(|e| {
                ProfileError::Internal(format!("cannot create {}: {e}", parent.display()))
            })?;
            hidden.push(parent);
        }
        hidden.extend(REAL_HOMES.iter().map(|p| home.join(p)));
        let mut layout = Layout {
            writable: vec![real(Path::new(&row.profile_home))],
            ..Layout::default()
        };
        for p in hidden.iter().filter(|p| p.is_absolute()) {
            match std::fs::metadata(p) {
                Ok(m) if m.is_dir() => layout.hidden_dirs.push(real(p)),
                Ok(_) => layout.hidden_files.push(real(p)),
                Err(_) => {}
            }
        }
        // The agent's install, when it lives in a hidden directory (`~/.claude/local`):
        // the first directory below the hidden one, read-only.
        for path in [program.to_path_buf(), real(program)] {
            for h in &layout.hidden_dirs {
                if let Ok(rest) = path.strip_prefix(h)
                    && let Some(first) = rest.components().next()
                {
                    layout.readable.push(h.join(first));
                }
            }
        }
        layout.readable.dedup();
        Ok(layout)
    }
}
