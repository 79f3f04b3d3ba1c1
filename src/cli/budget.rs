//! `clown budget set|list|remove`: budgets per profile (or `@all`), daily or monthly, in
//! dollars and/or a share of a provider window, with an optional hard stop.

use clap::{Args, Subcommand};
use serde_json::{Value, json};

use super::table::print_list;
use super::{Cli, Client, encode};

#[derive(Debug, Args)]
pub struct BudgetArgs {
    #[command(subcommand)]
    command: BudgetCommand,
}

#[derive(Debug, Subcommand)]
enum BudgetCommand {
    /// Set (or replace) a budget; warnings at 80 %, 95 % and 100 %.
    Set {
        /// A profile, '@all' (every profile together) or '@<agent>' (an agent's data outside any profile).
        scope: String,
        /// daily or monthly.
        #[arg(long, default_value = "daily")]
        period: String,
        /// The most to spend in the period, in US dollars.
        #[arg(long)]
        usd: Option<f64>,
        /// A provider window: five_hour or seven_day (its use as the provider reports it).
        #[arg(long, requires = "window_percent")]
        window: Option<String>,
        /// The share of that window the budget allows, in percent.
        #[arg(long, requires = "window")]
        window_percent: Option<f64>,
        /// At 100 %, the proxy refuses the agent's requests (in the provider's error shape) until the period or window starts over.
        #[arg(long)]
        hard_stop: bool,
    },
    /// The budgets and how much of each is used.
    List {
        /// Print the daemon's JSON instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Remove a budget.
    Remove {
        /// The budget's scope (a profile, '@all' or '@<agent>').
        scope: String,
        /// daily or monthly.
        #[arg(long, default_value = "daily")]
        period: String,
    },
}

fn limit(b: &Value) -> String {
    let mut parts = Vec::new();
    if let Some(usd) = b["limit_usd"].as_f64() {
        parts.push(format!("${usd:.2}"));
    }
    if let (Some(w), Some(p)) = (b["window"].as_str(), b["window_percent"].as_f64()) {
        parts.push(format!("{p:.0}% of {w}"));
    }
    parts.join(" + ")
}

fn row(b: &Value) -> Vec<String> {
    let window = b["window_used_percent"]
        .as_f64()
        .map(|w| format!("{w:.1}%"))
        .unwrap_or_else(|| "-".into());
    vec![
        b["scope"].as_str().unwrap_or("-").to_string(),
        b["period"].as_str().unwrap_or("-").to_string(),
        limit(b),
        format!("${:.2}", b["spent_usd"].as_f64().unwrap_or(0.0)),
        window,
        format!("{:.1}%", b["used_percent"].as_f64().unwrap_or(0.0)),
        b["level"].as_str().unwrap_or("-").to_string(),
        match (b["hard_stop"] == true, b["stopped"] == true) {
            (_, true) => "STOPPED".into(),
            (true, false) => "armed".into(),
            _ => "-".into(),
        },
    ]
}

const HEADINGS: &[&str] = &[
    "scope",
    "period",
    "limit",
    "spent",
    "window",
    "used",
    "level",
    "hard stop",
];

pub async fn run(cli: &Cli, args: &BudgetArgs) -> anyhow::Result<i32> {
    let client = Client::connect(cli).await?;
    match &args.command {
        BudgetCommand::Set {
            scope,
            period,
            usd,
            window,
            window_percent,
            hard_stop,
        } => {
            let body = json!({"limit_usd": usd, "window": window, "window_percent": window_percent, "hard_stop": hard_stop});
            let path = format!("/api/budgets/{}/{}", encode(scope), encode(period));
            let b = client.call(hyper::Method::PUT, &path, Some(body)).await?;
            println!(
                "{} budget of {}: {} — {:.1}% used ({})",
                b["period"].as_str().unwrap_or(""),
                b["scope"].as_str().unwrap_or(""),
                limit(&b),
                b["used_percent"].as_f64().unwrap_or(0.0),
                b["level"].as_str().unwrap_or("")
            );
        }
        BudgetCommand::List { json } => {
            let list = client.get("/api/budgets").await?;
            print_list(
                &list,
                *json,
                HEADINGS,
                row,
                "No budget set; e.g. 'clown budget set @all --period daily --usd 20'",
            )?;
        }
        BudgetCommand::Remove { scope, period } => {
            client
                .delete(&format!(
                    "/api/budgets/{}/{}",
                    encode(scope),
                    encode(period)
                ))
                .await?;
            println!("removed the {period} budget of {scope}");
        }
    }
    Ok(0)
}
