//! `clown daemon`: load config, set up logging, take the listeners, run.

use anyhow::Context;
use clap::Args;

use super::Cli;
use crate::config::Config;
use crate::daemon::activation::Listeners;
use crate::daemon::{DaemonOptions, run as run_daemon};
use crate::paths::{Paths, process_env};

#[derive(Debug, Args)]
#[command(args_conflicts_with_subcommands = true)]
pub struct DaemonArgs {
    /// Address to listen on when no socket is inherited (repeatable; also CLOWN_LISTEN).
    #[arg(long = "listen", value_name = "ADDR")]
    pub listen: Vec<String>,
    #[command(subcommand)]
    pub action: Option<DaemonAction>,
}

#[derive(Debug, clap::Subcommand)]
pub enum DaemonAction {
    /// Restart the running daemon (after an upgrade, say) keeping its terminal sessions:
    /// their agents go on and clients come back to the same screen.
    Restart,
}

pub fn run(cli: &Cli, args: &DaemonArgs) -> anyhow::Result<i32> {
    if let Some(DaemonAction::Restart) = args.action {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?;
        return runtime.block_on(super::restart::run(cli));
    }
    let env = process_env();
    let paths = Paths::from_env(&env)?;
    let config_path = cli
        .config
        .clone()
        .unwrap_or_else(|| paths.config_file.clone());
    let config = Config::load(&config_path, &env, &args.listen)?;
    let filter = match cli.verbose {
        0 => config.log.clone(),
        1 => "debug".to_string(),
        _ => "trace".to_string(),
    };
    let (log_tail, log_filter) =
        crate::logging::init(&filter, env.get("JOURNAL_STREAM").map(String::as_str));
    let listeners = Listeners::acquire(&config.listen_addrs()?)?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    let opts = DaemonOptions {
        config,
        config_path,
        paths,
        env,
        listen_flags: args.listen.clone(),
        log_tail,
        log_filter,
        handle_signals: true,
    };
    runtime.block_on(run_daemon(opts, listeners, std::future::pending()))?;
    // Blocking tasks (the store) may still be parked; do not wait for them.
    runtime.shutdown_timeout(std::time::Duration::from_millis(200));
    Ok(0)
}
