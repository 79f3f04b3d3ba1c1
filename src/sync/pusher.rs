//! The push loop: connect, send events then sessions after their cursors in batches,
//! move each cursor once its batch is committed there, wait for new usage; on any error
//! drop the connection and retry after a delay that doubles up to `sync.retry_max_ms`.

use std::sync::Arc;
use std::time::Duration;

use tokio_postgres::Client;

use super::{Syncer, host_name};
use crate::store::postgres::{self, SharedError};
use crate::store::sync as local;
use crate::store::{Store, StoreError};

const FIRST_RETRY: Duration = Duration::from_millis(250);

#[derive(Debug, thiserror::Error)]
enum PushError {
    #[error("{0}")]
    Shared(#[from] SharedError),
    #[error("{0}")]
    Local(#[from] StoreError),
}

pub async fn run(syncer: Arc<Syncer>, machine: String) {
    let store = syncer.ctx.store.clone();
    let mut bus = syncer.ctx.events.subscribe();
    let mut client: Option<(String, Client)> = None;
    let mut retry = FIRST_RETRY;
    // Whether the index of events by change number is there (made while sync is on).
    let mut tracking: Option<bool> = None;
    loop {
        let config = syncer.ctx.config.get();
        let sync = &config.sync;
        let name = if sync.machine_name.trim().is_empty() {
            host_name()
        } else {
            sync.machine_name.trim().to_string()
        };
        syncer.update(|s| s.machine_name = name.clone());
        let mut wait = Duration::from_millis(sync.interval_ms);
        let on = sync.enabled();
        if tracking != Some(on) {
            match store.call(move |c| local::track_changes(c, on)).await {
                Ok(()) => tracking = Some(on),
                Err(e) => tracing::warn!("sync: cannot index the events by change: {e}"),
            }
        }
        if !on {
            client = None;
            syncer.update(|s| s.connected = false);
        } else {
            if client
                .as_ref()
                .is_some_and(|(url, c)| *url != sync.url || c.is_closed())
            {
                client = None;
            }
            let outcome = match client.take() {
                Some(c) => Ok(c),
                None => postgres::connect(&sync.url, sync.ca_file.as_deref())
                    .await
                    .map(|c| (sync.url.clone(), c)),
            };
            match outcome {
                Err(e) => {
                    failed(&syncer, &e.to_string());
                    wait = retry;
                    retry = (retry * 2).min(Duration::from_millis(sync.retry_max_ms));
                }
                Ok((url, mut c)) => {
                    match push_all(&syncer, &store, &mut c, &machine, &name, sync.batch).await {
                        Ok(()) => {
                            retry = FIRST_RETRY;
                            client = Some((url, c));
                        }
                        Err(e) => {
                            failed(&syncer, &e.to_string());
                            wait = retry;
                            retry = (retry * 2).min(Duration::from_millis(sync.retry_max_ms));
                        }
                    }
                }
            }
        }
        if let Ok(backlog) = backlog(&store).await {
            syncer.update(|s| s.backlog = backlog);
        }
        // Wake on new usage, a nudge, or the interval (while the database is away, only
        // the retry delay or a nudge).
        tokio::select! {
            _ = tokio::time::sleep(wait) => {}
            _ = syncer.wake.notified() => {}
            _ = next_usage(&mut bus), if client.is_some() => {}
        }
    }
}

/// Resolves when usage was recorded (or events were missed, which may include some).
async fn next_usage(bus: &mut tokio::sync::broadcast::Receiver<crate::events::Event>) {
    use tokio::sync::broadcast::error::RecvError;
    loop {
        match bus.recv().await {
            Ok(ev) if ev.kind != "usage_recorded" => continue,
            Err(RecvError::Closed) => std::future::pending::<()>().await,
            _ => return,
        }
    }
}

fn failed(syncer: &Syncer, message: &str) {
    tracing::warn!("sync: {message}");
    syncer.update(|s| {
        s.connected = false;
        s.errors += 1;
        s.last_error = Some(message.to_string());
    });
}

/// Pushes everything after the cursors, batch by batch.
async fn push_all(
    syncer: &Syncer,
    store: &Store,
    client: &mut Client,
    machine: &str,
    name: &str,
    batch: usize,
) -> Result<(), PushError> {
    postgres::push::register(client, machine, name).await?;
    let left = backlog(store).await?;
    syncer.update(|s| {
        s.connected = true;
        s.last_error = None;
        s.backlog = left;
    });
    loop {
        let (events_rev, sessions_rev) = store.read(local::cursors).await?;
        let changes = store
            .read(move |c| local::event_changes_after(c, events_rev, batch))
            .await?;
        // Also past numbers given to changes that left nothing to send.
        if changes.upto > events_rev {
            let any = !changes.events.is_empty() || !changes.removed.is_empty();
            if any {
                postgres::push::events(client, machine, name, &changes.events, &changes.removed)
                    .await?;
            }
            let upto = changes.upto;
            store
                .call(move |c| {
                    let tx = c.transaction()?;
                    local::set_events_cursor(&tx, upto)?;
                    local::forget_removed(&tx, upto)?;
                    Ok(tx.commit()?)
                })
                .await?;
            if any {
                pushed(syncer, store, changes.events.len() as u64, 0).await?;
            }
        }
        let sessions = store
            .read(move |c| local::sessions_after(c, sessions_rev, batch))
            .await?;
        if let Some(last) = sessions.last().map(|s| s.rev) {
            postgres::push::sessions(client, machine, name, &sessions).await?;
            store
                .call(move |c| local::set_sessions_cursor(c, last))
                .await?;
            pushed(syncer, store, 0, sessions.len() as u64).await?;
        }
        if !changes.more && sessions.len() < batch {
            return Ok(());
        }
    }
}

/// Changes recorded after the cursors (change numbers, from the indexes: cheap).
pub(super) async fn backlog(store: &Store) -> Result<u64, StoreError> {
    store
        .read(|c| {
            let (latest_events, latest_sessions) = local::latest(c)?;
            let (ce, cs) = local::cursors(c)?;
            Ok(((latest_events - ce).max(0) + (latest_sessions - cs).max(0)) as u64)
        })
        .await
}

/// Counts a pushed batch, with the backlog left (one status change, so a reader never
/// sees the push done while changes wait).
async fn pushed(
    syncer: &Syncer,
    store: &Store,
    events: u64,
    sessions: u64,
) -> Result<(), StoreError> {
    let left = backlog(store).await?;
    let now = jiff::Timestamp::now();
    syncer.update(|s| {
        s.backlog = left;
        s.pushed_events += events;
        s.pushed_sessions += sessions;
        s.last_push = Some(crate::time::rfc3339(now));
        s.last_push_ts = now.as_second();
    });
    Ok(())
}
