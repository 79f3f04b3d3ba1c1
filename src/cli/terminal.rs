//! `clown terminal list|new|attach|kill|share|cleanup`: terminal sessions in the daemon.
//!
//! Sessions are named by their id or any unique prefix of it. `attach` (and `new
//! --attach`) connects this terminal to a session; see [`super::attach`].

use std::path::PathBuf;

use anyhow::{Context, bail};
use clap::{Args, Subcommand};
use serde_json::{Value, json};

use super::table::{cell, fields, print_list};
use super::{Cli, Client, encode};

#[derive(Debug, Args)]
pub struct TerminalArgs {
    #[command(subcommand)]
    command: TerminalCommand,
}

#[derive(Debug, Subcommand)]
enum TerminalCommand {
    /// List terminal sessions (with what each agent is doing: working, needs_input, ...).
    List {
        /// Print JSON instead of a table.
        #[arg(long)]
        json: bool,
        /// Only sessions waiting for you (needs input, turn finished, rate limited,
        /// errored), the longest waiting first.
        #[arg(long)]
        waiting: bool,
    },
    /// Start a profile's agent in a new session and print its id:
    /// `clown terminal new [PROFILE] [--attach] -- ARGS` (without PROFILE: the one bound
    /// to the working directory).
    New {
        /// The profile whose agent to run (default: the one bound to the working directory).
        profile: Option<String>,
        /// Columns (default: this terminal's, else 80).
        #[arg(long)]
        cols: Option<u16>,
        /// Rows (default: this terminal's, else 24).
        #[arg(long)]
        rows: Option<u16>,
        /// Working directory (default: the current directory).
        #[arg(long)]
        cwd: Option<PathBuf>,
        /// Attach right away (detach with Ctrl-]).
        #[arg(long)]
        attach: bool,
        /// Run in a new git worktree (its own branch) of the directory's repository.
        #[arg(long)]
        worktree: bool,
        /// Arguments passed to the agent.
        #[arg(last = true)]
        args: Vec<String>,
    },
    /// Attach this terminal to a session. Ctrl-] detaches and leaves the session running.
    Attach {
        /// The session's id, or a unique prefix of it ('clown terminal list').
        id: String,
    },
    /// End a session (SIGHUP, SIGTERM, then SIGKILL after a grace).
    Kill {
        /// The session's id, or a unique prefix of it.
        id: String,
    },
    /// Make a read-only link to a session that expires (prints it); --list, --revoke.
    Share(super::share::ShareArgs),
    /// Remove terminated sessions from the list.
    Cleanup,
    /// Sessions a stop, a reboot or a lost holder ended, and how each resumes.
    Interrupted {
        /// Print JSON instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Resume an interrupted session: the agent resumes its conversation in a new session
    /// of the same profile, in the same directory.
    Resume {
        /// The interrupted session's id, or a unique prefix of it ('clown terminal interrupted').
        id: String,
        /// Attach right away (detach with Ctrl-]).
        #[arg(long)]
        attach: bool,
    },
    /// Forget an interrupted session.
    Dismiss {
        /// The interrupted session's id, or a unique prefix of it.
        id: String,
    },
    /// A session's worktree: what it changed; with an action, keep, merge or remove it.
    Worktree {
        /// The session's id, or a unique prefix of it.
        id: String,
        /// keep, merge (into the repository's checked-out branch) or remove.
        action: Option<String>,
        /// Print JSON instead.
        #[arg(long)]
        json: bool,
    },
}

pub async fn run(cli: &Cli, args: &TerminalArgs) -> anyhow::Result<i32> {
    let client = Client::connect(cli).await?;
    match &args.command {
        TerminalCommand::List { json, waiting } => {
            if *waiting {
                let data = client.get("/api/terminal/sessions?waiting=true").await?;
                print_waiting(&data, *json)?;
            } else {
                let data = client.get("/api/terminal/sessions").await?;
                print_sessions(&data, *json)?;
            }
        }
        TerminalCommand::New {
            profile,
            cols,
            rows,
            cwd,
            attach,
            worktree,
            args,
        } => {
            let cwd = match cwd {
                Some(dir) => std::path::absolute(dir)
                    .with_context(|| format!("invalid directory {}", dir.display()))?,
                None => std::env::current_dir().context("cannot read the current directory")?,
            };
            let mut body = json!({"profile_alias": profile, "args": args, "working_dir": cwd});
            if *worktree {
                body["worktree"] = json!(true);
            }
            // Where this shell finds programs: the daemon uses it when it finds the agent
            // nowhere it looks itself (and checks the directory before it does).
            if let Ok(path) = std::env::var("PATH") {
                body["search_path"] = json!(path);
            }
            let local = super::attach::local_size();
            if let Some(c) = cols.or(local.map(|s| s.0)) {
                body["cols"] = json!(c);
            }
            if let Some(r) = rows.or(local.map(|s| s.1)) {
                body["rows"] = json!(r);
            }
            let data = client.post("/api/terminal/sessions", Some(body)).await?;
            let id = data["session_id"].as_str().unwrap_or_default().to_string();
            if *attach {
                return super::attach::attach(&client, &id).await;
            }
            // The id alone on stdout (for scripts); how to go on, on stderr.
            println!("{id}");
            eprintln!(
                "started; attach with 'clown terminal attach {}' (Ctrl-] detaches), end it with 'clown terminal kill {0}'",
                short(&id)
            );
        }
        TerminalCommand::Attach { id } => {
            let id = resolve(&client, id).await?;
            return super::attach::attach(&client, &id).await;
        }
        TerminalCommand::Kill { id } => {
            let id = resolve(&client, id).await?;
            client
                .delete(&format!("/api/terminal/sessions/{}", encode(&id)))
                .await?;
            let info = client
                .get(&format!("/api/terminal/sessions/{}", encode(&id)))
                .await?;
            println!(
                "terminal session {} ended (exit code {})",
                short(&id),
                cell(&info["exit_code"])
            );
        }
        TerminalCommand::Interrupted { json } => {
            let data = client.get("/api/terminal/interrupted").await?;
            print_list(
                &data,
                *json,
                &[
                    "id",
                    "profile",
                    "agent",
                    "directory",
                    "conversation",
                    "ended",
                    "resume with",
                ],
                |s| {
                    let mut row = fields(
                        s,
                        &[
                            "id",
                            "profile_alias",
                            "agent_id",
                            "working_dir",
                            "conversation_id",
                            "ended_at",
                        ],
                    );
                    row.push(match s["resume_args"].as_array() {
                        Some(a) => format!(
                            "{} {}",
                            s["agent_id"].as_str().unwrap_or_default(),
                            a.iter()
                                .filter_map(Value::as_str)
                                .collect::<Vec<_>>()
                                .join(" ")
                        ),
                        None => "-".into(),
                    });
                    row
                },
                "no interrupted session",
            )?;
        }
        TerminalCommand::Resume { id, attach } => {
            let id = resolve_in(
                &client,
                "/api/terminal/interrupted",
                id,
                "interrupted session",
            )
            .await?;
            let mut body = json!({});
            if let Some((c, r)) = super::attach::local_size() {
                body = json!({"cols": c, "rows": r});
            }
            let data = client
                .post(
                    &format!("/api/terminal/interrupted/{}/resume", encode(&id)),
                    Some(body),
                )
                .await?;
            let new = data["session_id"].as_str().unwrap_or_default().to_string();
            if *attach {
                return super::attach::attach(&client, &new).await;
            }
            println!("{new}");
            eprintln!(
                "resumed in a new session; attach with 'clown terminal attach {}'",
                short(&new)
            );
        }
        TerminalCommand::Dismiss { id } => {
            let id = resolve_in(
                &client,
                "/api/terminal/interrupted",
                id,
                "interrupted session",
            )
            .await?;
            client
                .delete(&format!("/api/terminal/interrupted/{}", encode(&id)))
                .await?;
            println!("forgot interrupted session {}", short(&id));
        }
        TerminalCommand::Worktree { id, action, json } => {
            let id = resolve(&client, id).await?;
            let path = format!("/api/terminal/sessions/{}/worktree", encode(&id));
            let data = match action {
                Some(a) => client.post(&path, Some(json!({"action": a}))).await?,
                None => client.get(&path).await?,
            };
            if *json {
                super::table::print_json(&data)?;
            } else {
                print_worktree(&data);
            }
        }
        TerminalCommand::Share(share) => {
            let id = resolve(&client, &share.id).await?;
            return super::share::run(&client, &id, share).await;
        }
        TerminalCommand::Cleanup => {
            let before = count(&client.get("/api/terminal/sessions").await?);
            client.post("/api/terminal/cleanup", None).await?;
            let after = count(&client.get("/api/terminal/sessions").await?);
            println!(
                "removed {} terminated session(s)",
                before.saturating_sub(after)
            );
        }
    }
    Ok(0)
}

fn count(list: &Value) -> usize {
    list.as_array().map(Vec::len).unwrap_or(0)
}

fn short(id: &str) -> &str {
    id.get(..8).unwrap_or(id)
}

/// The full id of the one session whose id starts with `prefix`.
async fn resolve(client: &Client, prefix: &str) -> anyhow::Result<String> {
    resolve_in(client, "/api/terminal/sessions", prefix, "terminal session").await
}

/// The full id of the one item of the list at `path` whose id starts with `prefix`.
async fn resolve_in(
    client: &Client,
    path: &str,
    prefix: &str,
    what: &str,
) -> anyhow::Result<String> {
    let list = client.get(path).await?;
    let ids: Vec<&str> = list
        .as_array()
        .map(Vec::as_slice)
        .unwrap_or_default()
        .iter()
        .filter_map(|s| s["id"].as_str())
        .filter(|id| !prefix.is_empty() && id.starts_with(prefix))
        .collect();
    match ids.as_slice() {
        [one] => Ok(one.to_string()),
        [] if what == "terminal session" => {
            bail!("no terminal session '{prefix}'; see 'clown terminal list'")
        }
        [] => bail!("no {what} '{prefix}'; see 'clown terminal interrupted'"),
        _ => bail!(
            "'{prefix}' matches {} sessions; give more of the id",
            ids.len()
        ),
    }
}

fn print_sessions(data: &Value, json: bool) -> anyhow::Result<()> {
    print_list(
        data,
        json,
        &[
            "id",
            "profile",
            "state",
            "attention",
            "exit",
            "pid",
            "size",
            "clients",
            "created",
        ],
        |s| {
            let mut row = fields(
                s,
                &[
                    "id",
                    "profile_alias",
                    "state",
                    "attention",
                    "exit_code",
                    "pid",
                ],
            );
            row.push(format!("{}x{}", cell(&s["cols"]), cell(&s["rows"])));
            row.extend(fields(s, &["client_count", "created_at"]));
            row
        },
        "no terminal sessions; start one with 'clown terminal new PROFILE --attach'",
    )
}

fn print_waiting(data: &Value, json: bool) -> anyhow::Result<()> {
    print_list(
        data,
        json,
        &["id", "profile", "attention", "waiting", "message"],
        |s| {
            let mut row = fields(s, &["id", "profile_alias", "attention"]);
            row.push(
                s["waiting_secs"]
                    .as_i64()
                    .map(human_secs)
                    .unwrap_or_default(),
            );
            row.extend(fields(s, &["attention_message"]));
            row
        },
        "no session is waiting for you",
    )
}

/// `75` → `1m 15s`.
pub fn human_secs(secs: i64) -> String {
    match secs {
        s if s >= 3600 => format!("{}h {}m", s / 3600, (s % 3600) / 60),
        s if s >= 60 => format!("{}m {}s", s / 60, s % 60),
        s => format!("{s}s"),
    }
}

fn print_worktree(w: &Value) {
    let c = &w["changes"];
    println!(
        "worktree {} on branch {} (from {}{})",
        cell(&w["path"]),
        cell(&w["branch"]),
        w["base"]
            .as_str()
            .map(|b| &b[..b.len().min(10)])
            .unwrap_or("?"),
        w["base_branch"]
            .as_str()
            .map(|b| format!(", {b}"))
            .unwrap_or_default()
    );
    if let Some(outcome) = w["outcome"].as_str() {
        println!("{outcome}");
    }
    if !w["exists"].as_bool().unwrap_or(false) {
        return;
    }
    println!(
        "{} commit(s), {} file(s) changed, {} insertion(s), {} deletion(s){}",
        cell(&c["commits"]),
        cell(&c["files_changed"]),
        cell(&c["insertions"]),
        cell(&c["deletions"]),
        if c["uncommitted"] == true {
            ", some not committed"
        } else {
            ""
        }
    );
    for f in c["files"].as_array().map(Vec::as_slice).unwrap_or_default() {
        println!("  {:>2} {}", cell(&f["status"]), cell(&f["path"]));
    }
    if w["running"] == false && w["outcome"].is_null() {
        println!(
            "keep it, merge it or remove it: 'clown terminal worktree {} keep|merge|remove'",
            short(w["session_id"].as_str().unwrap_or_default())
        );
    }
}
