//! `clown bind ALIAS`, `clown unbind`, `clown bindings` and `clown run`: a directory bound
//! to a profile (a `.clown-profile` file there), and the agent of the profile bound to
//! the current directory (or the nearest one above it) run here.

use std::path::PathBuf;

use anyhow::Context;
use clap::Args;
use serde_json::json;

use super::table::{fields, print_list};
use super::{Cli, Client, encode, launch};

#[derive(Debug, Args)]
pub struct BindArgs {
    /// The profile.
    alias: String,
    /// The directory (default: the current one).
    #[arg(long)]
    dir: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct UnbindArgs {
    /// The directory (default: the current one).
    #[arg(long)]
    dir: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct BindingsArgs {
    /// Print JSON instead of a table.
    #[arg(long)]
    json: bool,
}

#[derive(Debug, Args)]
pub struct RunArgs {
    /// Arguments passed to the agent.
    #[arg(last = true)]
    args: Vec<String>,
}

fn dir(d: &Option<PathBuf>) -> anyhow::Result<PathBuf> {
    match d {
        Some(d) => {
            std::path::absolute(d).with_context(|| format!("invalid directory {}", d.display()))
        }
        None => std::env::current_dir().context("cannot read the current directory"),
    }
}

pub async fn bind(cli: &Cli, args: &BindArgs) -> anyhow::Result<i32> {
    let client = Client::connect(cli).await?;
    let dir = dir(&args.dir)?;
    client
        .post(
            "/api/bindings",
            Some(json!({"dir": dir, "profile": args.alias})),
        )
        .await?;
    println!(
        "{} is bound to profile '{}'; 'clown run' there (or below) runs its agent",
        dir.display(),
        args.alias
    );
    Ok(0)
}

pub async fn unbind(cli: &Cli, args: &UnbindArgs) -> anyhow::Result<i32> {
    let client = Client::connect(cli).await?;
    let dir = dir(&args.dir)?;
    let q = encode(&dir.display().to_string());
    client.delete(&format!("/api/bindings?dir={q}")).await?;
    println!("{} is no longer bound", dir.display());
    Ok(0)
}

pub async fn list(cli: &Cli, args: &BindingsArgs) -> anyhow::Result<i32> {
    let client = Client::connect(cli).await?;
    let data = client.get("/api/bindings").await?;
    print_list(
        &data,
        args.json,
        &["dir", "profile", "file says", "profile exists"],
        |b| fields(b, &["dir", "profile", "file_profile", "profile_exists"]),
        "no bindings; bind a directory with 'clown bind ALIAS'",
    )?;
    Ok(0)
}

pub async fn run(cli: &Cli, args: &RunArgs) -> anyhow::Result<i32> {
    let client = Client::connect(cli).await?;
    let cwd = std::env::current_dir().context("cannot read the current directory")?;
    let q = encode(&cwd.display().to_string());
    let found = client
        .get(&format!("/api/bindings/resolve?dir={q}"))
        .await?;
    let alias = found["profile"].as_str().unwrap_or_default().to_string();
    let spec = launch::prepare(&client, &alias, "launch").await?;
    launch::run(&client, &alias, &spec, &args.args, true).await
}
