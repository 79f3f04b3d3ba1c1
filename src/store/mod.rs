//! The SQLite store (DESIGN §7): one file, WAL, numbered migrations.
//!
//! One writer connection behind a mutex ([`Store::call`]) and a few read-only ones
//! ([`Store::read`]), only touched from blocking threads (`spawn_blocking`), so async
//! workers never wait on disk. Under WAL a reader sees the last commit and never waits
//! for the writer: a long import (which takes the writer one batch of files at a time)
//! does not hold up the API's reads. Every multi-row change runs in one transaction, so
//! a crash leaves either the old or the new state. Deleted rows are overwritten
//! (`secure_delete`), so a deleted key is gone from the file once the WAL is checkpointed.

pub mod bindings;
pub mod budgets;
pub mod conversations;
pub mod daily;
mod db;
pub mod events;
pub mod foreign;
pub mod imports;
pub mod limits;
pub mod pool_keys;
pub mod postgres;
pub mod profiles;
pub mod retention;
pub mod sessions;
pub mod setup;
pub mod sync;
pub mod totals;
pub mod usage;

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use rusqlite::Connection;

pub use db::SCHEMA_VERSION;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("cannot open database {path}: {source}")]
    Open {
        path: PathBuf,
        source: rusqlite::Error,
    },
    #[error("database migration {version} failed: {source}")]
    Migrate {
        version: usize,
        source: rusqlite::Error,
    },
    #[error("database error: {0}")]
    Sql(#[from] rusqlite::Error),
    #[error("database worker failed: {0}")]
    Join(String),
}

/// Read-only connections: two requests read at once without waiting for each other.
/// The six token counts every usage table keeps, in their order.
const COUNT_COLUMNS: [&str; 6] = [
    "input_tokens",
    "output_tokens",
    "cache_creation_input_tokens",
    "cache_read_input_tokens",
    "cache_creation_1h_tokens",
    "reasoning_output_tokens",
];

/// `SUM(col)` that saturates instead of failing with an overflow (which would stop the
/// daemon starting): TOTAL is exact for integers below 2^53, far beyond any real count.
fn saturated_sum(col: &str) -> String {
    format!("CAST(MIN(TOTAL({col}), 9223372036854775807.0) AS INTEGER)")
}

const READERS: usize = 2;

#[derive(Clone)]
pub struct Store {
    conn: Arc<Mutex<Connection>>,
    readers: Arc<[Mutex<Connection>]>,
    next_reader: Arc<std::sync::atomic::AtomicUsize>,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Store")
    }
}

impl Store {
    /// Opens (creating if needed) the database at `path` and runs pending migrations.
    pub fn open(path: &Path) -> Result<Self, StoreError> {
        let conn = db::open(path)?;
        let readers = (0..READERS)
            .map(|_| db::open_reader(path).map(Mutex::new))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Self {
            conn: Arc::new(Mutex::new(conn)),
            readers: readers.into(),
            next_reader: Default::default(),
        })
    }

    /// Runs `f` with a read-only connection on a blocking thread: it sees the last
    /// commit and never waits for a write in progress.
    pub async fn read<T, F>(&self, f: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> Result<T, StoreError> + Send + 'static,
    {
        let readers = self.readers.clone();
        let first = self
            .next_reader
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        tokio::task::spawn_blocking(move || {
            // A free reader if there is one, else wait for this call's turn.
            let n = readers.len();
            let guard = (0..n)
                .find_map(|i| readers[(first + i) % n].try_lock().ok())
                .unwrap_or_else(|| readers[first % n].lock().unwrap_or_else(|p| p.into_inner()));
            f(&guard)
        })
        .await
        .map_err(|e| StoreError::Join(e.to_string()))?
    }

    /// Runs `f` with the connection on a blocking thread.
    pub async fn call<T, F>(&self, f: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnOnce(&mut Connection) -> Result<T, StoreError> + Send + 'static,
    {
        let conn = self.conn.clone();
        tokio::task::spawn_blocking(move || {
            // A panic while holding the lock poisons it; the connection itself is still
            // consistent (SQLite rolls back the open transaction), so keep using it.
            let mut guard = conn.lock().unwrap_or_else(|p| p.into_inner());
            f(&mut guard)
        })
        .await
        .map_err(|e| StoreError::Join(e.to_string()))?
    }

    /// Runs `f` synchronously; for start-up and shutdown only.
    pub fn call_blocking<T>(
        &self,
        f: impl FnOnce(&mut Connection) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        let mut guard = self.conn.lock().unwrap_or_else(|p| p.into_inner());
        f(&mut guard)
    }

    /// Checkpoints the WAL and truncates it: what a delete overwrote is then gone from
    /// the WAL too.
    pub async fn checkpoint(&self) -> Result<(), StoreError> {
        self.call(|c| {
            c.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(()))?;
            Ok(())
        })
        .await
    }

    /// Checkpoints the WAL so the main file holds everything; called at shutdown.
    pub fn flush(&self) -> Result<(), StoreError> {
        self.call_blocking(|c| {
            c.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(()))?;
            Ok(())
        })
    }

    pub fn count_profiles(&self) -> Result<usize, StoreError> {
        self.call_blocking(|c| {
            let n: i64 = c.query_row("SELECT COUNT(*) FROM profiles", [], |r| r.get(0))?;
            Ok(n as usize)
        })
    }
}
