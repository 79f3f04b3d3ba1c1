//! `clown setup show|import|mcp add|mcp remove|apply|drift|adopt|scope|statusline`: the shared setup
//! projected into every profile home.

use anyhow::{Context, bail};
use clap::{Args, Subcommand};
use serde_json::{Value, json};

use super::table::{cell, print_json, render};
use super::{Cli, Client, encode};

#[derive(Debug, Args)]
pub struct SetupArgs {
    #[command(subcommand)]
    command: SetupCommand,
}

#[derive(Debug, Subcommand)]
enum SetupCommand {
    /// Show the shared setup (secret values as hints).
    Show {
        /// Print JSON instead of text.
        #[arg(long)]
        json: bool,
    },
    /// Read your own agents' setup (~/.claude, ~/.claude.json, ~/.codex, ~/.gemini,
    /// ~/.qwen) into the shared one. Nothing is written there.
    Import {
        /// Only these agents (claude, codex, gemini, qwen); default all.
        #[arg(long, value_delimiter = ',')]
        from: Vec<String>,
        /// What is imported replaces what the shared setup already has.
        #[arg(long)]
        replace: bool,
        /// Print JSON instead of text.
        #[arg(long)]
        json: bool,
    },
    /// MCP servers of the shared setup.
    Mcp {
        #[command(subcommand)]
        command: McpCommand,
    },
    /// Project the shared setup into profile homes (default: all).
    Apply {
        /// The profiles to project into (default: all).
        profiles: Vec<String>,
        /// Also overwrite what the agents changed since the last projection.
        #[arg(long)]
        overwrite: bool,
        /// Print JSON instead of text.
        #[arg(long)]
        json: bool,
    },
    /// What changed in profile homes since the last projection.
    Drift {
        /// One profile (default: all).
        profile: Option<String>,
        /// Print JSON instead of text.
        #[arg(long)]
        json: bool,
    },
    /// Take what changed in a profile's home into the shared setup (all, or these ids
    /// from `clown setup drift`), then project it everywhere.
    Adopt {
        /// The profile whose home changed.
        profile: String,
        /// The changes to take, as `clown setup drift` names them (default: all).
        ids: Vec<String>,
    },
    /// Use clown's status line (profile, model, costs, block, limits, budget) in every
    /// profile whose agent has one, or stop using it.
    Statusline {
        /// on or off.
        #[arg(value_parser = ["on", "off"])]
        state: String,
    },
    /// What of the shared setup applies to a profile.
    Scope {
        /// The profile.
        profile: String,
        /// Only these items (mcp:NAME, permissions, hooks, status_line, env, settings,
        /// instructions, skills, commands, agents).
        #[arg(long)]
        include: Vec<String>,
        /// Never these items.
        #[arg(long)]
        exclude: Vec<String>,
    },
}

#[derive(Debug, Subcommand)]
enum McpCommand {
    /// Add (or replace) an MCP server: `clown setup mcp add NAME -- COMMAND ARGS…` or
    /// `clown setup mcp add NAME --mcp-url URL`.
    Add {
        /// The server's name.
        name: String,
        /// A remote server's URL (streamable HTTP, or SSE with --sse).
        #[arg(long = "mcp-url", value_name = "URL")]
        mcp_url: Option<String>,
        /// The remote server speaks SSE rather than streamable HTTP.
        #[arg(long, requires = "mcp_url")]
        sse: bool,
        /// Environment of a stdio server: NAME=VALUE (repeatable).
        #[arg(long = "env", value_name = "NAME=VALUE")]
        env: Vec<String>,
        /// Header of a remote server: NAME=VALUE (repeatable).
        #[arg(long = "header", value_name = "NAME=VALUE")]
        headers: Vec<String>,
        /// The stdio server's command and arguments.
        #[arg(last = true)]
        command: Vec<String>,
    },
    /// Remove an MCP server.
    Remove {
        /// The server's name.
        name: String,
    },
}

fn pairs(list: &[String], what: &str) -> anyhow::Result<serde_json::Map<String, Value>> {
    let mut out = serde_json::Map::new();
    for kv in list {
        let (k, v) = kv
            .split_once('=')
            .with_context(|| format!("--{what} takes NAME=VALUE, not '{kv}'"))?;
        out.insert(k.to_string(), json!(v));
    }
    Ok(out)
}

/// One line per profile: what the projection did.
fn print_reports(data: &Value) {
    for p in data["profiles"].as_array().into_iter().flatten() {
        let name = cell(&p["profile"]);
        if let Some(e) = p["error"].as_str() {
            println!("{name}: error: {e}");
            continue;
        }
        if p["supported"] == json!(false) {
            println!(
                "{name}: its agent ({}) takes no shared setup",
                cell(&p["agent_id"])
            );
            continue;
        }
        let count = |a: &str| {
            p["changes"]
                .as_array()
                .map(|c| c.iter().filter(|c| c["action"] == a).count())
                .unwrap_or(0)
        };
        let mut parts = vec![
            format!("{} written", count("written")),
            format!("{} removed", count("removed")),
        ];
        if count("kept") > 0 {
            parts.push(format!(
                "{} kept as the agent changed them (see 'clown setup drift {name}')",
                count("kept")
            ));
        }
        if count("theirs") > 0 {
            parts.push(format!("{} left to the agent's own value", count("theirs")));
        }
        println!("{name}: {}", parts.join(", "));
    }
}

pub async fn run(cli: &Cli, args: &SetupArgs) -> anyhow::Result<i32> {
    let client = Client::connect(cli).await?;
    match &args.command {
        SetupCommand::Show { json } => {
            let data = client.get("/api/setup").await?;
            if *json {
                return print_json(&data).map(|_| 0);
            }
            show(&data);
        }
        SetupCommand::Import {
            from,
            replace,
            json,
        } => {
            let data = client
                .post(
                    "/api/setup/import",
                    Some(json!({"from": from, "replace": replace})),
                )
                .await?;
            if *json {
                return print_json(&data).map(|_| 0);
            }
            for r in data["read"].as_array().into_iter().flatten() {
                println!("read {} ({})", cell(&r["path"]), cell(&r["note"]));
            }
            let list = |k: &str| {
                data[k]
                    .as_array()
                    .map(|a| a.iter().map(cell).collect::<Vec<_>>().join(", "))
                    .unwrap_or_default()
            };
            println!(
                "imported: {}",
                if list("imported").is_empty() {
                    "nothing".into()
                } else {
                    list("imported")
                }
            );
            if !list("kept").is_empty() {
                println!(
                    "already in the setup, kept (use --replace to take yours): {}",
                    list("kept")
                );
            }
            println!("folder files copied: {}", cell(&data["folders_copied"]));
            print_reports(&json!({"profiles": data["applied"]}));
        }
        SetupCommand::Mcp {
            command:
                McpCommand::Add {
                    name,
                    mcp_url,
                    sse,
                    env,
                    headers,
                    command,
                },
        } => {
            let server = match (mcp_url, command.split_first()) {
                (Some(url), None) => {
                    json!({"type": if *sse { "sse" } else { "http" }, "url": url, "headers": pairs(headers, "header")?})
                }
                (None, Some((cmd, rest))) => {
                    json!({"type": "stdio", "command": cmd, "args": rest, "env": pairs(env, "env")?})
                }
                (Some(_), Some(_)) => {
                    bail!("give either --mcp-url or a command after --, not both")
                }
                (None, None) => bail!(
                    "give the server's command after -- (clown setup mcp add NAME -- COMMAND ARGS…) or --mcp-url URL"
                ),
            };
            let data = client
                .call(
                    hyper::Method::PUT,
                    &format!("/api/setup/mcp/{}", encode(name)),
                    Some(server),
                )
                .await?;
            println!("MCP server '{name}' is in the shared setup");
            print_reports(&data);
        }
        SetupCommand::Mcp {
            command: McpCommand::Remove { name },
        } => {
            let data = client
                .delete(&format!("/api/setup/mcp/{}", encode(name)))
                .await?;
            println!("MCP server '{name}' removed from the shared setup");
            print_reports(&data);
        }
        SetupCommand::Apply {
            profiles,
            overwrite,
            json,
        } => {
            let body = json!({"profiles": if profiles.is_empty() { Value::Null } else { json!(profiles) }, "overwrite": overwrite});
            let data = client.post("/api/setup/apply", Some(body)).await?;
            if *json {
                return print_json(&data).map(|_| 0);
            }
            print_reports(&data);
        }
        SetupCommand::Drift { profile, json } => {
            let path = match profile {
                Some(p) => format!("/api/setup/drift?profile={}", encode(p)),
                None => "/api/setup/drift".into(),
            };
            let data = client.get(&path).await?;
            if *json {
                return print_json(&data).map(|_| 0);
            }
            let mut rows = Vec::new();
            for p in data.as_array().into_iter().flatten() {
                for d in p["drift"].as_array().into_iter().flatten() {
                    rows.push(vec![
                        cell(&p["profile"]),
                        cell(&d["kind"]),
                        cell(&d["item"]),
                        cell(&d["id"]),
                    ]);
                }
            }
            if rows.is_empty() {
                println!("no drift: every home is as the last projection left it");
            } else {
                println!("{}", render(&["profile", "change", "item", "id"], &rows));
            }
        }
        SetupCommand::Adopt { profile, ids } => {
            let body = json!({"profile": profile, "ids": if ids.is_empty() { Value::Null } else { json!(ids) }});
            let data = client.post("/api/setup/adopt", Some(body)).await?;
            let n = data["adopted"].as_array().map_or(0, Vec::len);
            println!("adopted {n} change(s) from '{profile}' into the shared setup");
            print_reports(&data);
        }
        SetupCommand::Scope {
            profile,
            include,
            exclude,
        } => {
            let data = client
                .call(
                    hyper::Method::PUT,
                    &format!("/api/setup/profiles/{}", encode(profile)),
                    Some(json!({"include": include, "exclude": exclude})),
                )
                .await?;
            print_reports(&data);
        }
        SetupCommand::Statusline { state } => {
            let data = client
                .call(
                    hyper::Method::PUT,
                    "/api/setup/status-line",
                    Some(json!({"enabled": state == "on"})),
                )
                .await?;
            print_reports(&data);
        }
    }
    Ok(0)
}

fn show(data: &Value) {
    let setup = &data["setup"];
    let servers: Vec<Vec<String>> = setup["mcp_servers"]
        .as_object()
        .into_iter()
        .flatten()
        .map(|(name, s)| {
            let what = match s["url"].as_str() {
                Some(u) => u.to_string(),
                None => std::iter::once(cell(&s["command"]))
                    .chain(s["args"].as_array().into_iter().flatten().map(cell))
                    .collect::<Vec<_>>()
                    .join(" "),
            };
            vec![
                name.clone(),
                s["type"].as_str().unwrap_or("stdio").to_string(),
                what,
            ]
        })
        .collect();
    if servers.is_empty() {
        println!("no MCP servers; add one with 'clown setup mcp add NAME -- COMMAND ARGS…'");
    } else {
        println!(
            "{}",
            render(&["mcp server", "type", "command or url"], &servers)
        );
    }
    for (k, label) in [
        ("permissions", "permissions"),
        ("hooks", "hooks"),
        ("status_line", "status line"),
        ("env", "env"),
        ("settings", "settings"),
    ] {
        if let Some(v) = setup.get(k).filter(|v| !v.is_null()) {
            println!("{label}: {v}");
        }
    }
    if let Some(files) = setup["instructions"].as_object() {
        for (name, text) in files {
            println!(
                "instructions {name}: {} bytes",
                text.as_str().map_or(0, str::len)
            );
        }
    }
    for (folder, files) in data["folders"].as_object().into_iter().flatten() {
        let n = files.as_array().map_or(0, Vec::len);
        if n > 0 {
            println!("{folder}/: {n} file(s)");
        }
    }
    for (alias, scope) in setup["profiles"].as_object().into_iter().flatten() {
        println!("profile {alias}: {scope}");
    }
}
