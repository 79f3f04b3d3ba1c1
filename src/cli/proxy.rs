//! `clown proxy status|start|stop|logs|enable|disable` (the routing rules, key pool and
//! request inspector's subcommands are in `pool.rs`), and the proxy child itself.
//!
//! `clown proxy --profile ALIAS --port N` (options instead of a subcommand) is the child
//! the daemon spawns (DESIGN §11); it needs the plan the daemon puts in its environment
//! and is not meant to be run by hand. Every subcommand is a client of the HTTP API.

use clap::{Args, Subcommand};
use hyper::Method;
use serde_json::{Value, json};

use super::table::{fields, print_fields, print_json, print_list};
use super::{Cli, Client, encode};

#[derive(Debug, Args)]
#[command(args_conflicts_with_subcommands = true)]
pub struct ProxyArgs {
    /// Run as the proxy child of this profile (started by the daemon).
    #[arg(long, hide = true, requires = "port")]
    profile: Option<String>,
    /// The child's port.
    #[arg(long, hide = true, requires = "profile")]
    port: Option<u16>,
    #[command(subcommand)]
    command: Option<ProxyCommand>,
}

#[derive(Debug, Subcommand)]
enum ProxyCommand {
    /// Status of every proxy, or of one profile's.
    Status {
        /// Only this profile's proxy.
        alias: Option<String>,
        /// Print JSON instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Start a profile's proxy (and wait until it runs).
    Start {
        /// The profile's alias.
        alias: String,
        /// Print JSON instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Stop a profile's proxy.
    Stop {
        /// The profile's alias.
        alias: String,
        /// Print JSON instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// The last lines of a proxy's log.
    Logs {
        /// The profile's alias.
        alias: String,
        /// How many lines.
        #[arg(short = 'n', long, default_value_t = 50)]
        lines: usize,
    },
    /// Route the profile's agent through its proxy from now on (and start it).
    Enable {
        /// The profile's alias.
        alias: String,
        /// A fixed port instead of one from the configured range.
        #[arg(long)]
        port: Option<u16>,
    },
    /// Stop routing the profile's agent through a proxy (and stop it).
    Disable {
        /// The profile's alias.
        alias: String,
    },
    #[command(flatten)]
    Pool(super::pool::PoolCommand),
}

pub fn run(cli: &Cli, args: &ProxyArgs) -> anyhow::Result<i32> {
    match (&args.command, &args.profile, args.port) {
        (None, Some(profile), Some(port)) => {
            init_child_logging();
            crate::proxy::server::run(profile, port)
        }
        (Some(cmd), _, _) => super::client_runtime()?.block_on(client(cli, cmd)),
        _ => {
            anyhow::bail!("missing subcommand; try 'clown proxy status' (or 'clown proxy --help')")
        }
    }
}

/// Plain lines on stderr (which the daemon writes to the proxy's log).
fn init_child_logging() {
    use tracing_subscriber::layer::SubscriberExt;
    use tracing_subscriber::util::SubscriberInitExt;
    let filter = std::env::var("CLOWN_LOG").unwrap_or_else(|_| "info".into());
    let _ = tracing_subscriber::registry()
        .with(crate::logging::parse_filter(&filter))
        .with(
            tracing_subscriber::fmt::layer()
                .with_ansi(false)
                .with_writer(std::io::stderr),
        )
        .try_init();
}

const FIELDS: &[&str] = &[
    "profile",
    "enabled",
    "status",
    "url",
    "pid",
    "restarts",
    "started_at",
    "last_exit_code",
    "last_error",
];

fn print_status(v: &Value, json: bool) -> anyhow::Result<()> {
    if json {
        print_json(v)
    } else {
        print_fields(v, FIELDS);
        print_pool(&v["pool"]);
        Ok(())
    }
}

/// The key pool's members, one line each: state, until when and why.
fn print_pool(pool: &Value) {
    let Some(members) = pool["members"].as_array() else {
        return;
    };
    println!("pool:");
    for m in members {
        let mut line = format!(
            "  {} {} → {} {}: {}",
            m["key"].as_str().unwrap_or("-"),
            m["key_hint"].as_str().unwrap_or(""),
            m["target"].as_str().unwrap_or("-"),
            m["model"].as_str().unwrap_or(""),
            m["state"].as_str().unwrap_or("-"),
        );
        if let Some(until) = m["until"].as_str() {
            line.push_str(&format!(" until {until}"));
        }
        if let Some(why) = m["reason"].as_str() {
            line.push_str(&format!(" ({why})"));
        }
        line.push_str(&format!(
            "; {} requests, {} failures",
            m["requests"], m["failures"]
        ));
        println!("{line}");
    }
}

async fn client(cli: &Cli, cmd: &ProxyCommand) -> anyhow::Result<i32> {
    let client = Client::connect(cli).await?;
    match cmd {
        ProxyCommand::Status { alias: None, json } => {
            let data = client.get("/api/proxy/status").await?;
            print_list(
                &data,
                *json,
                &[
                    "profile", "enabled", "status", "port", "pid", "restarts", "started",
                ],
                |p| {
                    fields(
                        p,
                        &[
                            "profile",
                            "enabled",
                            "status",
                            "port",
                            "pid",
                            "restarts",
                            "started_at",
                        ],
                    )
                },
                "no proxies; enable one with 'clown proxy enable ALIAS'",
            )?;
        }
        ProxyCommand::Status {
            alias: Some(alias),
            json,
        } => {
            let data = client
                .get(&format!("/api/proxy/status/{}", encode(alias)))
                .await?;
            print_status(&data, *json)?;
        }
        ProxyCommand::Start { alias, json } => {
            let data = client
                .post(&format!("/api/proxy/{}/start", encode(alias)), None)
                .await?;
            print_status(&data, *json)?;
            if data["status"] != "running" {
                eprintln!("error: the proxy did not come up; see 'clown proxy logs {alias}'");
                return Ok(1);
            }
        }
        ProxyCommand::Stop { alias, json } => {
            let data = client
                .post(&format!("/api/proxy/{}/stop", encode(alias)), None)
                .await?;
            print_status(&data, *json)?;
        }
        ProxyCommand::Logs { alias, lines } => {
            let data = client
                .get(&format!("/api/proxy/{}/logs?lines={lines}", encode(alias)))
                .await?;
            for line in data.as_array().map(Vec::as_slice).unwrap_or_default() {
                println!("{}", line.as_str().unwrap_or_default());
            }
        }
        ProxyCommand::Enable { alias, port } => {
            let data = set_enabled(&client, alias, true, *port).await?;
            print_status(&data, false)?;
        }
        ProxyCommand::Disable { alias } => {
            let data = set_enabled(&client, alias, false, None).await?;
            print_status(&data, false)?;
        }
        ProxyCommand::Pool(cmd) => return super::pool::run(&client, cmd).await,
    }
    Ok(0)
}

/// Reads the profile's proxy settings, changes `enabled` (and the port), writes them back.
async fn set_enabled(
    client: &Client,
    alias: &str,
    enabled: bool,
    port: Option<u16>,
) -> anyhow::Result<Value> {
    let profile = client
        .get(&format!("/api/profiles/{}", encode(alias)))
        .await?;
    let mut settings = profile["proxy"].clone();
    if !settings.is_object() {
        settings = json!({});
    }
    settings["enabled"] = json!(enabled);
    if let Some(p) = port {
        settings["port"] = json!(p);
    }
    client
        .call(
            Method::PUT,
            &format!("/api/profiles/{}/proxy", encode(alias)),
            Some(settings),
        )
        .await
}
