//! `clown status`: the daemon's status, readable or `--json`.

use clap::Args;
use serde_json::Value;

use super::{Cli, Client};

#[derive(Debug, Args)]
pub struct StatusArgs {
    /// Print the raw JSON data.
    #[arg(long)]
    json: bool,
}

pub async fn run(cli: &Cli, args: &StatusArgs) -> anyhow::Result<i32> {
    let client = Client::connect(cli).await?;
    let s = client.get("/api/daemon/status").await?;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&s)?);
        return Ok(0);
    }
    let field = |k: &str| s.get(k).cloned().unwrap_or(Value::Null);
    let listen: Vec<String> = field("listen")
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|v| v.as_str().map(String::from))
                .collect()
        })
        .unwrap_or_default();
    println!(
        "clown {} {} (pid {}, up {}s, activation {})",
        field("version").as_str().unwrap_or("?"),
        field("status").as_str().unwrap_or("?"),
        field("pid"),
        field("uptime_secs"),
        field("activation").as_str().unwrap_or("?"),
    );
    println!("listening on  {}", listen.join(", "));
    println!("profiles      {}", field("profiles_count"));
    println!("proxies       {} running", field("active_proxies"));
    Ok(0)
}
