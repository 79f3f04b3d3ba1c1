//! `clown agents list|show|install|update` and `clown providers list|show`.

use clap::{Args, Subcommand};

use serde_json::Value;

use super::table::{fields, print_fields, print_json, print_list, render};
use super::{Cli, Client};

#[derive(Debug, Args)]
pub struct CatalogueArgs {
    #[command(subcommand)]
    command: CatalogueCommand,
}

#[derive(Debug, Subcommand)]
enum CatalogueCommand {
    /// List them.
    List {
        /// Print JSON instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Show one.
    Show {
        /// Its id, as 'list' shows it.
        id: String,
        /// Print JSON instead of a table.
        #[arg(long)]
        json: bool,
    },
}

#[derive(Debug, Args)]
pub struct AgentsArgs {
    #[command(subcommand)]
    command: AgentsCommand,
}

#[derive(Debug, Subcommand)]
enum AgentsCommand {
    #[command(flatten)]
    Catalogue(CatalogueCommand),
    /// Install one from the npm registry into clown's own prefix.
    Install {
        /// The agent's id, as 'clown agents list' shows it.
        id: String,
        /// An npm version or tag (default: latest).
        #[arg(long)]
        version: Option<String>,
    },
    /// Update one clown installed (to the latest, or --version).
    Update {
        /// The agent's id, as 'clown agents list' shows it.
        id: String,
        /// An npm version or tag (default: latest).
        #[arg(long)]
        version: Option<String>,
    },
}

pub async fn agents(cli: &Cli, args: &AgentsArgs) -> anyhow::Result<i32> {
    let client = Client::connect(cli).await?;
    let command = match &args.command {
        AgentsCommand::Install { id, version } | AgentsCommand::Update { id, version } => {
            return install(&client, id, version.as_deref()).await;
        }
        AgentsCommand::Catalogue(c) => c,
    };
    match command {
        CatalogueCommand::List { json } => {
            let data = client.get("/api/agents").await?;
            print_list(
                &data,
                *json,
                &["id", "name", "installed", "version", "profiles", "path"],
                |a| {
                    fields(
                        a,
                        &[
                            "id",
                            "name",
                            "installed",
                            "version",
                            "profile_count",
                            "binary_path",
                        ],
                    )
                },
                "",
            )?;
        }
        CatalogueCommand::Show { id, json } => {
            let path = format!("/api/agents/{}", super::encode(id));
            show(
                &client,
                &path,
                *json,
                &[
                    "id",
                    "name",
                    "installed",
                    "version",
                    "binary",
                    "binary_path",
                    "npm_package",
                    "protocol",
                    "profile_strategy",
                    "supports_hooks",
                    "default_model",
                    "supported_models",
                    "profile_count",
                    "installed_by_clown",
                    "login",
                ],
            )
            .await?;
        }
    }
    Ok(0)
}

/// Installs or updates an agent, showing npm's lines on stderr while it runs.
async fn install(client: &Client, id: &str, version: Option<&str>) -> anyhow::Result<i32> {
    let path = format!("/api/agents/{}/install", super::encode(id));
    let body = serde_json::json!({"version": version});
    eprintln!(
        "installing {id} {} from the npm registry…",
        version.unwrap_or("latest")
    );
    let work = client.post(&path, Some(body));
    let done = super::progress::with_events(client, work, |ev| {
        if ev["type"] == "agent_install_progress" && ev["data"]["agent"] == id {
            eprintln!("  {}", ev["data"]["line"].as_str().unwrap_or_default());
        }
    })
    .await?;
    let was = match done["previous"].as_str() {
        Some(p) if Some(p) != done["version"].as_str() => format!(" (was {p})"),
        _ => String::new(),
    };
    println!(
        "installed {} {}{was} for agent '{id}': {}",
        done["package"].as_str().unwrap_or_default(),
        done["version"].as_str().unwrap_or_default(),
        done["binary_path"].as_str().unwrap_or_default()
    );
    Ok(0)
}

pub async fn providers(cli: &Cli, args: &CatalogueArgs) -> anyhow::Result<i32> {
    let client = Client::connect(cli).await?;
    match &args.command {
        CatalogueCommand::List { json } => {
            let data = client.get("/api/providers").await?;
            print_list(
                &data,
                *json,
                &["id", "name", "type", "default model", "endpoints"],
                |p| {
                    let mut row = fields(p, &["id", "name", "type", "default_model"]);
                    row.push(
                        p["endpoints"]
                            .as_object()
                            .map(|e| e.keys().cloned().collect::<Vec<_>>().join(","))
                            .unwrap_or_default(),
                    );
                    row
                },
                "",
            )?;
        }
        CatalogueCommand::Show { id, json } => {
            let data = client
                .get(&format!("/api/providers/{}", super::encode(id)))
                .await?;
            if *json {
                return print_json(&data).map(|()| 0);
            }
            print_fields(
                &data,
                &[
                    "id",
                    "name",
                    "type",
                    "endpoints",
                    "default_endpoint",
                    "default_model",
                    "any_model",
                    "key_env",
                    "auth_scheme",
                    "requires_key",
                ],
            );
            println!();
            println!("{}", price_table(&data));
        }
    }
    Ok(0)
}

/// The provider's models with their prices (USD per million tokens), or "unpriced".
fn price_table(provider: &Value) -> String {
    let prices = &provider["prices_per_million_tokens"];
    let usd = |v: &Value| {
        v.as_f64()
            .map_or_else(|| "-".to_string(), |x| format!("${x}"))
    };
    let rows: Vec<Vec<String>> = provider["models"]
        .as_array()
        .map(Vec::as_slice)
        .unwrap_or_default()
        .iter()
        .filter_map(Value::as_str)
        .map(|m| {
            let p = &prices[m];
            if p.is_null() {
                vec![
                    m.to_string(),
                    "unpriced".into(),
                    String::new(),
                    String::new(),
                    String::new(),
                ]
            } else {
                vec![
                    m.to_string(),
                    usd(&p["input"]),
                    usd(&p["output"]),
                    usd(&p["cache_write"]),
                    usd(&p["cache_read"]),
                ]
            }
        })
        .collect();
    format!(
        "prices in USD per million tokens:\n{}",
        render(
            &["model", "input", "output", "cache write", "cache read"],
            &rows
        )
    )
}

/// `show`: one item, as JSON or as `key  value` lines.
async fn show(client: &Client, path: &str, json: bool, fields: &[&str]) -> anyhow::Result<()> {
    let data = client.get(path).await?;
    if json {
        print_json(&data)
    } else {
        print_fields(&data, fields);
        Ok(())
    }
}
