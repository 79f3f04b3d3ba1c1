//! Usage from many machines: a background task that pushes this machine's usage events
//! and sessions to the shared PostgreSQL database of `[sync]`, and the reads that
//! cross-machine reports make there.
//!
//! The local SQLite store stays the source of truth and the daemon never needs the
//! shared database: the pusher ([`pusher`]) wakes when usage is recorded (or every
//! `sync.interval_ms`), sends what changed after its cursor in batches, and moves the
//! cursor only after the database committed; while the database is away it retries
//! with growing delays, and after downtime — of either side — it resumes at the cursor.
//! A component on narrow inputs (store, configuration, event bus), like the supervisor.

mod pusher;

use std::sync::{Arc, Mutex};

use serde::Serialize;
use tokio::sync::Notify;
use tokio_postgres::Client;

use crate::config::Config;
use crate::events::EventBus;
use crate::shared::Shared;
use crate::store::Store;
use crate::store::postgres::{self, SharedError};

pub struct Context {
    pub store: Store,
    pub config: Shared<Config>,
    pub events: EventBus,
}

/// What `GET /api/sync/status` says.
#[derive(Debug, Clone, Default, Serialize)]
pub struct SyncStatus {
    pub enabled: bool,
    pub machine_id: String,
    pub machine_name: String,
    /// The database (password left out).
    pub database: Option<String>,
    pub connected: bool,
    /// Changes recorded here and not yet in the shared database.
    pub backlog: u64,
    pub pushed_events: u64,
    pub pushed_sessions: u64,
    pub errors: u64,
    pub last_push: Option<String>,
    pub last_error: Option<String>,
    #[serde(skip)]
    pub last_push_ts: i64,
}

pub struct Syncer {
    ctx: Context,
    status: Mutex<SyncStatus>,
    wake: Notify,
    /// The connection reports read through (the pusher has its own).
    reader: tokio::sync::Mutex<Option<(String, Arc<Client>)>>,
}

impl Syncer {
    /// Reads (or creates) this machine's id and starts the pusher; it idles while
    /// `[sync]` has no URL.
    pub fn start(ctx: Context) -> Result<Arc<Self>, crate::store::StoreError> {
        let (machine_id, backlog) = ctx.store.call_blocking(|c| {
            let id =
                crate::store::sync::machine_id(c, || uuid::Uuid::new_v4().simple().to_string())?;
            let (events, sessions) = crate::store::sync::latest(c)?;
            let (ce, cs) = crate::store::sync::cursors(c)?;
            Ok((id, ((events - ce).max(0) + (sessions - cs).max(0)) as u64))
        })?;
        let syncer = Arc::new(Self {
            ctx,
            status: Mutex::new(SyncStatus {
                machine_id: machine_id.clone(),
                backlog,
                ..SyncStatus::default()
            }),
            wake: Notify::new(),
            reader: tokio::sync::Mutex::new(None),
        });
        tokio::spawn(pusher::run(syncer.clone(), machine_id));
        Ok(syncer)
    }

    pub fn status(&self) -> SyncStatus {
        let mut s = self
            .status
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone();
        let config = self.ctx.config.get();
        s.enabled = config.sync.enabled();
        s.database = s
            .enabled
            .then(|| crate::config::redact_url(&config.sync.url));
        s
    }

    /// The status with the backlog counted now (a reader; two index lookups), so it is
    /// never behind a change recorded since the pusher last looked.
    pub async fn status_now(&self) -> SyncStatus {
        let mut s = self.status();
        if let Ok(backlog) = pusher::backlog(&self.ctx.store).await {
            s.backlog = backlog;
        }
        s
    }

    fn update(&self, f: impl FnOnce(&mut SyncStatus)) {
        f(&mut self.status.lock().unwrap_or_else(|p| p.into_inner()));
    }

    /// Asks the pusher to look for new usage now (the configuration may have changed).
    pub fn nudge(&self) {
        self.wake.notify_one();
    }

    /// A connection to the shared database for reading (kept between reports), or why
    /// there is none.
    pub async fn client(&self) -> Result<Arc<Client>, SyncUnavailable> {
        let config = self.ctx.config.get();
        if !config.sync.enabled() {
            return Err(SyncUnavailable::NotConfigured);
        }
        let mut slot = self.reader.lock().await;
        if let Some((url, client)) = slot.as_ref()
            && *url == config.sync.url
            && !client.is_closed()
        {
            return Ok(client.clone());
        }
        let client = Arc::new(
            postgres::connect(&config.sync.url, config.sync.ca_file.as_deref())
                .await
                .map_err(SyncUnavailable::Unreachable)?,
        );
        *slot = Some((config.sync.url.clone(), client.clone()));
        Ok(client)
    }

    /// Forgets the reading connection after an error, so the next report reconnects.
    pub async fn reset_client(&self) {
        *self.reader.lock().await = None;
    }
}

#[derive(Debug, thiserror::Error)]
pub enum SyncUnavailable {
    #[error("no shared database is configured: set [sync] url in the configuration")]
    NotConfigured,
    #[error("the shared database is unreachable: {0}")]
    Unreachable(SharedError),
}

/// This machine's name when none is configured: the host name.
fn host_name() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .or_else(|_| std::fs::read_to_string("/etc/hostname"))
        .map(|s| s.trim().to_string())
        .ok()
        .filter(|s| !s.is_empty())
        .or_else(|| std::env::var("HOSTNAME").ok())
        .unwrap_or_else(|| "unnamed".into())
}
