//! The command line: `clown daemon` runs the service, `clown proxy --profile A --port N`
//! is the proxy child the daemon spawns; every other subcommand is a thin client of the
//! HTTP API (it never opens the store).

mod attach;
mod bind;
mod catalogue;
mod client;
mod daemon;
mod generate;
mod launch;
mod profiles;
mod progress;
mod proxy;
mod setup;
mod status;
mod table;
mod terminal;
mod transport;
mod ui;
mod usage;

use std::path::PathBuf;

use clap::{Parser, Subcommand};

pub use client::Client;

#[derive(Debug, Parser)]
#[command(
    name = "clown",
    version,
    about = "Manage CLI coding agents, their providers, keys and usage"
)]
pub struct Cli {
    /// Daemon URL (default: the configured listen address, else http://127.0.0.1:8765).
    #[arg(long, global = true, env = "CLOWN_URL")]
    pub url: Option<String>,
    /// Config file (default: $XDG_CONFIG_HOME/clown/config.toml).
    #[arg(long, global = true, env = "CLOWN_CONFIG")]
    pub config: Option<PathBuf>,
    /// More log output (-v debug, -vv trace); CLOWN_LOG sets a filter.
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    pub verbose: u8,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the daemon (normally started by systemd or launchd).
    Daemon(daemon::DaemonArgs),
    /// Show the daemon's status (starting it when nothing listens).
    Status(status::StatusArgs),
    /// Print the web UI's login link (and open it with --open).
    Ui(ui::UiArgs),
    /// Agents in the catalogue and whether they are installed.
    Agents(catalogue::CatalogueArgs),
    /// Providers in the catalogue.
    Providers(catalogue::CatalogueArgs),
    /// Profiles: an agent bound to a provider, model and key.
    Profiles(profiles::ProfilesArgs),
    /// Token usage and cost; import Claude Code's records.
    Usage(usage::UsageArgs),
    /// Terminal sessions in the daemon: list, start, attach, end.
    Terminal(terminal::TerminalArgs),
    /// Per-profile proxies: status, start, stop, logs, enable, disable.
    Proxy(proxy::ProxyArgs),
    /// The shared setup (MCP servers, permissions, hooks, instructions, …) projected
    /// into every profile home.
    Setup(setup::SetupArgs),
    /// Bind a directory to a profile: `clown run` there (or below) runs its agent.
    Bind(bind::BindArgs),
    /// Remove a directory's binding.
    Unbind(bind::UnbindArgs),
    /// List the directories bound to a profile.
    Bindings(bind::BindingsArgs),
    /// Run the agent of the profile bound to this directory (or the nearest one above):
    /// `clown run -- ARGS`.
    Run(bind::RunArgs),
    /// Print shell completions or the man page.
    Generate(generate::GenerateArgs),
}

/// Runs the parsed command; returns the process exit code.
pub fn run(cli: Cli) -> anyhow::Result<i32> {
    match cli.command {
        Command::Daemon(ref args) => daemon::run(&cli, args),
        Command::Generate(ref args) => generate::run(args),
        Command::Status(ref args) => client_runtime()?.block_on(status::run(&cli, args)),
        Command::Ui(ref args) => client_runtime()?.block_on(ui::run(&cli, args)),
        Command::Agents(ref args) => client_runtime()?.block_on(catalogue::agents(&cli, args)),
        Command::Providers(ref args) => {
            client_runtime()?.block_on(catalogue::providers(&cli, args))
        }
        Command::Profiles(ref args) => client_runtime()?.block_on(profiles::run(&cli, args)),
        Command::Usage(ref args) => client_runtime()?.block_on(usage::run(&cli, args)),
        Command::Terminal(ref args) => client_runtime()?.block_on(terminal::run(&cli, args)),
        Command::Proxy(ref args) => proxy::run(&cli, args),
        Command::Setup(ref args) => client_runtime()?.block_on(setup::run(&cli, args)),
        Command::Bind(ref args) => client_runtime()?.block_on(bind::bind(&cli, args)),
        Command::Unbind(ref args) => client_runtime()?.block_on(bind::unbind(&cli, args)),
        Command::Bindings(ref args) => client_runtime()?.block_on(bind::list(&cli, args)),
        Command::Run(ref args) => client_runtime()?.block_on(bind::run(&cli, args)),
    }
}

fn client_runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    Ok(tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?)
}

/// Percent-encodes a path segment or query value.
pub fn encode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}
