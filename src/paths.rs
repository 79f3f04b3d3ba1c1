//! Where clown keeps its files (DESIGN §4).
//!
//! Everything is resolved from an environment map handed in by the caller, so tests
//! control the locations by setting `HOME`/`XDG_*`/`CLOWN_*` for the child process
//! instead of mutating the test runner's own environment. Only absolute XDG values count.

use std::collections::HashMap;
use std::fs;
use std::io;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};

/// A snapshot of the environment variables that decide locations.
pub type Env = HashMap<String, String>;

/// Reads the process environment into an [`Env`].
pub fn process_env() -> Env {
    std::env::vars().collect()
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Paths {
    pub home: PathBuf,
    pub config_file: PathBuf,
    pub config_dir: PathBuf,
    pub data_dir: PathBuf,
    pub state_dir: PathBuf,
    pub cache_dir: PathBuf,
}

#[derive(Debug, thiserror::Error)]
pub enum PathsError {
    #[error("cannot find the home directory: HOME is not set to an absolute path")]
    NoHome,
}

fn absolute(env: &Env, key: &str) -> Option<PathBuf> {
    env.get(key).map(PathBuf::from).filter(|p| p.is_absolute())
}

impl Paths {
    /// Resolves every location from `env` (DESIGN §4 table).
    pub fn from_env(env: &Env) -> Result<Self, PathsError> {
        let home = absolute(env, "HOME").ok_or(PathsError::NoHome)?;
        let mac = cfg!(target_os = "macos");
        let app_support = home.join("Library/Application Support/clown");
        let xdg = |key: &str, fallback: &str| {
            absolute(env, key)
                .unwrap_or_else(|| home.join(fallback))
                .join("clown")
        };
        let config_dir = if mac && !env.contains_key("XDG_CONFIG_HOME") {
            app_support.clone()
        } else {
            xdg("XDG_CONFIG_HOME", ".config")
        };
        let data_dir = absolute(env, "CLOWN_DATA_DIR").unwrap_or_else(|| {
            if mac && !env.contains_key("XDG_DATA_HOME") {
                app_support.clone()
            } else {
                xdg("XDG_DATA_HOME", ".local/share")
            }
        });
        let state_dir = absolute(env, "CLOWN_STATE_DIR").unwrap_or_else(|| {
            if mac && !env.contains_key("XDG_STATE_HOME") {
                app_support.clone()
            } else {
                xdg("XDG_STATE_HOME", ".local/state")
            }
        });
        let cache_dir = if mac && !env.contains_key("XDG_CACHE_HOME") {
            home.join("Library/Caches/clown")
        } else {
            xdg("XDG_CACHE_HOME", ".cache")
        };
        let config_file =
            absolute(env, "CLOWN_CONFIG").unwrap_or_else(|| config_dir.join("config.toml"));
        Ok(Self {
            home,
            config_file,
            config_dir,
            data_dir,
            state_dir,
            cache_dir,
        })
    }

    pub fn db_file(&self) -> PathBuf {
        self.data_dir.join("clown.db")
    }

    pub fn lock_file(&self) -> PathBuf {
        self.data_dir.join("clown.lock")
    }

    pub fn token_file(&self) -> PathBuf {
        self.state_dir.join("token")
    }

    /// The daemon's Unix socket: the CLI's way in that only this user can use.
    pub fn socket_file(&self) -> PathBuf {
        self.state_dir.join("clown.sock")
    }

    pub fn daemon_log(&self) -> PathBuf {
        self.state_dir.join("daemon.log")
    }
}

/// Whether `name` may name a profile (or another user-chosen item that becomes part of
/// a path): `^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$`. Never `.` or `..`, never a separator.
pub fn valid_alias(name: &str) -> bool {
    let mut chars = name.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_alphanumeric())
        && name.len() <= 64
        && chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'))
}

/// The umask the process started with (what the user's own programs should get).
static USER_UMASK: AtomicU32 = AtomicU32::new(u32::MAX);

/// Sets the process umask to 0077, so every file and directory clown creates (the
/// database and its WAL, locks, logs, caches) is private whatever umask it was started
/// with. The starting umask is kept for [`user_umask`]. Idempotent.
// mode_t is u16 on macOS.
#[allow(clippy::useless_conversion)]
pub fn private_umask() {
    let old = nix::sys::stat::umask(nix::sys::stat::Mode::from_bits_truncate(0o077));
    let _ = USER_UMASK.compare_exchange(
        u32::MAX,
        u32::from(old.bits()),
        Ordering::SeqCst,
        Ordering::SeqCst,
    );
}

/// The umask clown was started with: programs run for the user (agents in terminal
/// sessions) get it back, so their files are as the user expects.
pub fn user_umask() -> Option<u32> {
    match USER_UMASK.load(Ordering::SeqCst) {
        u32::MAX => None,
        m => Some(m),
    }
}

#[derive(Debug, thiserror::Error)]
pub enum DirError {
    #[error("cannot create or inspect directory {path}: {source}")]
    Io { path: PathBuf, source: io::Error },
    #[error(
        "directory {path} belongs to uid {owner}, not to you (uid {uid}); refusing to keep clown's data there: remove it or point CLOWN_DATA_DIR/CLOWN_STATE_DIR elsewhere"
    )]
    NotOurs { path: PathBuf, owner: u32, uid: u32 },
}

/// Makes `dir` private: created 0700 with its missing parents; an existing one must
/// belong to this user and is tightened to 0700 when others could read or write it.
/// Returns whether it had to be tightened.
pub fn secure_dir(dir: &Path) -> Result<bool, DirError> {
    use std::os::unix::fs::MetadataExt;
    let io_err = |source| DirError::Io {
        path: dir.to_path_buf(),
        source,
    };
    ensure_private_dir(dir).map_err(io_err)?;
    let meta = fs::metadata(dir).map_err(io_err)?;
    let uid = nix::unistd::geteuid().as_raw();
    if meta.uid() != uid {
        return Err(DirError::NotOurs {
            path: dir.to_path_buf(),
            owner: meta.uid(),
            uid,
        });
    }
    if meta.mode() & 0o077 == 0 {
        return Ok(false);
    }
    fs::set_permissions(dir, fs::Permissions::from_mode(0o700)).map_err(io_err)?;
    Ok(true)
}

/// Makes an existing file 0600 if others could read or write it (files left by an
/// earlier version or another umask); a missing file is fine.
pub fn tighten_file(path: &Path) -> io::Result<()> {
    match fs::metadata(path) {
        Ok(meta) if meta.permissions().mode() & 0o077 != 0 => {
            fs::set_permissions(path, fs::Permissions::from_mode(0o600))
        }
        Ok(_) => Ok(()),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(e),
    }
}

/// Creates `dir` and its missing parents with mode 0700.
pub fn ensure_private_dir(dir: &Path) -> io::Result<()> {
    fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
}

/// The clown binary running now, for the programs it starts (hooks, session holders). A
/// binary replaced on disk since it started (a package upgrade) is named by its path,
/// which now holds the new one.
pub fn clown_exe() -> io::Result<PathBuf> {
    let exe = std::env::current_exe()?;
    let text = exe.display().to_string();
    match text.strip_suffix(" (deleted)") {
        Some(path) if Path::new(path).exists() => Ok(PathBuf::from(path)),
        _ => Ok(exe),
    }
}

/// Serialises writers of one file, so a read-modify-write never loses another's change.
pub fn file_lock(path: &Path) -> Arc<Mutex<()>> {
    static LOCKS: OnceLock<Mutex<HashMap<PathBuf, Arc<Mutex<()>>>>> = OnceLock::new();
    let mut locks = LOCKS
        .get_or_init(Default::default)
        .lock()
        .unwrap_or_else(|p| p.into_inner());
    locks.entry(path.to_path_buf()).or_default().clone()
}

/// Writes `contents` to `path` atomically with mode 0600: into a temp file of a name no
/// other writer uses (pid, a counter, random bits), then renamed over `path`.
pub fn write_private_file(path: &Path, contents: &[u8]) -> io::Result<()> {
    use std::io::Write;
    static NEXT: AtomicU64 = AtomicU64::new(0);
    let dir = path.parent().unwrap_or(Path::new("."));
    ensure_private_dir(dir)?;
    let mut salt = [0u8; 8];
    getrandom::fill(&mut salt).map_err(|e| io::Error::other(e.to_string()))?;
    let tmp = dir.join(format!(
        ".{}.tmp-{}-{}-{:016x}",
        path.file_name().and_then(|n| n.to_str()).unwrap_or("file"),
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed),
        u64::from_le_bytes(salt)
    ));
    let written = (|| {
        let mut f = fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&tmp)?;
        f.set_permissions(fs::Permissions::from_mode(0o600))?;
        f.write_all(contents)?;
        f.sync_all()?;
        fs::rename(&tmp, path)
    })();
    if written.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    written
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &[(&str, &str)]) -> Env {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    #[cfg(not(target_os = "macos"))]
    fn xdg_defaults_and_overrides() {
        let p = Paths::from_env(&env(&[("HOME", "/h")])).unwrap();
        assert_eq!(p.config_file, PathBuf::from("/h/.config/clown/config.toml"));
        assert_eq!(p.db_file(), PathBuf::from("/h/.local/share/clown/clown.db"));
        assert_eq!(p.token_file(), PathBuf::from("/h/.local/state/clown/token"));
        assert_eq!(p.cache_dir, PathBuf::from("/h/.cache/clown"));

        let p = Paths::from_env(&env(&[
            ("HOME", "/h"),
            ("XDG_CONFIG_HOME", "relative/ignored"),
            ("XDG_DATA_HOME", "/d"),
            ("CLOWN_STATE_DIR", "/s"),
            ("CLOWN_CONFIG", "/c.toml"),
        ]))
        .unwrap();
        assert_eq!(p.config_dir, PathBuf::from("/h/.config/clown"));
        assert_eq!(p.config_file, PathBuf::from("/c.toml"));
        assert_eq!(p.data_dir, PathBuf::from("/d/clown"));
        assert_eq!(p.state_dir, PathBuf::from("/s"));
    }

    #[test]
    fn home_is_required() {
        assert!(Paths::from_env(&env(&[("HOME", "rel")])).is_err());
    }
}
