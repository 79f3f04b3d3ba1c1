//! `clown agents list|show|install|update` and `clown providers list|show`.

use clap::{Args, Subcommand};

use super::table::{fields, print_fields, print_json, print_list};
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
        #[arg(long)]
        json: bool,
    },
    /// Show one.
    Show {
        id: String,
        #[arg(long)]
        json: bool,
    },
    /// Agents: install one from the npm registry into clown's own prefix.
    Install {
        id: String,
        /// An npm version or tag (default: latest).
        #[arg(long)]
        version: Option<String>,
    },
    /// Agents: update one clown installed (to the latest, or --version).
    Update {
        id: String,
        #[arg(long)]
        version: Option<String>,
    },
}

pub async fn agents(cli: &Cli, args: &CatalogueArgs) -> anyhow::Result<i32> {
    let client = Client::connect(cli).await?;
    match &args.command {
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
        CatalogueCommand::Install { id, version } | CatalogueCommand::Update { id, version } => {
            return install(&client, id, version.as_deref()).await;
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
        CatalogueCommand::Install { .. } | CatalogueCommand::Update { .. } => {
            anyhow::bail!(
                "providers are not installed; 'clown agents install NAME' installs an agent"
            )
        }
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
            let path = format!("/api/providers/{}", super::encode(id));
            show(
                &client,
                &path,
                *json,
                &[
                    "id",
                    "name",
                    "type",
                    "endpoints",
                    "default_endpoint",
                    "models",
                    "default_model",
                    "any_model",
                    "key_env",
                    "auth_scheme",
                ],
            )
            .await?;
        }
    }
    Ok(0)
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
