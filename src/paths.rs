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

    pub fn daemon_log(&self) -> PathBuf {
        self.state_dir.join("daemon.log")
    }
}

/// Creates `dir` and its missing parents with mode 0700.
pub fn ensure_private_dir(dir: &Path) -> io::Result<()> {
    fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
}

/// Writes `contents` to `path` atomically (temp file + rename) with mode 0600.
pub fn write_private_file(path: &Path, contents: &[u8]) -> io::Result<()> {
    use std::io::Write;
    let dir = path.parent().unwrap_or(Path::new("."));
    ensure_private_dir(dir)?;
    let tmp = dir.join(format!(
        ".{}.tmp-{}",
        path.file_name().and_then(|n| n.to_str()).unwrap_or("file"),
        std::process::id()
    ));
    let mut f = fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(&tmp)?;
    f.set_permissions(fs::Permissions::from_mode(0o600))?;
    f.write_all(contents)?;
    f.sync_all()?;
    fs::rename(&tmp, path)
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
