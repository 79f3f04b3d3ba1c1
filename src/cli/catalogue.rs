//! `clown agents list|show` and `clown providers list|show`.

use clap::{Args, Subcommand};
use serde_json::Value;

use super::table::{cell, print_fields, print_json, render};
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
}

fn items(v: &Value) -> &[Value] {
    v.as_array().map(Vec::as_slice).unwrap_or_default()
}

pub async fn agents(cli: &Cli, args: &CatalogueArgs) -> anyhow::Result<i32> {
    let client = Client::connect(cli).await?;
    match &args.command {
        CatalogueCommand::List { json } => {
            let data = client.get("/api/agents").await?;
            if *json {
                print_json(&data)?;
            } else {
                let rows: Vec<Vec<String>> = items(&data)
                    .iter()
                    .map(|a| {
                        [
                            "id",
                            "name",
                            "installed",
                            "version",
                            "profile_count",
                            "binary_path",
                        ]
                        .iter()
                        .map(|k| cell(&a[*k]))
                        .collect()
                    })
                    .collect();
                println!(
                    "{}",
                    render(
                        &["id", "name", "installed", "version", "profiles", "path"],
                        &rows
                    )
                );
            }
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
                ],
            )
            .await?;
        }
    }
    Ok(0)
}

pub async fn providers(cli: &Cli, args: &CatalogueArgs) -> anyhow::Result<i32> {
    let client = Client::connect(cli).await?;
    match &args.command {
        CatalogueCommand::List { json } => {
            let data = client.get("/api/providers").await?;
            if *json {
                print_json(&data)?;
            } else {
                let rows: Vec<Vec<String>> = items(&data)
                    .iter()
                    .map(|p| {
                        vec![
                            cell(&p["id"]),
                            cell(&p["name"]),
                            cell(&p["type"]),
                            cell(&p["default_model"]),
                            p["endpoints"]
                                .as_object()
                                .map(|e| e.keys().cloned().collect::<Vec<_>>().join(","))
                                .unwrap_or_default(),
                        ]
                    })
                    .collect();
                println!(
                    "{}",
                    render(&["id", "name", "type", "default model", "endpoints"], &rows)
                );
            }
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
