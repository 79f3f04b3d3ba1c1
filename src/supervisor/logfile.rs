//! A proxy's log: `<state>/proxy/<alias>.log` (0600), the child's output and the
//! supervisor's notes (start, exit, restart delay). Rotated to `.log.1` past a size, so
//! it stays bounded; [`tail`] reads the last lines across both.

use std::fs::{File, OpenOptions};
use std::io::{self, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

const MAX_BYTES: u64 = 2 * 1024 * 1024;

pub fn path(state_dir: &Path, alias: &str) -> PathBuf {
    state_dir.join("proxy").join(format!("{alias}.log"))
}

/// A shared appender; cloned into the tasks that pump the child's output.
#[derive(Clone)]
pub struct LogFile {
    inner: Arc<Mutex<Inner>>,
}

struct Inner {
    path: PathBuf,
    file: Option<File>,
    size: u64,
    last: Option<String>,
}

fn open(path: &Path) -> io::Result<(File, u64)> {
    if let Some(dir) = path.parent() {
        crate::paths::ensure_private_dir(dir)?;
    }
    let file = OpenOptions::new()
        .create(true)
        .append(true)
        .mode(0o600)
        .open(path)?;
    let size = file.metadata()?.len();
    Ok((file, size))
}

impl LogFile {
    pub fn new(path: PathBuf) -> Self {
        Self {
            inner: Arc::new(Mutex::new(Inner {
                path,
                file: None,
                size: 0,
                last: None,
            })),
        }
    }

    /// Appends one line of the child's output (a newline is added).
    pub fn line(&self, text: &str) {
        self.write(text, true);
    }

    /// Appends a line; failures are reported and otherwise ignored: logging never stops
    /// a proxy. `remember` keeps it as the child's last word.
    fn write(&self, text: &str, remember: bool) {
        let mut inner = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        if inner.size >= MAX_BYTES {
            let rotated = inner.path.with_extension("log.1");
            inner.file = None;
            let _ = std::fs::rename(&inner.path, rotated);
        }
        if inner.file.is_none() {
            match open(&inner.path) {
                Ok((f, size)) => {
                    inner.file = Some(f);
                    inner.size = size;
                }
                Err(e) => {
                    tracing::warn!("cannot write {}: {e}", inner.path.display());
                    return;
                }
            }
        }
        if remember {
            inner.last = Some(text.to_string());
        }
        let mut buf = Vec::with_capacity(text.len() + 1);
        buf.extend_from_slice(text.as_bytes());
        buf.push(b'\n');
        if let Some(f) = inner.file.as_mut()
            && f.write_all(&buf).is_ok()
        {
            inner.size += buf.len() as u64;
        }
    }

    /// The child's last line of output, to explain an exit.
    pub fn last_line(&self) -> Option<String> {
        self.inner
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .last
            .clone()
    }

    /// A note from the supervisor, timestamped and marked as such.
    pub fn note(&self, text: &str) {
        let line = format!("{} supervisor: {text}", crate::time::now_rfc3339());
        self.write(&line, false);
    }
}

/// The last `n` lines of the log at `path` (and its rotated predecessor if needed).
pub fn tail(path: &Path, n: usize) -> io::Result<Vec<String>> {
    let mut lines = read_lines(path)?;
    if lines.len() < n {
        let mut older = read_lines(&path.with_extension("log.1"))?;
        older.append(&mut lines);
        lines = older;
    }
    let skip = lines.len().saturating_sub(n);
    Ok(lines.split_off(skip))
}

fn read_lines(path: &Path) -> io::Result<Vec<String>> {
    match std::fs::read(path) {
        Ok(bytes) => Ok(String::from_utf8_lossy(&bytes)
            .lines()
            .map(str::to_string)
            .collect()),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(Vec::new()),
        Err(e) => Err(e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn appends_rotates_and_tails() {
        let dir = std::env::temp_dir().join(format!("clown-proxylog-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let p = path(&dir, "w");
        let log = LogFile::new(p.clone());
        let long = "x".repeat(1000);
        for i in 0..2200 {
            log.line(&format!("{i} {long}"));
        }
        assert!(p.with_extension("log.1").exists());
        assert!(std::fs::metadata(&p).unwrap().len() < MAX_BYTES);
        let last = tail(&p, 3).unwrap();
        assert_eq!(last.len(), 3);
        assert!(last[2].starts_with("2199 "));
        let many = tail(&p, 2200).unwrap();
        assert!(many.last().unwrap().starts_with("2199 "));
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
