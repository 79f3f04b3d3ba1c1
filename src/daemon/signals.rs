//! Unix signals turned into daemon commands: SIGTERM/SIGINT shut down, SIGHUP reloads.

use futures_util::StreamExt;
use signal_hook::consts::{SIGHUP, SIGINT, SIGTERM};
use signal_hook_tokio::Signals;
use tokio::sync::mpsc;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Command {
    Shutdown,
    Reload,
}

/// Starts listening for signals; commands arrive on the returned channel.
pub fn listen() -> std::io::Result<mpsc::Receiver<Command>> {
    let mut signals = Signals::new([SIGTERM, SIGINT, SIGHUP])?;
    let (tx, rx) = mpsc::channel(8);
    tokio::spawn(async move {
        while let Some(sig) = signals.next().await {
            let cmd = if sig == SIGHUP {
                Command::Reload
            } else {
                Command::Shutdown
            };
            if tx.send(cmd).await.is_err() {
                break;
            }
        }
    });
    Ok(rx)
}
