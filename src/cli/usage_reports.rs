//! `clown usage blocks [--live]`, `clown usage daily|weekly|monthly|session`,
//! `clown usage export` and `clown usage limits`: tables of what the daemon computes
//! (`--json` prints its JSON as is). `blocks --live` redraws whenever the daemon announces
//! new usage on `/ws/events` (and the minutes left once a minute, from what it has): it
//! never polls.

use std::io::{IsTerminal, Write};
use std::time::Duration;

use clap::Args;
use futures_util::StreamExt;
use serde_json::Value;
use tokio_tungstenite::tungstenite::Message;

use super::table::{n, thousands, usd};
use super::table::{print_json, render};
use super::{Client, encode};

#[derive(Debug, Args, Default)]
pub struct Filters {
    /// Only this profile (an agent's data outside any profile is '@<agent>', e.g. '@claude').
    #[arg(long)]
    profile: Option<String>,
    /// Only this agent's profiles (and its '@<agent>' data).
    #[arg(long)]
    agent: Option<String>,
    /// today, yesterday, week, month, 7d, 30d or all (not with --since/--until).
    #[arg(long)]
    period: Option<String>,
    /// First day, YYYY-MM-DD or YYYYMMDD.
    #[arg(long)]
    since: Option<String>,
    /// Last day, YYYY-MM-DD or YYYYMMDD.
    #[arg(long)]
    until: Option<String>,
}

impl Filters {
    fn query(&self, mut q: Vec<(&'static str, String)>) -> String {
        for (k, v) in [
            ("profile", &self.profile),
            ("agent", &self.agent),
            ("period", &self.period),
            ("since", &self.since),
            ("until", &self.until),
        ] {
            if let Some(v) = v {
                q.push((k, v.clone()));
            }
        }
        let parts: Vec<String> = q
            .iter()
            .map(|(k, v)| format!("{k}={}", encode(v)))
            .collect();
        if parts.is_empty() {
            String::new()
        } else {
            format!("?{}", parts.join("&"))
        }
    }

    fn ranged(&self) -> bool {
        self.period.is_some() || self.since.is_some() || self.until.is_some()
    }
}

#[derive(Debug, Args)]
pub struct BlocksArgs {
    #[command(flatten)]
    filters: Filters,
    /// Only the active block.
    #[arg(long)]
    active: bool,
    /// Only blocks started in the last 3 days, and the active one.
    #[arg(long)]
    recent: bool,
    /// Keep showing them, redrawn whenever usage is recorded (from the daemon's events).
    #[arg(long)]
    live: bool,
    /// Print the daemon's JSON (with --live: one line per update).
    #[arg(long)]
    json: bool,
}

#[derive(Debug, Args)]
pub struct ReportArgs {
    #[command(flatten)]
    filters: Filters,
    /// Weeks start on monday (default) or sunday (weekly only).
    #[arg(long)]
    week_start: Option<String>,
    /// One line per model under each row.
    #[arg(long)]
    breakdown: bool,
    /// Print the daemon's JSON instead of a table.
    #[arg(long)]
    json: bool,
}

#[derive(Debug, Args)]
pub struct ExportArgs {
    /// csv or json.
    #[arg(long, default_value = "csv")]
    format: String,
    /// events (one row per event) or daily (per day, profile and model).
    #[arg(long, default_value = "events")]
    granularity: String,
    #[command(flatten)]
    filters: Filters,
    /// Write to this file instead of standard output.
    #[arg(long, short)]
    output: Option<std::path::PathBuf>,
}

#[derive(Debug, Args)]
pub struct LimitsArgs {
    /// Only this profile.
    #[arg(long)]
    profile: Option<String>,
    /// Print the daemon's JSON instead of a table.
    #[arg(long)]
    json: bool,
}

/// An RFC 3339 time as local `YYYY-MM-DD HH:MM`.
fn local(v: &Value) -> String {
    v.as_str()
        .and_then(|s| s.parse::<jiff::Timestamp>().ok())
        .map(|t| {
            t.to_zoned(jiff::tz::TimeZone::system())
                .strftime("%Y-%m-%d %H:%M")
                .to_string()
        })
        .unwrap_or_else(|| "-".into())
}

fn secs_until(v: &Value) -> Option<i64> {
    let t = v.as_str()?.parse::<jiff::Timestamp>().ok()?;
    Some((t.as_second() - jiff::Timestamp::now().as_second()).max(0))
}

fn tokens_total(t: &Value) -> u64 {
    [
        "input_tokens",
        "output_tokens",
        "cache_creation_input_tokens",
        "cache_read_input_tokens",
    ]
    .iter()
    .map(|k| n(&t[*k]))
    .sum()
}

/// The blocks as a table, and the active one's burn rate and projection.
fn draw_blocks(data: &Value) -> String {
    let empty = Vec::new();
    let blocks = data["blocks"].as_array().unwrap_or(&empty);
    if blocks.is_empty() {
        return "No usage in these blocks.".into();
    }
    let rows: Vec<Vec<String>> = blocks
        .iter()
        .map(|b| {
            let status = if b["is_gap"] == true {
                "gap".to_string()
            } else if b["is_active"] == true {
                let left = secs_until(&b["end_time"]).unwrap_or(0);
                format!("ACTIVE ({} left)", crate::usage::statusline::left(left))
            } else {
                String::new()
            };
            let models: Vec<&str> = b["models"]
                .as_array()
                .map(|m| m.iter().filter_map(Value::as_str).collect())
                .unwrap_or_default();
            vec![
                local(&b["start_time"]),
                local(&b["end_time"]),
                status,
                n(&b["entries"]).to_string(),
                thousands(n(&b["total_tokens"])),
                usd(&b["cost_usd"]),
                models.join(", "),
            ]
        })
        .collect();
    let mut out = render(
        &[
            "start", "end", "status", "entries", "tokens", "cost", "models",
        ],
        &rows,
    );
    for b in blocks.iter().filter(|b| b["is_active"] == true) {
        let r = &b["burn_rate"];
        if r.is_object() {
            out.push_str(&format!(
                "\nburn rate   {} tokens/min, {}/h",
                thousands(r["tokens_per_minute"].as_f64().unwrap_or(0.0).round() as u64),
                usd(&r["cost_per_hour"])
            ));
        }
        let p = &b["projection"];
        if p.is_object() {
            out.push_str(&format!(
                "\nprojected   {} tokens, {} by {}",
                thousands(n(&p["total_tokens"])),
                usd(&p["total_cost"]),
                local(&b["end_time"])
            ));
        }
    }
    out
}

pub async fn blocks(client: &Client, a: &BlocksArgs) -> anyhow::Result<i32> {
    let recent = a.recent || (a.live && !a.active && !a.filters.ranged());
    let mut q = Vec::new();
    if a.active {
        q.push(("active", "true".to_string()));
    }
    if recent {
        q.push(("recent", "true".to_string()));
    }
    let path = format!("/api/usage/blocks{}", a.filters.query(q));
    if !a.live {
        let data = client.get(&path).await?;
        if a.json {
            print_json(&data)?;
        } else {
            println!("{}", draw_blocks(&data));
        }
        return Ok(0);
    }
    live(client, &path, a.json).await
}

const REFRESH_ON: &[&str] = &[
    "usage_recorded",
    "limits_updated",
    "budgets_updated",
    "usage_import_finished",
];

/// Draws the blocks at once and again after each usage event; once a minute the time
/// left is redrawn from the last answer. Ends when the daemon closes the event stream.
async fn live(client: &Client, path: &str, json: bool) -> anyhow::Result<i32> {
    let mut events = client.websocket("/ws/events").await?;
    let tty = std::io::stdout().is_terminal() && !json;
    let show = |data: &Value| -> anyhow::Result<()> {
        let mut out = std::io::stdout().lock();
        if json {
            writeln!(out, "{}", serde_json::to_string(data)?)?;
        } else {
            if tty {
                write!(out, "\x1b[2J\x1b[H")?;
            }
            writeln!(out, "{}", draw_blocks(data))?;
            writeln!(out, "\n(live: updated {})", crate::time::now_rfc3339())?;
        }
        out.flush()?;
        Ok(())
    };
    let mut data = client.get(path).await?;
    show(&data)?;
    let mut minute = tokio::time::interval(Duration::from_secs(60));
    minute.tick().await;
    loop {
        tokio::select! {
            _ = minute.tick(), if tty => show(&data)?,
            frame = events.next() => {
                let Some(Ok(frame)) = frame else { return Ok(0) };
                let Message::Text(text) = frame else { continue };
                let Ok(ev) = serde_json::from_str::<Value>(text.as_str()) else { continue };
                if !REFRESH_ON.iter().any(|t| ev["type"] == *t) {
                    continue;
                }
                data = client.get(path).await?;
                show(&data)?;
            }
        }
    }
}

fn report_rows(data: &Value, breakdown: bool) -> Vec<Vec<String>> {
    let empty = Vec::new();
    let mut rows = Vec::new();
    for r in data["rows"].as_array().unwrap_or(&empty) {
        let key = ["date", "week", "month", "session_id"]
            .iter()
            .find_map(|k| r[*k].as_str())
            .unwrap_or("-")
            .to_string();
        let t = &r["tokens"];
        let models: Vec<&str> = r["models"]
            .as_array()
            .map(|m| m.iter().filter_map(Value::as_str).collect())
            .unwrap_or_default();
        let mut row = vec![key];
        row.extend(
            [
                "input_tokens",
                "output_tokens",
                "cache_creation_input_tokens",
                "cache_read_input_tokens",
            ]
            .iter()
            .map(|k| thousands(n(&t[*k]))),
        );
        row.push(thousands(n(&r["total_tokens"])));
        row.push(usd(&r["cost_usd"]));
        row.push(models.join(", "));
        rows.push(row);
        if breakdown {
            for m in r["breakdown"].as_array().unwrap_or(&empty) {
                let t = &m["tokens"];
                let mut line = vec![format!("  └ {}", m["model"].as_str().unwrap_or("-"))];
                line.extend(
                    [
                        "input_tokens",
                        "output_tokens",
                        "cache_creation_input_tokens",
                        "cache_read_input_tokens",
                    ]
                    .iter()
                    .map(|k| thousands(n(&t[*k]))),
                );
                line.push(thousands(tokens_total(t)));
                line.push(if m["priced"] == true {
                    usd(&m["cost_usd"])
                } else {
                    "unpriced".into()
                });
                rows.push(line);
            }
        }
    }
    rows
}

pub async fn report(client: &Client, kind: &str, a: &ReportArgs) -> anyhow::Result<i32> {
    let mut q = Vec::new();
    if let Some(w) = &a.week_start {
        q.push(("week_start", w.clone()));
    }
    let data = client
        .get(&format!("/api/usage/{kind}{}", a.filters.query(q)))
        .await?;
    if a.json {
        print_json(&data)?;
        return Ok(0);
    }
    let mut rows = report_rows(&data, a.breakdown);
    if rows.is_empty() {
        println!("No usage in this range.");
        return Ok(0);
    }
    let t = &data["totals"];
    let mut total = vec!["total".to_string()];
    total.extend(
        [
            "input_tokens",
            "output_tokens",
            "cache_creation_input_tokens",
            "cache_read_input_tokens",
        ]
        .iter()
        .map(|k| thousands(n(&t["tokens"][*k]))),
    );
    total.push(thousands(n(&t["total_tokens"])));
    total.push(usd(&t["cost_usd"]));
    rows.push(total);
    let first = match kind {
        "sessions" => "session",
        "weekly" => "week",
        "monthly" => "month",
        _ => "date",
    };
    println!(
        "{}",
        render(
            &[
                first, "input", "output", "cache w", "cache r", "total", "cost", "models"
            ],
            &rows
        )
    );
    if let Some(u) = data["unpriced_models"].as_array().filter(|u| !u.is_empty()) {
        let names: Vec<&str> = u.iter().filter_map(Value::as_str).collect();
        println!("\nNo price known for {} (counted as $0)", names.join(", "));
    }
    Ok(0)
}

pub async fn export(client: &Client, a: &ExportArgs) -> anyhow::Result<i32> {
    let q = vec![
        ("format", a.format.clone()),
        ("granularity", a.granularity.clone()),
    ];
    let path = format!("/api/usage/export{}", a.filters.query(q));
    let n = match &a.output {
        Some(file) => {
            let mut f = std::fs::File::create(file)
                .map_err(|e| anyhow::anyhow!("cannot create {}: {e}", file.display()))?;
            let n = client.download(&path, &mut f).await?;
            eprintln!("wrote {n} bytes to {}", file.display());
            n
        }
        None => client.download(&path, &mut std::io::stdout()).await?,
    };
    let _ = n;
    Ok(0)
}

pub async fn limits(client: &Client, a: &LimitsArgs) -> anyhow::Result<i32> {
    let path = match &a.profile {
        Some(p) => format!("/api/usage/limits?profile={}", encode(p)),
        None => "/api/usage/limits".to_string(),
    };
    let data = client.get(&path).await?;
    if a.json {
        print_json(&data)?;
        return Ok(0);
    }
    let empty = Vec::new();
    let mut rows = Vec::new();
    for p in data.as_array().unwrap_or(&empty) {
        for w in p["windows"].as_array().unwrap_or(&empty) {
            rows.push(vec![
                p["profile"].as_str().unwrap_or("-").to_string(),
                p["source"].as_str().unwrap_or("-").to_string(),
                w["window"].as_str().unwrap_or("-").to_string(),
                w["used_percentage"]
                    .as_f64()
                    .map_or("-".into(), |u| format!("{u:.1}%")),
                w["resets_in_secs"]
                    .as_i64()
                    .map_or("-".into(), crate::usage::statusline::left),
                w["status"].as_str().unwrap_or("-").to_string(),
                local(&p["observed_at"]),
            ]);
        }
    }
    if rows.is_empty() {
        println!(
            "No limits seen yet: they come from a proxied profile's responses, or from the status line of an agent that reports them (clown statusline)."
        );
        return Ok(0);
    }
    println!(
        "{}",
        render(
            &[
                "profile",
                "source",
                "window",
                "used",
                "resets in",
                "status",
                "observed"
            ],
            &rows
        )
    );
    Ok(0)
}
