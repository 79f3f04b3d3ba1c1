//! `clown proxy routes|route-add|route-remove` (routing by scenario),
//! `clown proxy keys|key-add|key-remove` (the key pool), `clown proxy requests` (the
//! request inspector, `-f` to follow it live) and `clown proxy set` (the inspector's and
//! the pool's settings). Clients of the HTTP API.

use std::io::{BufRead, IsTerminal, Write};

use anyhow::{Context, bail};
use clap::Subcommand;
use futures_util::StreamExt;
use hyper::Method;
use serde_json::{Value, json};
use tokio_tungstenite::tungstenite::Message;

use super::table::{cell, print_json, print_list, render};
use super::{Client, encode};

#[derive(Debug, Subcommand)]
pub enum PoolCommand {
    /// The profile's routing rules, in the order they are tried.
    Routes {
        /// The profile's alias.
        alias: String,
        /// Print JSON instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Add a routing rule (after the others; the first matching rule wins).
    RouteAdd {
        /// The profile's alias.
        alias: String,
        /// background, thinking, long_context, web_search or subagent.
        #[arg(long)]
        when: String,
        /// The provider to send these requests to (one of the profile's targets).
        #[arg(long)]
        provider: Option<String>,
        /// The model to send upstream.
        #[arg(long)]
        model: Option<String>,
        /// long_context: the estimated input tokens above which the rule matches.
        #[arg(long)]
        threshold: Option<u64>,
        /// subagent: the tag (<clown-route>TAG</clown-route>) to match.
        #[arg(long)]
        tag: Option<String>,
    },
    /// Remove routing rule N (from 1, as `clown proxy routes` numbers them).
    RouteRemove {
        /// The profile's alias.
        alias: String,
        /// The rule's number.
        number: usize,
    },
    /// The profile's key pool (hints only).
    Keys {
        /// The profile's alias.
        alias: String,
        /// Print JSON instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Add a key or subscription token to the pool; it is asked for without echo, or
    /// read from standard input.
    KeyAdd {
        /// The profile's alias.
        alias: String,
        /// The key's label in the pool (letters, digits, '.', '_', '-').
        label: String,
        /// key (default) or token (a subscription's OAuth token).
        #[arg(long)]
        kind: Option<String>,
        /// Lower first; the profile's own key is 0, fallbacks 100.
        #[arg(long, allow_negative_numbers = true)]
        priority: Option<i64>,
        /// Default: the profile's provider.
        #[arg(long)]
        provider: Option<String>,
        /// The provider's endpoint (default: its default one).
        #[arg(long)]
        endpoint: Option<String>,
        /// A base URL instead of the endpoint's.
        #[arg(long)]
        base_url: Option<String>,
        /// The model to send upstream through this key.
        #[arg(long)]
        model: Option<String>,
    },
    /// Remove a key from the pool.
    KeyRemove {
        /// The profile's alias.
        alias: String,
        /// The key's label.
        label: String,
    },
    /// Change the request inspector's and the key pool's settings (the others stay).
    Set {
        /// The profile's alias.
        alias: String,
        /// Requests the daemon keeps (0: none).
        #[arg(long)]
        keep: Option<usize>,
        /// Keep the request and response bodies too, redacted (true or false).
        #[arg(long)]
        capture_bodies: Option<bool>,
        /// Bytes kept of each body.
        #[arg(long)]
        body_limit: Option<usize>,
        /// Seconds a key cools down after a 429, 529 or 5xx naming no reset time.
        #[arg(long)]
        cooldown: Option<u64>,
        /// The window utilisation (0-1) over which a key gets no new conversation.
        #[arg(long)]
        skip_utilization: Option<f64>,
    },
    /// The proxy's last requests: routing decision, key, target, model, status, timings,
    /// tokens, error.
    Requests {
        /// The profile's alias.
        alias: String,
        /// Keep printing requests as they come.
        #[arg(short = 'f', long)]
        follow: bool,
        /// How many of the last requests.
        #[arg(short = 'n', long, default_value_t = 20)]
        lines: usize,
        /// Print JSON instead of a table.
        #[arg(long)]
        json: bool,
    },
}

pub async fn run(client: &Client, cmd: &PoolCommand) -> anyhow::Result<i32> {
    match cmd {
        PoolCommand::Routes { alias, json } => {
            let settings = settings(client, alias).await?;
            let rules = settings["routes"].clone();
            if *json {
                return print_json(&rules).map(|_| 0);
            }
            let list = rules.as_array().cloned().unwrap_or_default();
            if list.is_empty() {
                println!(
                    "no routing rules: every request takes the default route; add one with 'clown proxy route-add {alias} --when background --model …'"
                );
                return Ok(0);
            }
            let rows: Vec<Vec<String>> = list
                .iter()
                .enumerate()
                .map(|(i, r)| {
                    let detail = match (&r["threshold_tokens"], &r["tag"]) {
                        (Value::Number(n), _) => format!("> {n} tokens"),
                        (_, Value::String(t)) => format!("tag {t}"),
                        _ => "-".into(),
                    };
                    vec![
                        (i + 1).to_string(),
                        cell(&r["when"]),
                        detail,
                        cell(&r["provider_id"]),
                        cell(&r["model"]),
                    ]
                })
                .collect();
            println!(
                "{}",
                render(&["#", "when", "detail", "provider", "model"], &rows)
            );
        }
        PoolCommand::RouteAdd {
            alias,
            when,
            provider,
            model,
            threshold,
            tag,
        } => {
            let mut s = settings(client, alias).await?;
            let mut rule = json!({"when": when});
            for (k, v) in [("provider_id", provider), ("model", model), ("tag", tag)] {
                if let Some(v) = v {
                    rule[k] = json!(v);
                }
            }
            if let Some(t) = threshold {
                rule["threshold_tokens"] = json!(t);
            }
            push(&mut s, rule);
            put(client, alias, s).await?;
            println!("rule added to profile '{alias}'");
        }
        PoolCommand::RouteRemove { alias, number } => {
            let mut s = settings(client, alias).await?;
            let n = s["routes"].as_array().map_or(0, Vec::len);
            if *number == 0 || *number > n {
                bail!("profile '{alias}' has {n} routing rule(s); no rule {number}");
            }
            if let Some(a) = s["routes"].as_array_mut() {
                a.remove(number - 1);
            }
            put(client, alias, s).await?;
            println!("rule {number} removed from profile '{alias}'");
        }
        PoolCommand::Keys { alias, json } => {
            let data = client
                .get(&format!("/api/profiles/{}/keys", encode(alias)))
                .await?;
            print_list(
                &data,
                *json,
                &[
                    "label", "kind", "priority", "key", "provider", "model", "base url",
                ],
                |k| {
                    [
                        "label",
                        "kind",
                        "priority",
                        "hint",
                        "provider_id",
                        "model",
                        "base_url",
                    ]
                    .iter()
                    .map(|f| cell(&k[*f]))
                    .collect()
                },
                &format!("no pool keys; add one with 'clown proxy key-add {alias} LABEL'"),
            )?;
        }
        PoolCommand::KeyAdd {
            alias,
            label,
            kind,
            priority,
            provider,
            endpoint,
            base_url,
            model,
        } => {
            let secret = read_secret(kind.as_deref() == Some("token"))?;
            let mut body = json!({"label": label, "secret": secret});
            for (k, v) in [
                ("kind", kind),
                ("provider_id", provider),
                ("endpoint_id", endpoint),
                ("base_url", base_url),
                ("model", model),
            ] {
                if let Some(v) = v {
                    body[k] = json!(v);
                }
            }
            if let Some(p) = priority {
                body["priority"] = json!(p);
            }
            let k = client
                .post(&format!("/api/profiles/{}/keys", encode(alias)), Some(body))
                .await?;
            println!(
                "key '{}' ({}) added to the pool of '{alias}'",
                cell(&k["label"]),
                cell(&k["hint"])
            );
        }
        PoolCommand::KeyRemove { alias, label } => {
            client
                .delete(&format!(
                    "/api/profiles/{}/keys/{}",
                    encode(alias),
                    encode(label)
                ))
                .await?;
            println!("key '{label}' removed from the pool of '{alias}'");
        }
        PoolCommand::Set {
            alias,
            keep,
            capture_bodies,
            body_limit,
            cooldown,
            skip_utilization,
        } => {
            let mut s = settings(client, alias).await?;
            let mut set = |section: &str, key: &str, v: Option<Value>| {
                if let Some(v) = v {
                    if !s[section].is_object() {
                        s[section] = json!({});
                    }
                    s[section][key] = v;
                }
            };
            set("inspector", "keep", keep.map(|v| json!(v)));
            set(
                "inspector",
                "capture_bodies",
                capture_bodies.map(|v| json!(v)),
            );
            set("inspector", "body_limit", body_limit.map(|v| json!(v)));
            set("pool", "cooldown_secs", cooldown.map(|v| json!(v)));
            set(
                "pool",
                "skip_utilization",
                skip_utilization.map(|v| json!(v)),
            );
            let out = put(client, alias, s).await?;
            println!(
                "inspector: {}\npool: {}",
                out["settings"]["inspector"], out["settings"]["pool"]
            );
        }
        PoolCommand::Requests {
            alias,
            follow,
            lines,
            json,
        } => return requests(client, alias, *follow, *lines, *json).await,
    }
    Ok(0)
}

async fn settings(client: &Client, alias: &str) -> anyhow::Result<Value> {
    let profile = client
        .get(&format!("/api/profiles/{}", encode(alias)))
        .await?;
    let mut s = profile["proxy"].clone();
    if !s.is_object() {
        s = json!({});
    }
    Ok(s)
}

fn push(settings: &mut Value, rule: Value) {
    match settings["routes"].as_array_mut() {
        Some(a) => a.push(rule),
        None => settings["routes"] = json!([rule]),
    }
}

async fn put(client: &Client, alias: &str, settings: Value) -> anyhow::Result<Value> {
    client
        .call(
            Method::PUT,
            &format!("/api/profiles/{}/proxy", encode(alias)),
            Some(settings),
        )
        .await
}

fn read_secret(token: bool) -> anyhow::Result<String> {
    let stdin = std::io::stdin();
    let line = if stdin.is_terminal() {
        eprint!(
            "{} (input hidden): ",
            if token {
                "Subscription token"
            } else {
                "API key"
            }
        );
        std::io::stderr().flush().ok();
        let l = super::profiles::read_hidden_line()?;
        eprintln!();
        l
    } else {
        let mut l = String::new();
        stdin
            .lock()
            .read_line(&mut l)
            .context("cannot read the key from stdin")?;
        l
    };
    let key = line.trim().to_string();
    if key.is_empty() {
        bail!("no key given (type it, or pipe it on standard input)");
    }
    Ok(key)
}

const HEADINGS: &[&str] = &[
    "id", "time", "route", "key", "target", "model", "status", "ttfb", "duration", "in", "out",
    "tok/s", "error",
];

fn row(r: &Value) -> Vec<String> {
    let ms = |v: &Value| v.as_f64().map_or("-".into(), |x| format!("{x:.0} ms"));
    let time = r["at_ms"]
        .as_i64()
        .and_then(|t| jiff::Timestamp::from_millisecond(t).ok())
        .map_or("-".into(), |t| {
            t.to_zoned(jiff::tz::TimeZone::system())
                .strftime("%H:%M:%S")
                .to_string()
        });
    let route = match (&r["route"], r["sticky"].as_bool()) {
        (Value::String(s), Some(true)) => format!("{s} (sticky)"),
        (v, _) => cell(v),
    };
    let key = match (&r["key"], &r["key_hint"]) {
        (Value::String(k), Value::String(h)) => format!("{k} {h}"),
        (k, _) => cell(k),
    };
    // An API error's message (Anthropic's and OpenAI's shapes), else the text as it is.
    let text = r["error"].as_str().unwrap_or("-");
    let message = serde_json::from_str::<Value>(text)
        .ok()
        .and_then(|v| v["error"]["message"].as_str().map(str::to_string))
        .unwrap_or_else(|| text.to_string());
    let mut error: String = message.chars().take(120).collect();
    if let Some(n) = r["attempts"].as_array().map(Vec::len).filter(|n| *n > 0) {
        error = format!("[{n} failed before] {error}");
    }
    vec![
        cell(&r["id"]),
        time,
        route,
        key,
        cell(&r["target"]),
        cell(&r["model"]),
        cell(&r["status"]),
        ms(&r["ttfb_ms"]),
        ms(&r["duration_ms"]),
        cell(&r["input_tokens"]),
        cell(&r["output_tokens"]),
        r["tokens_per_sec"]
            .as_f64()
            .map_or("-".into(), |x| format!("{x:.1}")),
        error.replace('\n', " "),
    ]
}

async fn requests(
    client: &Client,
    alias: &str,
    follow: bool,
    lines: usize,
    json: bool,
) -> anyhow::Result<i32> {
    // Subscribed before the first read, so nothing falls between the two.
    let mut events = None;
    if follow {
        events = Some(client.websocket("/ws/events").await?);
    }
    let data = client
        .get(&format!(
            "/api/proxy/{}/requests?limit={}",
            encode(alias),
            lines.max(1)
        ))
        .await?;
    let list = data["requests"].as_array().cloned().unwrap_or_default();
    let mut last = list
        .iter()
        .filter_map(|r| r["id"].as_u64())
        .max()
        .unwrap_or(0);
    if json {
        for r in &list {
            println!("{r}");
        }
    } else if list.is_empty() && !follow {
        println!("no requests through the proxy of '{alias}' yet");
    } else {
        let rows: Vec<Vec<String>> = list.iter().map(row).collect();
        println!("{}", render(HEADINGS, &rows));
    }
    let Some(ws) = events.as_mut() else {
        return Ok(0);
    };
    std::io::stdout().flush().ok();
    while let Some(frame) = ws.next().await {
        let Message::Text(text) = frame.context("the event stream broke")? else {
            continue;
        };
        let Ok(ev) = serde_json::from_str::<Value>(text.as_str()) else {
            continue;
        };
        if ev["type"] != "proxy_requests" || ev["data"]["profile"] != alias {
            continue;
        }
        if let Some(n) = ev["data"]["skipped"].as_u64().filter(|n| *n > 0 && !json) {
            println!("… {n} more request(s) not shown");
        }
        for r in ev["data"]["requests"].as_array().into_iter().flatten() {
            let id = r["id"].as_u64().unwrap_or(0);
            if id <= last {
                continue;
            }
            last = id;
            if json {
                println!("{r}");
            } else {
                println!("{}", row(r).join("  "));
            }
        }
        std::io::stdout().flush().ok();
    }
    Ok(0)
}
