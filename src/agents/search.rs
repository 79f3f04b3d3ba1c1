//! Where agent programs are looked for.
//!
//! A daemon started by systemd or launchd has a minimal PATH, while agents are usually
//! installed per user (`~/.local/bin`, an npm user prefix, nvm, bun, volta, …) and
//! found through the PATH the user's login shell builds. So the daemon searches, in
//! order, keeping only directories that exist:
//!
//! 1. the PATH of the user's login shell: `$SHELL -l -c` run once (in the background at
//!    start), with stdin on /dev/null, in its own process group, killed after
//!    [`LOGIN_TIMEOUT`]; off with `agents.login_shell = false`, skipped without `SHELL`;
//! 2. the daemon's own PATH;
//! 3. `agents.extra_paths`;
//! 4. the usual per-user prefixes ([`super::prefixes::user_prefixes`]) and `/usr/local/bin`,
//!    `/opt/homebrew/bin`;
//! 5. directories a client vouched for: the CLI sends its own PATH with a new terminal
//!    session; when the agent is found nowhere above, the first directory of that PATH
//!    holding it is used — only when [`trusted`] (owned by the user or root, not
//!    writable by everyone, up to `/`), since a client must not make the daemon run a
//!    program another user could have put there — and remembered until the daemon
//!    exits (at most [`MAX_LEARNED`]).

use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use serde::Serialize;

use crate::paths::Env;

/// How long the login shell may take to print its PATH.
pub const LOGIN_TIMEOUT: Duration = Duration::from_secs(3);
/// How many client-vouched directories are remembered.
pub const MAX_LEARNED: usize = 16;
const MARKER: &str = "__CLOWN_PATH__=";

/// Why a directory is searched.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Source {
    /// The prefix `clown agents install` installs into.
    Installed,
    LoginShell,
    DaemonPath,
    ExtraPaths,
    UserPrefix,
    Client,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SearchDir {
    pub dir: PathBuf,
    pub source: Source,
}

/// What reading the login shell's PATH gave.
#[derive(Debug, Clone, Serialize)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum LoginPath {
    /// `SHELL` is not set in the daemon's environment.
    NoShell,
    Read {
        shell: PathBuf,
        dirs: Vec<PathBuf>,
        millis: u64,
    },
    Failed {
        shell: PathBuf,
        reason: String,
    },
}

/// The search directories of one daemon: its environment, the login shell's PATH once
/// read, and what clients vouched for.
pub struct AgentPaths {
    env: Env,
    home: PathBuf,
    login: tokio::sync::OnceCell<LoginPath>,
    learned: Mutex<Vec<PathBuf>>,
}

impl AgentPaths {
    pub fn new(env: Env, home: PathBuf) -> Self {
        Self {
            env,
            home,
            login: tokio::sync::OnceCell::new(),
            learned: Mutex::new(Vec::new()),
        }
    }

    /// The login shell's PATH, read on the first call (later calls wait for that one).
    pub async fn login_path(&self) -> &LoginPath {
        self.login
            .get_or_init(|| read_login_path(self.env.get("SHELL").map(PathBuf::from), &self.env))
            .await
    }

    /// What the login shell gave, if it was read already.
    pub fn login_path_now(&self) -> Option<&LoginPath> {
        self.login.get()
    }

    /// Every directory searched, in order, each once.
    pub async fn dirs(&self, extra: &[PathBuf], login_shell: bool) -> Vec<SearchDir> {
        let mut out: Vec<SearchDir> = Vec::new();
        let mut add = |dir: PathBuf, source: Source| {
            if dir.is_absolute() && !out.iter().any(|d| d.dir == dir) && dir.is_dir() {
                out.push(SearchDir { dir, source });
            }
        };
        if login_shell && let LoginPath::Read { dirs, .. } = self.login_path().await {
            for d in dirs {
                add(d.clone(), Source::LoginShell);
            }
        }
        if let Some(path) = self.env.get("PATH") {
            for d in std::env::split_paths(path) {
                add(d, Source::DaemonPath);
            }
        }
        for d in extra {
            add(d.clone(), Source::ExtraPaths);
        }
        for d in super::prefixes::user_prefixes(&self.home, &self.env) {
            add(d, Source::UserPrefix);
        }
        for d in self
            .learned
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .iter()
        {
            add(d.clone(), Source::Client);
        }
        out
    }

    /// The agent `binary` as a client's `path` (a PATH value) finds it: `Ok(None)` when
    /// no directory of it holds one, `Err` with the reason when the first that does is
    /// not [`trusted`]. A trusted directory is remembered.
    pub fn vouched(&self, binary: &str, path: &str) -> Result<Option<PathBuf>, String> {
        let dirs: Vec<PathBuf> = std::env::split_paths(path)
            .filter(|d| d.is_absolute())
            .collect();
        let Some(found) = super::detect::find_binary(binary, &dirs) else {
            return Ok(None);
        };
        trusted(&found)?;
        if let Some(dir) = found.parent() {
            let mut learned = self.learned.lock().unwrap_or_else(|p| p.into_inner());
            if !learned.iter().any(|d| d == dir) {
                if learned.len() == MAX_LEARNED {
                    learned.remove(0);
                }
                learned.push(dir.to_path_buf());
            }
        }
        Ok(Some(found))
    }
}

/// Runs `SHELL -l -c 'printf …$PATH'` once and keeps the directories it prints.
async fn read_login_path(shell: Option<PathBuf>, env: &Env) -> LoginPath {
    let Some(shell) = shell.filter(|s| s.is_absolute()) else {
        return LoginPath::NoShell;
    };
    let started = Instant::now();
    let mut cmd = tokio::process::Command::new(&shell);
    cmd.arg("-l")
        .arg("-c")
        .arg(format!("printf '\\n{MARKER}%s\\n' \"$PATH\""))
        .env_clear()
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .process_group(0)
        .kill_on_drop(true);
    for key in ["HOME", "USER", "LOGNAME", "SHELL", "PATH", "LANG", "TMPDIR"] {
        if let Some(v) = env.get(key) {
            cmd.env(key, v);
        }
    }
    let failed = |reason: String| LoginPath::Failed {
        shell: shell.clone(),
        reason,
    };
    let child = match cmd.spawn() {
        Ok(c) => c,
        Err(e) => return failed(format!("cannot run it: {e}")),
    };
    let pgid = child.id();
    let out = match tokio::time::timeout(LOGIN_TIMEOUT, child.wait_with_output()).await {
        Ok(Ok(out)) => out,
        Ok(Err(e)) => return failed(e.to_string()),
        Err(_) => {
            // Whatever the profile scripts started goes too.
            if let Some(pgid) = pgid.and_then(|p| i32::try_from(p).ok()) {
                let _ = nix::sys::signal::killpg(
                    nix::unistd::Pid::from_raw(pgid),
                    nix::sys::signal::Signal::SIGKILL,
                );
            }
            return failed(format!("no answer within {LOGIN_TIMEOUT:?}"));
        }
    };
    let text = String::from_utf8_lossy(&out.stdout);
    match text.lines().rev().find_map(|l| l.strip_prefix(MARKER)) {
        Some(path) => LoginPath::Read {
            dirs: std::env::split_paths(path)
                .filter(|d| d.is_absolute())
                .collect(),
            shell,
            millis: u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX),
        },
        None => failed(format!("it printed no PATH (exit status {})", out.status)),
    }
}

/// Whether the daemon may run `binary` on a client's word: an executable file that,
/// like every directory above it (as named and once symlinks are resolved), belongs to
/// this user or root and is not writable by every user (a sticky directory such as
/// `/tmp` excepted). Says why not.
pub fn trusted(binary: &Path) -> Result<(), String> {
    let me = nix::unistd::geteuid().as_raw();
    let real = std::fs::canonicalize(binary)
        .map_err(|e| format!("cannot resolve {}: {e}", binary.display()))?;
    let meta = std::fs::metadata(&real).map_err(|e| format!("{}: {e}", real.display()))?;
    if !meta.is_file() || meta.permissions().mode() & 0o111 == 0 {
        return Err(format!("{} is not an executable file", real.display()));
    }
    let named = binary.parent().map(Path::ancestors).into_iter().flatten();
    for p in std::iter::once(real.as_path())
        .chain(real.ancestors().skip(1))
        .chain(named)
    {
        let m = std::fs::metadata(p).map_err(|e| format!("{}: {e}", p.display()))?;
        if m.uid() != me && m.uid() != 0 {
            return Err(format!(
                "{} belongs to another user (uid {})",
                p.display(),
                m.uid()
            ));
        }
        let everyone_writes = m.mode() & 0o002 != 0;
        let sticky_dir = m.is_dir() && m.mode() & 0o1000 != 0;
        if everyone_writes && !sticky_dir {
            return Err(format!("{} is writable by every user", p.display()));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn temp(name: &str) -> PathBuf {
        let d = std::env::temp_dir().join(format!("clown-search-{}-{name}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        std::fs::create_dir_all(&d).unwrap();
        d
    }

    fn exe(path: &Path) {
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, "#!/bin/sh\n").unwrap();
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755)).unwrap();
    }

    #[test]
    fn a_client_path_is_used_only_when_trusted() {
        let root = temp("trust");
        let good = root.join("good/bin/agent-x");
        exe(&good);
        let open = root.join("open");
        exe(&open.join("agent-x"));
        std::fs::set_permissions(&open, std::fs::Permissions::from_mode(0o777)).unwrap();
        assert_eq!(trusted(&good), Ok(()));
        let err = trusted(&open.join("agent-x")).unwrap_err();
        assert!(err.contains("writable by every user"), "{err}");

        let paths = AgentPaths::new(Env::new(), root.clone());
        let path = format!("/nonexistent:{}", good.parent().unwrap().display());
        assert_eq!(paths.vouched("agent-x", &path), Ok(Some(good.clone())));
        assert_eq!(paths.vouched("agent-y", &path), Ok(None));
        let bad = format!("{}:{}", open.display(), good.parent().unwrap().display());
        assert!(
            paths.vouched("agent-x", &bad).is_err(),
            "the first hit decides"
        );
        assert_eq!(
            paths.learned.lock().unwrap().as_slice(),
            [good.parent().unwrap().to_path_buf()]
        );
        std::fs::remove_dir_all(&root).unwrap();
    }

    #[tokio::test]
    async fn the_login_shell_path_is_read_and_a_hung_shell_is_cut() {
        let root = temp("login");
        let shell = root.join("fake-shell");
        let extra = root.join("from-profile");
        std::fs::create_dir_all(&extra).unwrap();
        std::fs::write(
            &shell,
            format!(
                "#!/bin/sh\necho 'noise from a profile script'\nPATH={}:$PATH\nexport PATH\nexec /bin/sh -c \"$3\"\n",
                extra.display()
            ),
        )
        .unwrap();
        std::fs::set_permissions(&shell, std::fs::Permissions::from_mode(0o755)).unwrap();
        let env: Env = [("PATH".to_string(), "/usr/bin:/bin".to_string())].into();
        match read_login_path(Some(shell.clone()), &env).await {
            LoginPath::Read { dirs, .. } => {
                assert_eq!(dirs[0], extra);
                assert!(dirs.contains(&PathBuf::from("/usr/bin")));
            }
            other => panic!("{other:?}"),
        }
        let hung = root.join("hung-shell");
        std::fs::write(&hung, "#!/bin/sh\nexec sleep 600\n").unwrap();
        std::fs::set_permissions(&hung, std::fs::Permissions::from_mode(0o755)).unwrap();
        match read_login_path(Some(hung), &env).await {
            LoginPath::Failed { reason, .. } => assert!(reason.contains("no answer"), "{reason}"),
            other => panic!("{other:?}"),
        }
        assert!(matches!(
            read_login_path(None, &env).await,
            LoginPath::NoShell
        ));
        std::fs::remove_dir_all(&root).unwrap();
    }
}
