//! `clown watch`: follows the daemon's events and says when a session needs you.
//!
//! It prints the sessions waiting now, then one line per attention change (and per
//! session started or ended), and raises a desktop notification for each session that
//! starts waiting — through `notify-send` (Linux) or `osascript` (macOS) when one is on
//! PATH — unless a client shows that session right now. A daemon that goes away (a
//! restart) is reconnected to.

use std::time::Duration;

use clap::Args;
use futures_util::StreamExt;
use serde_json::Value;
use tokio_tungstenite::tungstenite::Message;

use super::terminal::human_secs;
use super::{Cli, Client};

#[derive(Debug, Args)]
pub struct WatchArgs {
    /// Print each event as a JSON line instead.
    #[arg(long)]
    json: bool,
    /// No desktop notifications.
    #[arg(long)]
    no_desktop: bool,
}

pub async fn run(cli: &Cli, args: &WatchArgs) -> anyhow::Result<i32> {
    let desktop = if args.no_desktop {
        None
    } else {
        Desktop::find()
    };
    let mut delay = Duration::from_millis(250);
    let mut first = true;
    loop {
        let client = match Client::connect(cli).await {
            Ok(c) => c,
            Err(e) if first => return Err(e),
            Err(_) => {
                tokio::time::sleep(delay).await;
                delay = (delay * 2).min(Duration::from_secs(5));
                continue;
            }
        };
        if first && !args.json {
            let waiting = client.get("/api/terminal/sessions?waiting=true").await?;
            for s in waiting.as_array().map(Vec::as_slice).unwrap_or_default() {
                println!(
                    "{}  waiting {} ({})",
                    line(s, s["attention"].as_str().unwrap_or_default()),
                    s["waiting_secs"]
                        .as_i64()
                        .map(human_secs)
                        .unwrap_or_default(),
                    s["attention_message"].as_str().unwrap_or("")
                );
            }
            if desktop.is_none() && !args.no_desktop {
                eprintln!("(no notify-send or osascript on PATH: no desktop notifications)");
            }
        }
        first = false;
        let mut ws = match client.websocket("/ws/events").await {
            Ok(ws) => ws,
            Err(_) => continue,
        };
        delay = Duration::from_millis(250);
        while let Some(Ok(msg)) = ws.next().await {
            let Message::Text(text) = msg else {
                continue;
            };
            let ev: Value = serde_json::from_str(text.as_str()).unwrap_or(Value::Null);
            show(&ev, args.json, desktop.as_ref());
        }
        if !args.json {
            eprintln!("(the daemon went away; reconnecting)");
        }
    }
}

fn line(s: &Value, what: &str) -> String {
    let id = s["id"].as_str().unwrap_or_default();
    format!(
        "{}  {:<8}  {:<12}  {what}",
        jiff::Zoned::now().strftime("%H:%M:%S"),
        id.get(..8).unwrap_or(id),
        s["profile_alias"].as_str().unwrap_or_default()
    )
}

fn show(ev: &Value, json: bool, desktop: Option<&Desktop>) {
    let kind = ev["type"].as_str().unwrap_or_default();
    let d = &ev["data"];
    if !matches!(
        kind,
        "terminal_attention_changed" | "terminal_session_created" | "terminal_state_changed"
    ) {
        return;
    }
    if json {
        println!("{ev}");
    } else {
        let what = match kind {
            "terminal_session_created" => "started".to_string(),
            "terminal_state_changed" => format!("ended (exit code {})", d["exit_code"]),
            _ => {
                let message = d["message"]
                    .as_str()
                    .map(|m| format!("  {m}"))
                    .unwrap_or_default();
                format!(
                    "{} -> {}{message}",
                    d["previous"].as_str().unwrap_or("?"),
                    d["attention"].as_str().unwrap_or("?")
                )
            }
        };
        println!("{}", line(d, &what));
    }
    let waiting = ["needs_input", "turn_finished", "rate_limited", "errored"]
        .contains(&d["attention"].as_str().unwrap_or_default());
    if kind == "terminal_attention_changed"
        && waiting
        && d["looked_at"] != Value::Bool(true)
        && let Some(desktop) = desktop
    {
        let state = d["attention"]
            .as_str()
            .unwrap_or_default()
            .replace('_', " ");
        let title = format!(
            "clown: {} {state}",
            d["profile_alias"].as_str().unwrap_or_default()
        );
        let body = d["message"].as_str().unwrap_or("").to_string();
        desktop.notify(&title, &body);
    }
}

/// A desktop notification program.
enum Desktop {
    NotifySend(std::path::PathBuf),
    Osascript(std::path::PathBuf),
}

impl Desktop {
    fn find() -> Option<Self> {
        let path = std::env::var_os("PATH")?;
        let find = |name: &str| {
            std::env::split_paths(&path)
                .map(|d| d.join(name))
                .find(|p| p.is_file())
        };
        if cfg!(target_os = "macos") {
            find("osascript").map(Desktop::Osascript)
        } else {
            find("notify-send").map(Desktop::NotifySend)
        }
    }

    fn notify(&self, title: &str, body: &str) {
        let mut cmd = match self {
            Desktop::NotifySend(p) => {
                let mut c = std::process::Command::new(p);
                c.args(["--app-name=clown", title, body]);
                c
            }
            Desktop::Osascript(p) => {
                let quote = |s: &str| s.replace('\\', "\\\\").replace('"', "\\\"");
                let mut c = std::process::Command::new(p);
                c.args([
                    "-e",
                    &format!(
                        "display notification \"{}\" with title \"{}\"",
                        quote(body),
                        quote(title)
                    ),
                ]);
                c
            }
        };
        cmd.stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null());
        if let Ok(mut child) = cmd.spawn() {
            // Reaped on a thread: a stuck notifier never holds up the stream.
            std::thread::spawn(move || child.wait());
        }
    }
}
