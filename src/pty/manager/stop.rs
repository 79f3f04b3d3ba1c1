//! Stopping: every session ended (a stop of the daemon) or let go for the next daemon
//! (a restart).

use std::sync::Arc;

use tokio::sync::oneshot;

use super::{Cmd, Terminals};
use crate::pty::session::Session;
use crate::store::Store;
use crate::store::sessions as records;

impl Terminals {
    pub(super) async fn close(&self) {
        let (reply, rx) = oneshot::channel();
        if self.tx.send(Cmd::Close(reply)).await.is_ok() {
            let _ = rx.await;
        }
    }

    /// Refuses new sessions, ends every running one (recorded as interrupted, so it can
    /// be resumed), and waits until each is recorded.
    pub async fn shutdown(&self, store: &Store) {
        self.close().await;
        let all = self.list();
        let running: Vec<String> = all
            .iter()
            .filter(|s| s.is_running())
            .map(|s| s.id.to_string())
            .collect();
        if !running.is_empty() {
            tracing::info!("ending {} terminal session(s)", running.len());
            let _ = store
                .call(move |c| {
                    for id in &running {
                        records::interrupt(c, id)?;
                    }
                    Ok(())
                })
                .await;
        }
        end_all(all).await;
    }

    /// Refuses new sessions and lets go of every running one, which its holder keeps
    /// for the next daemon; returns how many.
    pub async fn detach_all(&self) -> usize {
        self.close().await;
        let running: Vec<_> = self.list().into_iter().filter(|s| s.is_running()).collect();
        for s in &running {
            s.detach();
        }
        if !running.is_empty() {
            tracing::info!(
                "keeping {} terminal session(s) for the next daemon",
                running.len()
            );
        }
        running.len()
    }
}

pub(super) async fn end_all(sessions: Vec<Arc<Session>>) {
    futures_util::future::join_all(sessions.iter().map(|s| async move {
        s.terminate().await;
        s.wait_done().await;
    }))
    .await;
}
