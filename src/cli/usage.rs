//! `clown usage [--period P] [--profile A] [--model M] [--all-machines] [--json]`,
//! `clown usage import [--agent A] [--json]`, `clown usage import-claude [--claude-dir D]`,
//! `clown usage sync` (the push to the shared database), `clown usage metrics` (what
//! Prometheus scrapes), and the views in [`super::usage_reports`]: `blocks [--live]`,
//! `daily|weekly|monthly|session`, `export`, `limits`.

use clap::{Args, Subcommand};
use serde_json::Value;

use super::table::{n, print_json, render, thousands, usd};
use super::usage_reports;
use super::{Cli, Client, encode};

#[derive(Debug, Args)]
#[command(args_conflicts_with_subcommands = true)]
pub struct UsageArgs {
    #[command(subcommand)]
    command: Option<UsageCommand>,
    /// today, yesterday, week, month, 7d, 30d or all.
    #[arg(long, default_value = "today")]
    period: String,
    /// Only this profile (Claude data outside any profile is '@claude').
    #[arg(long)]
    profile: Option<String>,
    /// Only this model (sessions, which have no model, are then left out).
    #[arg(long)]
    model: Option<String>,
    /// Every machine's usage, from the shared database of [sync] (with a machine breakdown).
    #[arg(long)]
    all_machines: bool,
    /// Print the daemon's JSON instead of tables.
    #[arg(long)]
    json: bool,
}

#[derive(Debug, Subcommand)]
enum UsageCommand {
    /// Import the usage logs the agents write locally (every agent, or one).
    Import {
        /// claude, codex, gemini, qwen, opencode, droid or grok (default: all).
        #[arg(long)]
        agent: Option<String>,
        /// Print JSON instead of text.
        #[arg(long)]
        json: bool,
    },
    /// Import Claude Code's transcripts and stats-cache.json.
    ImportClaude {
        /// A .claude directory (default: every one found, and each claude profile's home).
        #[arg(long)]
        claude_dir: Option<String>,
    },
    /// How the push of this machine's usage to the shared database goes.
    Sync {
        /// Print JSON instead of text.
        #[arg(long)]
        json: bool,
    },
    /// Print the daemon's Prometheus metrics (GET /metrics).
    Metrics,
    /// Five-hour billing blocks (as ccusage computes them), the active one with its
    /// burn rate and projection; --live follows the daemon's events.
    Blocks(usage_reports::BlocksArgs),
    /// Usage per day, with the models and their costs.
    Daily(usage_reports::ReportArgs),
    /// Usage per week.
    Weekly(usage_reports::ReportArgs),
    /// Usage per calendar month.
    Monthly(usage_reports::ReportArgs),
    /// Usage per agent session.
    Session(usage_reports::ReportArgs),
    /// Every event (or day) as CSV or JSON, to stdout or a file.
    Export(usage_reports::ExportArgs),
    /// The providers' limits per profile, with the time until each window starts over.
    Limits(usage_reports::LimitsArgs),
}

pub(super) fn duration(secs: u64) -> String {
    match secs {
        s if s >= 3600 => format!("{}h {:02}m", s / 3600, (s % 3600) / 60),
        s if s >= 60 => format!("{}m {:02}s", s / 60, s % 60),
        s => format!("{s}s"),
    }
}

fn token_cells(t: &Value) -> Vec<String> {
    [
        "input_tokens",
        "output_tokens",
        "cache_creation_input_tokens",
        "cache_read_input_tokens",
    ]
    .iter()
    .map(|k| thousands(n(&t[*k])))
    .collect()
}

pub async fn run(cli: &Cli, args: &UsageArgs) -> anyhow::Result<i32> {
    let client = Client::connect(cli).await?;
    if let Some(UsageCommand::Import { agent, json }) = &args.command {
        let path = format!(
            "/api/usage/import?agent={}",
            encode(agent.as_deref().unwrap_or("all"))
        );
        let summaries = super::progress::with_progress(&client, client.post(&path, None)).await?;
        if *json {
            return print_json(&summaries).map(|_| 0);
        }
        for s in summaries.as_array().into_iter().flatten() {
            println!("{}", s["summary"].as_str().unwrap_or_default());
        }
        return Ok(0);
    }
    match &args.command {
        Some(UsageCommand::Blocks(a)) => return usage_reports::blocks(&client, a).await,
        Some(UsageCommand::Daily(a)) => return usage_reports::report(&client, "daily", a).await,
        Some(UsageCommand::Weekly(a)) => return usage_reports::report(&client, "weekly", a).await,
        Some(UsageCommand::Monthly(a)) => {
            return usage_reports::report(&client, "monthly", a).await;
        }
        Some(UsageCommand::Session(a)) => {
            return usage_reports::report(&client, "sessions", a).await;
        }
        Some(UsageCommand::Export(a)) => return usage_reports::export(&client, a).await,
        Some(UsageCommand::Limits(a)) => return usage_reports::limits(&client, a).await,
        _ => {}
    }
    if let Some(UsageCommand::ImportClaude { claude_dir }) = &args.command {
        let path = match claude_dir {
            Some(d) => format!("/api/usage/import-claude?claude_dir={}", encode(d)),
            None => "/api/usage/import-claude".to_string(),
        };
        let summary = super::progress::with_progress(&client, client.post(&path, None)).await?;
        println!("{}", summary.as_str().unwrap_or_default());
        return Ok(0);
    }
    match &args.command {
        Some(UsageCommand::Metrics) => {
            print!("{}", client.text("/metrics").await?);
            return Ok(0);
        }
        Some(UsageCommand::Sync { json }) => {
            let s = client.get("/api/sync/status").await?;
            if *json {
                return print_json(&s).map(|_| 0);
            }
            print_sync(&s);
            return Ok(0);
        }
        _ => {}
    }
    let mut path = format!("/api/usage?period={}", encode(&args.period));
    if let Some(p) = &args.profile {
        path.push_str(&format!("&profile={}", encode(p)));
    }
    if let Some(m) = &args.model {
        path.push_str(&format!("&model={}", encode(m)));
    }
    if args.all_machines {
        path.push_str("&scope=all-machines");
    }
    let u = client.get(&path).await?;
    if args.json {
        return print_json(&u).map(|_| 0);
    }
    let t = &u["total_tokens"];
    let c = &u["total_cost"];
    println!(
        "{} ({})",
        u["period"].as_str().unwrap_or_default(),
        u["time_zone"].as_str().unwrap_or_default()
    );
    println!(
        "tokens    input {}  output {}  cache write {}  cache read {}",
        thousands(n(&t["input_tokens"])),
        thousands(n(&t["output_tokens"])),
        thousands(n(&t["cache_creation_input_tokens"])),
        thousands(n(&t["cache_read_input_tokens"]))
    );
    println!(
        "cost      {} (input {}, output {}, cache write {}, cache read {})",
        usd(&c["total_cost"]),
        usd(&c["input_cost"]),
        usd(&c["output_cost"]),
        usd(&c["cache_creation_cost"]),
        usd(&c["cache_read_cost"])
    );
    println!(
        "sessions  {}, runtime {}",
        n(&u["total_sessions"]),
        duration(n(&u["total_runtime_secs"]))
    );
    let empty = serde_json::Map::new();
    let profiles = u["aggregates"]["by_profile"].as_object().unwrap_or(&empty);
    if !profiles.is_empty() {
        let rows: Vec<Vec<String>> = profiles
            .values()
            .map(|p| {
                let mut row = vec![p["profile"].as_str().unwrap_or_default().to_string()];
                row.extend(token_cells(&p["tokens"]));
                row.push(usd(&p["cost"]["total_cost"]));
                row.push(n(&p["sessions"]).to_string());
                row.push(duration(n(&p["runtime_secs"])));
                row.push(p["last_used"].as_str().unwrap_or("-").to_string());
                row
            })
            .collect();
        println!("\nBy profile");
        println!(
            "{}",
            render(
                &[
                    "profile",
                    "input",
                    "output",
                    "cache w",
                    "cache r",
                    "cost",
                    "sessions",
                    "runtime",
                    "last used"
                ],
                &rows
            )
        );
    }
    if let Some(machines) = u["aggregates"]["by_machine"].as_object() {
        let rows: Vec<Vec<String>> = machines
            .values()
            .map(|m| {
                let mut row = vec![
                    m["name"].as_str().unwrap_or_default().to_string(),
                    m["machine_id"]
                        .as_str()
                        .unwrap_or_default()
                        .chars()
                        .take(8)
                        .collect(),
                ];
                row.extend(token_cells(&m["tokens"]));
                row.push(usd(&m["cost"]["total_cost"]));
                row.push(n(&m["sessions"]).to_string());
                row
            })
            .collect();
        println!("\nBy machine");
        println!(
            "{}",
            render(
                &[
                    "machine", "id", "input", "output", "cache w", "cache r", "cost", "sessions"
                ],
                &rows
            )
        );
    }
    let models = u["aggregates"]["by_model"].as_object().unwrap_or(&empty);
    if !models.is_empty() {
        let rows: Vec<Vec<String>> = models
            .values()
            .map(|m| {
                let mut row = vec![m["model"].as_str().unwrap_or_default().to_string()];
                row.extend(token_cells(&m["tokens"]));
                row.push(if m["priced"] == Value::Bool(true) {
                    usd(&m["cost"]["total_cost"])
                } else {
                    "unpriced".into()
                });
                row
            })
            .collect();
        println!("\nBy model");
        println!(
            "{}",
            render(
                &["model", "input", "output", "cache w", "cache r", "cost"],
                &rows
            )
        );
    }
    if let Some(unpriced) = u["unpriced_models"].as_array().filter(|a| !a.is_empty()) {
        let names: Vec<&str> = unpriced.iter().filter_map(Value::as_str).collect();
        println!(
            "\nNo price known for {} (counted as $0; add it to the registry's pricing.json)",
            names.join(", ")
        );
    }
    Ok(0)
}

fn print_sync(s: &Value) {
    let text = |k: &str| s[k].as_str().unwrap_or("-").to_string();
    println!(
        "machine     {} ({})",
        text("machine_name"),
        text("machine_id")
    );
    if s["enabled"] != Value::Bool(true) {
        println!(
            "sync        off (set [sync] url in the configuration to push usage to a shared PostgreSQL)"
        );
        return;
    }
    println!("database    {}", text("database"));
    println!(
        "connected   {}",
        if s["connected"] == Value::Bool(true) {
            "yes"
        } else {
            "no"
        }
    );
    println!("backlog     {} changes", n(&s["backlog"]));
    println!(
        "pushed      {} events, {} sessions since the daemon started",
        n(&s["pushed_events"]),
        n(&s["pushed_sessions"])
    );
    println!("last push   {}", text("last_push"));
    if let Some(e) = s["last_error"].as_str() {
        println!("last error  {e}");
    }
}
