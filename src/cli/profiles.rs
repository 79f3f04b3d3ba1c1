//! `clown profiles list|show|create|delete|sandbox|env|run`.

use std::io::{BufRead, IsTerminal, Write};
use std::process::Command as Process;
use std::sync::Arc;
use std::sync::atomic::AtomicBool;

use anyhow::{Context, bail};
use clap::{Args, Subcommand};
use serde_json::{Value, json};

use super::table::{cell, fields, print_fields, print_json, print_list};
use super::{Cli, Client, encode};

#[derive(Debug, Args)]
pub struct ProfilesArgs {
    #[command(subcommand)]
    command: ProfilesCommand,
}

#[derive(Debug, Subcommand)]
enum ProfilesCommand {
    /// List profiles.
    List {
        /// Only profiles of this agent.
        #[arg(long)]
        agent: Option<String>,
        #[arg(long)]
        json: bool,
    },
    /// Show one profile.
    Show {
        alias: String,
        #[arg(long)]
        json: bool,
    },
    /// Create a profile. The key is asked for without echo, or read from stdin.
    Create(CreateArgs),
    /// Delete a profile.
    Delete {
        alias: String,
        /// Delete even while a session or proxy runs for it (they are stopped).
        #[arg(long)]
        force: bool,
        /// Also remove the profile home.
        #[arg(long)]
        purge: bool,
    },
    /// Run the profile's agent in a sandbox (on), or not (off).
    Sandbox {
        alias: String,
        #[arg(value_parser = ["on", "off"])]
        state: String,
    },
    /// Print `export` lines for the profile's environment (use with eval).
    Env { alias: String },
    /// Run the profile's agent here, in the current directory: `clown profiles run ALIAS -- ARGS`.
    Run {
        alias: String,
        /// Arguments passed to the agent.
        #[arg(last = true)]
        args: Vec<String>,
    },
}

#[derive(Debug, Args)]
struct CreateArgs {
    alias: String,
    /// Agent id (see `clown agents list`).
    #[arg(long)]
    agent: String,
    /// Provider id (see `clown providers list`).
    #[arg(long)]
    provider: String,
    /// Endpoint name (default: the provider's default).
    #[arg(long)]
    endpoint: Option<String>,
    /// Model (default: the provider's default).
    #[arg(long)]
    model: Option<String>,
    /// Use this URL instead of the endpoint's (self-hosted gateways).
    #[arg(long)]
    base_url: Option<String>,
    /// Read the API key from the first line of standard input.
    #[arg(long)]
    api_key_stdin: bool,
    /// Run the profile's agent through clown's key-isolating proxy (on by itself where
    /// the proxy translates: Claude Code on an OpenAI-compatible provider, Codex on a
    /// provider without the Responses API).
    #[arg(long)]
    proxy: bool,
    /// Run the profile's agent in a sandbox (bubblewrap on Linux) that hides clown's
    /// files and the other profiles' homes from it.
    #[arg(long)]
    sandbox: bool,
    #[arg(long)]
    json: bool,
}

pub async fn run(cli: &Cli, args: &ProfilesArgs) -> anyhow::Result<i32> {
    let client = Client::connect(cli).await?;
    match &args.command {
        ProfilesCommand::List { agent, json } => {
            let path = match agent {
                Some(a) => format!("/api/profiles?agent={}", encode(a)),
                None => "/api/profiles".to_string(),
            };
            let data = client.get(&path).await?;
            print_list(
                &data,
                *json,
                &[
                    "alias",
                    "agent",
                    "provider",
                    "endpoint",
                    "model",
                    "last used",
                ],
                |p| {
                    fields(
                        p,
                        &[
                            "alias",
                            "agent_id",
                            "provider_id",
                            "endpoint_id",
                            "model",
                            "last_used",
                        ],
                    )
                },
                "no profiles yet; create one with 'clown profiles create ALIAS --agent claude --provider anthropic'",
            )?;
        }
        ProfilesCommand::Show { alias, json } => {
            let data = client
                .get(&format!("/api/profiles/{}", encode(alias)))
                .await?;
            if *json {
                print_json(&data)?;
            } else {
                print_fields(
                    &data,
                    &[
                        "alias",
                        "agent_id",
                        "provider_id",
                        "endpoint_id",
                        "endpoint_url",
                        "model",
                        "api_key_set",
                        "api_key_hint",
                        "profile_home",
                        "sandbox",
                        "created_at",
                        "last_used",
                    ],
                );
            }
        }
        ProfilesCommand::Create(c) => {
            let api_key = read_key(c)?;
            let mut body = json!({
                "alias": c.alias,
                "agent_id": c.agent,
                "provider_id": c.provider,
            });
            for (k, v) in [
                ("endpoint_id", &c.endpoint),
                ("model", &c.model),
                ("base_url", &c.base_url),
                ("api_key", &api_key),
            ] {
                if let Some(v) = v {
                    body[k] = json!(v);
                }
            }
            if c.proxy {
                body["proxy"] = json!({"enabled": true});
            }
            if c.sandbox {
                body["sandbox"] = json!({"enabled": true});
            }
            let data = client.post("/api/profiles", Some(body)).await?;
            if c.json {
                print_json(&data)?;
            } else {
                println!(
                    "created profile '{}' (home {})",
                    cell(&data["alias"]),
                    cell(&data["profile_home"])
                );
            }
        }
        ProfilesCommand::Delete {
            alias,
            force,
            purge,
        } => {
            let data = client
                .delete(&format!(
                    "/api/profiles/{}?force={force}&purge={purge}",
                    encode(alias)
                ))
                .await?;
            println!(
                "deleted profile '{alias}'{}",
                if data["purged"] == json!(true) {
                    " and its home"
                } else {
                    ""
                }
            );
        }
        ProfilesCommand::Sandbox { alias, state } => {
            let data = client
                .call(
                    hyper::Method::PUT,
                    &format!("/api/profiles/{}/sandbox", encode(alias)),
                    Some(json!({"enabled": state == "on"})),
                )
                .await?;
            println!("sandbox of '{alias}': {state}");
            if data["enabled"] == json!(true) && data["tool"].is_null() {
                eprintln!(
                    "warning: no sandbox tool found on the daemon's PATH; launches of '{alias}' are refused until it is installed (Debian/Ubuntu: apt-get install bubblewrap)"
                );
            }
        }
        ProfilesCommand::Env { alias } => {
            let spec = launch(&client, alias).await?;
            if !spec["sandbox"].is_null() {
                bail!(
                    "profile '{alias}' runs its agent in a sandbox, which an exported environment would bypass; start it with 'clown profiles run {alias}'"
                );
            }
            for name in string_list(&spec["unset"]) {
                println!("unset {name}");
            }
            if let Some(env) = spec["env"].as_object() {
                for (k, v) in env {
                    println!("export {k}={}", shell_quote(v.as_str().unwrap_or_default()));
                }
            }
        }
        ProfilesCommand::Run { alias, args } => return run_agent(&client, alias, args).await,
    }
    Ok(0)
}

fn string_list(v: &Value) -> Vec<String> {
    v.as_array()
        .map(|a| {
            a.iter()
                .filter_map(|s| s.as_str().map(String::from))
                .collect()
        })
        .unwrap_or_default()
}

async fn launch(client: &Client, alias: &str) -> anyhow::Result<Value> {
    let cwd = std::env::current_dir().context("cannot read the current directory")?;
    client
        .post(
            &format!("/api/profiles/{}/launch", encode(alias)),
            Some(json!({"cwd": cwd})),
        )
        .await
}

/// Runs the agent in this terminal with the profile's environment; records the run.
async fn run_agent(client: &Client, alias: &str, args: &[String]) -> anyhow::Result<i32> {
    let spec = launch(client, alias).await?;
    let program = spec["binary_path"]
        .as_str()
        .or_else(|| spec["program"].as_str())
        .unwrap_or_default()
        .to_string();
    // A sandboxed profile's agent runs under the command the daemon gave, never without.
    let mut cmd = match spec["sandbox"].as_object() {
        Some(sandbox) => {
            let wrapper = sandbox["program"].as_str().unwrap_or_default();
            let mut cmd = Process::new(wrapper);
            cmd.args(string_list(&sandbox["args"])).arg(&program);
            cmd
        }
        None => Process::new(&program),
    };
    cmd.args(args);
    for name in string_list(&spec["unset"]) {
        cmd.env_remove(name);
    }
    if let Some(env) = spec["env"].as_object() {
        for (k, v) in env {
            cmd.env(k, v.as_str().unwrap_or_default());
        }
    }
    // The agent owns the terminal: Ctrl-C and friends are for it, not for us.
    let ignore = Arc::new(AtomicBool::new(false));
    for sig in [signal_hook::consts::SIGINT, signal_hook::consts::SIGQUIT] {
        let _ = signal_hook::flag::register(sig, ignore.clone());
    }
    let started = jiff::Timestamp::now().as_second();
    let status = cmd.status().with_context(|| {
        format!(
            "cannot run '{program}' for profile '{alias}'; is the agent installed? (see 'clown agents list')"
        )
    })?;
    let ended = jiff::Timestamp::now().as_second();
    let code = exit_code(&status);
    let record = json!({"sessions": [{
        "profile": alias,
        "started_at": started,
        "ended_at": ended,
        "exit_code": code,
        "source": "cli",
    }]});
    if let Err(e) = client.post("/api/usage/record", Some(record)).await {
        eprintln!("warning: could not record this run: {e:#}");
    }
    Ok(code)
}

/// The exit code, or 128 + the signal that ended the process.
pub fn exit_code(status: &std::process::ExitStatus) -> i32 {
    use std::os::unix::process::ExitStatusExt;
    status
        .code()
        .or_else(|| status.signal().map(|s| 128 + s))
        .unwrap_or(1)
}

fn read_key(c: &CreateArgs) -> anyhow::Result<Option<String>> {
    let stdin = std::io::stdin();
    if c.api_key_stdin {
        let mut line = String::new();
        stdin
            .lock()
            .read_line(&mut line)
            .context("cannot read the key from stdin")?;
        let key = line.trim().to_string();
        if key.is_empty() {
            bail!("--api-key-stdin was given but standard input had no key");
        }
        return Ok(Some(key));
    }
    if !stdin.is_terminal() {
        return Ok(None);
    }
    eprint!(
        "API key for {} (input hidden, empty for none): ",
        c.provider
    );
    std::io::stderr().flush().ok();
    let key = read_hidden_line()?;
    eprintln!();
    Ok(Some(key.trim().to_string()).filter(|k| !k.is_empty()))
}

/// Reads a line from the terminal with echo off, restoring the terminal afterwards.
fn read_hidden_line() -> anyhow::Result<String> {
    use nix::sys::termios::{LocalFlags, SetArg, tcgetattr, tcsetattr};
    let stdin = std::io::stdin();
    let saved = tcgetattr(&stdin).context("cannot read terminal settings")?;
    let mut quiet = saved.clone();
    quiet.local_flags.remove(LocalFlags::ECHO);
    tcsetattr(&stdin, SetArg::TCSANOW, &quiet).context("cannot turn echo off")?;
    let mut line = String::new();
    let read = stdin.lock().read_line(&mut line);
    let _ = tcsetattr(&stdin, SetArg::TCSANOW, &saved);
    read.context("cannot read the key")?;
    Ok(line)
}

/// Single-quotes `s` for POSIX shells.
pub fn shell_quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', r"'\''"))
}
