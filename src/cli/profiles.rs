//! `clown profiles list|show|create|delete|sandbox|env|run|login`.

use std::io::{BufRead, IsTerminal, Write};

use anyhow::{Context, bail};
use clap::{Args, Subcommand};
use serde_json::{Value, json};

use super::launch;
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
        /// Print JSON instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Show one profile.
    Show {
        /// The profile's alias.
        alias: String,
        /// Print JSON instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Create a profile. The key is asked for without echo, or read from stdin.
    Create(CreateArgs),
    /// Delete a profile.
    Delete {
        /// The profile's alias.
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
        /// The profile's alias.
        alias: String,
        /// on: confine its agent from the next launch; off: do not.
        #[arg(value_parser = ["on", "off"])]
        state: String,
    },
    /// Print `export` lines for the profile's environment (use with eval).
    Env {
        /// The profile's alias.
        alias: String,
    },
    /// Run the profile's agent here, in the current directory: `clown profiles run ALIAS -- ARGS`.
    Run {
        /// The profile's alias.
        alias: String,
        /// Arguments passed to the agent.
        #[arg(last = true)]
        args: Vec<String>,
    },
    /// Log the profile's agent in with its own login (a profile with --auth login), here,
    /// with the profile's home: `claude auth login`, `codex login`, …
    Login {
        /// The profile.
        alias: String,
        /// Arguments added to the login command (e.g. `-- --device-auth` for Codex).
        #[arg(last = true)]
        args: Vec<String>,
    },
}

#[derive(Debug, Args)]
struct CreateArgs {
    /// The new profile's name: letters, digits, '.', '_' or '-' (its home is ~/.<agent>-profiles/ALIAS).
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
    /// Read the API key (or with --auth token, the token) from the first line of
    /// standard input.
    #[arg(long, alias = "token-stdin")]
    api_key_stdin: bool,
    /// How the agent authenticates: an API key, a subscription token (`claude
    /// setup-token`), or the agent's own login (then `clown profiles login ALIAS`).
    #[arg(long, value_parser = ["key", "token", "login"], default_value = "key")]
    auth: String,
    /// Run the profile's agent through clown's key-isolating proxy (on by itself where
    /// the proxy translates: Claude Code on an OpenAI-compatible provider, Codex on a
    /// provider without the Responses API).
    #[arg(long)]
    proxy: bool,
    /// Run the profile's agent in a sandbox (bubblewrap on Linux) that hides clown's
    /// files and the other profiles' homes from it.
    #[arg(long)]
    sandbox: bool,
    /// Print the answer as JSON.
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
                        "auth",
                    ],
                );
                let keys: &[&str] = match data["auth"].as_str() {
                    Some("token") => &["token_set", "token_hint"],
                    Some("login") => &[],
                    _ => &["api_key_set", "api_key_hint"],
                };
                print_fields(&data, keys);
                print_login(&data["login"]);
                print_fields(
                    &data,
                    &["profile_home", "sandbox", "created_at", "last_used"],
                );
                print_limits(&data["limits"]);
            }
        }
        ProfilesCommand::Create(c) => {
            let mut body = json!({
                "alias": c.alias,
                "agent_id": c.agent,
                "provider_id": c.provider,
                "auth": c.auth,
            });
            let secret_field = if c.auth == "token" {
                "oauth_token"
            } else {
                "api_key"
            };
            for (k, v) in [
                ("endpoint_id", &c.endpoint),
                ("model", &c.model),
                ("base_url", &c.base_url),
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
            // Everything else is checked before the key is asked for, so a typo does not
            // cost a typed secret.
            let checked = client
                .post("/api/profiles?dry_run=true", Some(body.clone()))
                .await?;
            let requires_key = checked["requires_key"].as_bool().unwrap_or(true);
            if c.auth != "login"
                && let Some(secret) = read_key(c, requires_key)?
            {
                body[secret_field] = json!(secret);
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
                if c.auth == "login" {
                    println!(
                        "next: log its agent in with 'clown profiles login {}'",
                        c.alias
                    );
                }
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
            if data["purged"] == json!(true) {
                println!("deleted profile '{alias}' and its home");
            } else {
                let home = data["profile_home"]
                    .as_str()
                    .unwrap_or("its home directory");
                println!(
                    "deleted profile '{alias}'; its home {home} is kept (the agent's settings, \
                     logins and history); remove it with 'rm -r {home}', or delete with --purge next time"
                );
            }
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
            let spec = launch::prepare(&client, alias, "launch").await?;
            launch::print_env(alias, &spec)?;
        }
        ProfilesCommand::Run { alias, args } => {
            let spec = launch::prepare(&client, alias, "launch").await?;
            return launch::run(&client, alias, &spec, args, true).await;
        }
        ProfilesCommand::Login { alias, args } => {
            let spec = launch::prepare(&client, alias, "login").await?;
            eprintln!("{}", cell(&spec["how"]));
            let mut all = launch::string_list(&spec["args"]);
            all.extend(args.iter().cloned());
            let code = launch::run(&client, alias, &spec, &all, false).await?;
            let data = client
                .get(&format!("/api/profiles/{}", encode(alias)))
                .await?;
            print_login(&data["login"]);
            return Ok(code);
        }
    }
    Ok(0)
}

/// The login lines of `profiles show`: logged in or not, who, which plan, until when.
fn print_login(login: &Value) {
    if login.is_null() {
        return;
    }
    let state = if login["logged_in"] == json!(true) {
        "yes"
    } else {
        "no"
    };
    let mut parts = vec![format!("logged in: {state}")];
    for (k, label) in [
        ("method", "by"),
        ("account", "as"),
        ("plan", "plan"),
        ("until", "until"),
        ("last_refresh", "last refreshed"),
    ] {
        if let Some(v) = login[k].as_str() {
            parts.push(format!("{label} {v}"));
        }
    }
    println!("{:<13}  {}", "login", parts.join(", "));
    if let Some(note) = login["note"].as_str() {
        println!("{:<13}  ({note})", "");
    }
}

/// The limits line of `profiles show`: the provider's windows as last seen.
fn print_limits(limits: &Value) {
    if limits.is_null() {
        return;
    }
    let mut parts = Vec::new();
    if let Some(status) = limits["unified"]["status"].as_str() {
        parts.push(status.to_string());
    }
    if let Some(windows) = limits["unified"]["windows"].as_object() {
        for (name, w) in windows {
            let used = w["used_percentage"]
                .as_f64()
                .map(|p| format!(" {p}% used"))
                .unwrap_or_default();
            let reset = w["resets_at"]
                .as_str()
                .map(|r| format!(", resets {r}"))
                .unwrap_or_default();
            parts.push(format!("{name}{used}{reset}"));
        }
    }
    if let Some(secs) = limits["retry_after_secs"].as_u64() {
        parts.push(format!("retry after {secs}s"));
    }
    println!(
        "{:<13}  {} (seen {}, HTTP {})",
        "limits",
        parts.join("; "),
        cell(&limits["observed_at"]),
        cell(&limits["http_status"])
    );
}

fn read_key(c: &CreateArgs, requires_key: bool) -> anyhow::Result<Option<String>> {
    let stdin = std::io::stdin();
    if c.api_key_stdin {
        let mut line = String::new();
        stdin
            .lock()
            .read_line(&mut line)
            .context("cannot read the key from stdin")?;
        let key = line.trim().to_string();
        if key.is_empty() {
            bail!("--api-key-stdin was given but standard input had no key or token");
        }
        return Ok(Some(key));
    }
    if !stdin.is_terminal() {
        return Ok(None);
    }
    let what = if c.auth == "token" {
        "Subscription token (from `claude setup-token`)".to_string()
    } else {
        format!("API key for {}", c.provider)
    };
    if requires_key || c.auth == "token" {
        eprint!("{what} (input hidden): ");
    } else {
        eprint!("{what} (input hidden; empty for none, e.g. to log in inside the agent): ");
    }
    std::io::stderr().flush().ok();
    let key = read_hidden_line()?;
    eprintln!();
    Ok(Some(key.trim().to_string()).filter(|k| !k.is_empty()))
}

/// Reads a line from the terminal with echo off, restoring the terminal afterwards.
pub(super) fn read_hidden_line() -> anyhow::Result<String> {
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
