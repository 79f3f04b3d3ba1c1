//! `clown conversations list|search|resume`: the agents' own conversations in every
//! profile home (newest first), found by text, and resumed in a new terminal session —
//! under their profile or another of the same agent (`--as`).

use anyhow::bail;
use clap::{Args, Subcommand};
use serde_json::{Value, json};

use super::table::{cell, print_list};
use super::{Cli, Client, encode};

#[derive(Debug, Args)]
pub struct ConversationsArgs {
    #[command(subcommand)]
    command: ConversationsCommand,
}

#[derive(Debug, Subcommand)]
enum ConversationsCommand {
    /// List conversations, newest first.
    List {
        /// Only this profile's.
        #[arg(long)]
        profile: Option<String>,
        /// At most this many (default 50).
        #[arg(long, default_value_t = 50)]
        limit: usize,
        /// Print JSON instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Find conversations whose id, directory or any prompt holds TEXT.
    Search {
        /// The text to find (case-insensitive).
        text: String,
        /// Only this profile's.
        #[arg(long)]
        profile: Option<String>,
        /// At most this many (default 50).
        #[arg(long, default_value_t = 50)]
        limit: usize,
        /// Print JSON instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Resume a conversation in a new terminal session.
    Resume {
        /// The conversation's id, or a unique prefix of it.
        id: String,
        /// The profile it belongs to (when the id alone is ambiguous).
        #[arg(long)]
        profile: Option<String>,
        /// Run it under this profile instead (one of the same agent).
        #[arg(long = "as", value_name = "PROFILE")]
        target: Option<String>,
        /// Attach right away (detach with Ctrl-]).
        #[arg(long)]
        attach: bool,
    },
}

pub async fn run(cli: &Cli, args: &ConversationsArgs) -> anyhow::Result<i32> {
    let client = Client::connect(cli).await?;
    match &args.command {
        ConversationsCommand::List {
            profile,
            limit,
            json,
        } => {
            let data = client.get(&query(profile.as_deref(), None, *limit)).await?;
            print(&data, *json)?;
        }
        ConversationsCommand::Search {
            text,
            profile,
            limit,
            json,
        } => {
            let data = client
                .get(&query(profile.as_deref(), Some(text), *limit))
                .await?;
            print(&data, *json)?;
        }
        ConversationsCommand::Resume {
            id,
            profile,
            target,
            attach,
        } => {
            let all = client.get(&query(profile.as_deref(), None, 1000)).await?;
            let items = all.as_array().map(Vec::as_slice).unwrap_or_default();
            let exact: Vec<&Value> = items.iter().filter(|c| c["id"] == id.as_str()).collect();
            let found: Vec<&Value> = if exact.is_empty() {
                items
                    .iter()
                    .filter(|c| {
                        c["id"]
                            .as_str()
                            .is_some_and(|i| !id.is_empty() && i.starts_with(id.as_str()))
                    })
                    .collect()
            } else {
                exact
            };
            let c = match found.as_slice() {
                [one] => *one,
                [] => bail!("no conversation '{id}'; see 'clown conversations list'"),
                _ => bail!(
                    "'{id}' matches {} conversations; give more of the id or --profile",
                    found.len()
                ),
            };
            let mut body = json!({"profile_alias": c["profile_alias"], "conversation_id": c["id"]});
            if let Some(t) = target {
                body["target_profile"] = json!(t);
            }
            if let Some((cols, rows)) = super::attach::local_size() {
                body["cols"] = json!(cols);
                body["rows"] = json!(rows);
            }
            let data = client.post("/api/conversations/resume", Some(body)).await?;
            let session = data["session_id"].as_str().unwrap_or_default().to_string();
            if *attach {
                return super::attach::attach(&client, &session).await;
            }
            println!("{session}");
            eprintln!(
                "resumed in a new session; attach with 'clown terminal attach {}'",
                session.get(..8).unwrap_or(&session)
            );
        }
    }
    Ok(0)
}

fn query(profile: Option<&str>, text: Option<&str>, limit: usize) -> String {
    let mut q = format!("/api/conversations?limit={limit}");
    if let Some(p) = profile {
        q.push_str(&format!("&profile={}", encode(p)));
    }
    if let Some(t) = text {
        q.push_str(&format!("&q={}", encode(t)));
    }
    q
}

fn print(data: &Value, json: bool) -> anyhow::Result<()> {
    print_list(
        data,
        json,
        &[
            "id",
            "profile",
            "last activity",
            "directory",
            "tokens",
            "cost",
            "first prompt",
        ],
        |c| {
            let tokens = c["tokens"]
                .as_object()
                .map(|t| {
                    t.values()
                        .filter_map(Value::as_u64)
                        .sum::<u64>()
                        .to_string()
                })
                .unwrap_or_else(|| "-".into());
            let cost = c["cost_usd"]
                .as_f64()
                .map(|x| format!("${x:.4}"))
                .unwrap_or_else(|| "-".into());
            let prompt: String = c["first_prompt"]
                .as_str()
                .unwrap_or("-")
                .replace('\n', " ")
                .chars()
                .take(60)
                .collect();
            vec![
                cell(&c["id"]),
                cell(&c["profile_alias"]),
                cell(&c["last_activity"]),
                cell(&c["cwd"]),
                tokens,
                cost,
                prompt,
            ]
        },
        "no conversations (an agent writes them once it has been used in a profile)",
    )
}
