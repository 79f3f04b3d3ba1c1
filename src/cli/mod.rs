//! The command line: `clown daemon` runs the service, `clown proxy --profile A --port N`
//! is the proxy child the daemon spawns; every other subcommand is a thin client of the
//! HTTP API (it never opens the store).

mod attach;
mod bind;
mod budget;
mod catalogue;
mod client;
mod conversations;
mod daemon;
mod doctor;
mod generate;
mod hints;
mod hook;
mod launch;
mod pool;
mod profiles;
mod progress;
mod proxy;
mod restart;
mod service;
mod setup;
mod share;
mod status;
mod statusline;
mod table;
mod terminal;
mod transport;
mod ui;
mod usage;
mod usage_reports;
mod watch;

use std::path::PathBuf;

use clap::{Parser, Subcommand};

pub use client::Client;
pub use statusline::quick_cli;

/// The heading under which `--help` lists the options every command takes.
const GLOBAL: &str = "Global options";

#[derive(Debug, Parser)]
#[command(
    name = "clown",
    version,
    about = "Manage CLI coding agents, their providers, keys and usage",
    after_help = "Start with 'clown doctor' (checks the setup and says how to fix it) and \
'clown ui' (the web UI). 'clown generate man --dir DIR' writes this page and one per command."
)]
pub struct Cli {
    /// Daemon URL (default: the configured listen address, else http://127.0.0.1:8765).
    #[arg(long, global = true, env = "CLOWN_URL", help_heading = GLOBAL)]
    pub url: Option<String>,
    /// Config file (default: $XDG_CONFIG_HOME/clown/config.toml).
    #[arg(long, global = true, env = "CLOWN_CONFIG", help_heading = GLOBAL)]
    pub config: Option<PathBuf>,
    /// More log output (-v debug, -vv trace); CLOWN_LOG sets a filter.
    #[arg(short, long, global = true, action = clap::ArgAction::Count, help_heading = GLOBAL)]
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
    Agents(catalogue::AgentsArgs),
    /// Providers in the catalogue.
    Providers(catalogue::CatalogueArgs),
    /// Profiles: an agent bound to a provider, model and key.
    Profiles(profiles::ProfilesArgs),
    /// Token usage and cost: reports, billing blocks, limits, export; import Claude Code's records.
    Usage(usage::UsageArgs),
    /// Budgets per profile or overall, daily or monthly, with warnings and an optional hard stop.
    Budget(budget::BudgetArgs),
    /// The status-line command for Claude Code: reads its JSON on stdin, prints one line.
    Statusline(statusline::StatuslineArgs),
    /// Terminal sessions in the daemon: list, start, attach, end.
    Terminal(terminal::TerminalArgs),
    /// The agents' own conversations: list, search, resume in a new session.
    Conversations(conversations::ConversationsArgs),
    /// Follow the sessions: print when one needs you (and tell the desktop).
    Watch(watch::WatchArgs),
    /// Per-profile proxies: status, start, stop, logs, enable, disable.
    Proxy(proxy::ProxyArgs),
    /// Check the installation, the daemon, the agents and the profiles; say how to fix what is wrong.
    Doctor(doctor::DoctorArgs),
    /// Install or remove the user service (systemd units, or the launchd agent on macOS).
    Service(service::ServiceArgs),
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
    /// Print shell completions, or write the man pages.
    Generate(generate::GenerateArgs),
    /// What agents' hooks run: report an event to the session's daemon (quiet, exit 0).
    #[command(hide = true)]
    Hook(hook::HookArgs),
    /// The process a terminal session's program runs under (started by the daemon).
    #[command(hide = true)]
    SessionHolder,
}

/// Runs the parsed command; returns the process exit code.
pub fn run(cli: Cli) -> anyhow::Result<i32> {
    if !matches!(
        cli.command,
        Command::Daemon(_) | Command::Proxy(_) | Command::SessionHolder
    ) {
        // A client's output piped into `head` ends it quietly, as with any Unix tool
        // (Rust ignores SIGPIPE, which turns the closed pipe into a panic in println!).
        // The daemon and the proxy child keep ignoring it: a gone peer is an error there.
        // SAFETY: setting a signal's disposition to the default runs no handler.
        unsafe {
            let _ = nix::sys::signal::signal(
                nix::sys::signal::Signal::SIGPIPE,
                nix::sys::signal::SigHandler::SigDfl,
            );
        }
    }
    match cli.command {
        Command::Daemon(ref args) => daemon::run(&cli, args),
        Command::Hook(ref args) => Ok(hook::run(args)),
        Command::SessionHolder => Ok(crate::pty::holder::process::main()),
        Command::Generate(ref args) => generate::run(args),
        Command::Service(ref args) => service::run(&cli, args),
        Command::Doctor(ref args) => client_runtime()?.block_on(doctor::run(&cli, args)),
        Command::Status(ref args) => client_runtime()?.block_on(status::run(&cli, args)),
        Command::Ui(ref args) => client_runtime()?.block_on(ui::run(&cli, args)),
        Command::Agents(ref args) => client_runtime()?.block_on(catalogue::agents(&cli, args)),
        Command::Providers(ref args) => {
            client_runtime()?.block_on(catalogue::providers(&cli, args))
        }
        Command::Profiles(ref args) => client_runtime()?.block_on(profiles::run(&cli, args)),
        Command::Usage(ref args) => client_runtime()?.block_on(usage::run(&cli, args)),
        Command::Budget(ref args) => client_runtime()?.block_on(budget::run(&cli, args)),
        // Blocking and without a runtime: it runs for every redraw of the agent's screen.
        Command::Statusline(ref args) => statusline::run(&cli, args),
        Command::Terminal(ref args) => client_runtime()?.block_on(terminal::run(&cli, args)),
        Command::Conversations(ref args) => {
            client_runtime()?.block_on(conversations::run(&cli, args))
        }
        Command::Watch(ref args) => client_runtime()?.block_on(watch::run(&cli, args)),
        Command::Proxy(ref args) => proxy::run(&cli, args),
        Command::Setup(ref args) => client_runtime()?.block_on(setup::run(&cli, args)),
        Command::Bind(ref args) => client_runtime()?.block_on(bind::bind(&cli, args)),
        Command::Unbind(ref args) => client_runtime()?.block_on(bind::unbind(&cli, args)),
        Command::Bindings(ref args) => client_runtime()?.block_on(bind::list(&cli, args)),
        Command::Run(ref args) => client_runtime()?.block_on(bind::run(&cli, args)),
    }
}

/// The one-line report of a failed command: each cause once (a cause whose text the
/// message already carries is not repeated).
pub fn error_report(e: &anyhow::Error) -> String {
    let mut out = String::new();
    for cause in e.chain() {
        let text = cause.to_string();
        if out.contains(&text) {
            continue;
        }
        if !out.is_empty() {
            out.push_str(": ");
        }
        out.push_str(&text);
    }
    out
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

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    /// Every argument and option of every command says what it is for in `--help`.
    #[test]
    fn every_argument_is_described() {
        fn walk(cmd: &clap::Command, path: &str, missing: &mut Vec<String>) {
            for arg in cmd.get_arguments() {
                let id = arg.get_id().as_str();
                if id == "help" || id == "version" || arg.is_hide_set() {
                    continue;
                }
                if arg
                    .get_help()
                    .is_none_or(|h| h.to_string().trim().is_empty())
                {
                    missing.push(format!("{path} {id}"));
                }
            }
            for sub in cmd.get_subcommands() {
                walk(sub, &format!("{path} {}", sub.get_name()), missing);
            }
        }
        let mut missing = Vec::new();
        walk(&Cli::command(), "clown", &mut missing);
        assert!(
            missing.is_empty(),
            "arguments without a description: {missing:?}"
        );
    }

    #[test]
    fn global_options_have_their_own_heading() {
        let mut cmd = Cli::command();
        cmd.build();
        let create = cmd
            .find_subcommand_mut("profiles")
            .and_then(|p| p.find_subcommand_mut("create"))
            .expect("profiles create");
        let help = create.render_help().to_string();
        let global = help.find("Global options:").expect("a global section");
        assert!(help.find("--agent").is_some_and(|i| i < global), "{help}");
        assert!(help.find("--url").is_some_and(|i| i > global), "{help}");
    }

    #[test]
    fn a_cause_is_reported_once() {
        let io = std::io::Error::new(std::io::ErrorKind::AddrInUse, "Address already in use");
        let e =
            anyhow::Error::new(io).context("cannot listen on 127.0.0.1:1: Address already in use");
        assert_eq!(
            error_report(&e),
            "cannot listen on 127.0.0.1:1: Address already in use"
        );
        let e = anyhow::anyhow!("inner").context("outer");
        assert_eq!(error_report(&e), "outer: inner");
    }
}
