//! `clown agents list|show` and `clown providers list|show`.

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
