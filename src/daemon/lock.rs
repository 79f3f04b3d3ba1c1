//! The data-directory lock: one daemon per data directory.
//!
//! An exclusive `flock` on `<data>/clown.lock`, held for the daemon's lifetime and
//! released by the kernel when the process dies, so a crash never leaves a stale lock.

use std::fs::File;
use std::path::{Path, PathBuf};

use nix::fcntl::{Flock, FlockArg};

#[derive(Debug, thiserror::Error)]
pub enum LockError {
    #[error("cannot open lock file {path}: {source}")]
    Open {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error(
        "another clown daemon is already running with data directory {dir} (lock {path} is held); stop it first or set CLOWN_DATA_DIR"
    )]
    Held { dir: PathBuf, path: PathBuf },
}

pub struct DataLock {
    _flock: Flock<File>,
}

impl DataLock {
    pub fn acquire(path: &Path) -> Result<Self, LockError> {
        let file = std::fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(path)
            .map_err(|source| LockError::Open {
                path: path.to_path_buf(),
                source,
            })?;
        let flock =
            Flock::lock(file, FlockArg::LockExclusiveNonblock).map_err(|_| LockError::Held {
                dir: path.parent().unwrap_or(path).to_path_buf(),
                path: path.to_path_buf(),
            })?;
        Ok(Self { _flock: flock })
    }
}
