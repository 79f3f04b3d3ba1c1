//! `clown terminal share ID [--ttl 1h] [--list] [--revoke SHARE|all]`: read-only links to
//! a terminal session.

use anyhow::bail;
use clap::Args;
use serde_json::json;

use super::table::{fields, print_json, print_list};
use super::{Client, encode};

#[derive(Debug, Args)]
pub struct ShareArgs {
    /// The session's id, or a unique prefix of it ('clown terminal list').
    pub id: String,
    /// How long the link lives: seconds, or a number with s, m, h or d (at most 7d).
    #[arg(long, default_value = "1h")]
    ttl: String,
    /// List the session's live links instead (never their tokens).
    #[arg(long, conflicts_with = "revoke")]
    list: bool,
    /// Revoke one link (its id from --list), or 'all' of the session's.
    #[arg(long, value_name = "SHARE_ID|all")]
    revoke: Option<String>,
    /// Print JSON instead.
    #[arg(long)]
    json: bool,
}

/// Seconds in `text`: `90`, `90s`, `30m`, `2h`, `1d`.
pub fn parse_ttl(text: &str) -> anyhow::Result<u64> {
    let t = text.trim();
    let (num, unit) = match t.find(|c: char| !c.is_ascii_digit()) {
        Some(i) => t.split_at(i),
        None => (t, "s"),
    };
    let scale = match unit {
        "s" => 1,
        "m" => 60,
        "h" => 3_600,
        "d" => 86_400,
        _ => bail!("--ttl '{text}': expected seconds or a number with s, m, h or d (e.g. 30m, 2h)"),
    };
    match num.parse::<u64>().ok().and_then(|n| n.checked_mul(scale)) {
        Some(n) if n > 0 => Ok(n),
        _ => bail!("--ttl '{text}': expected a positive number, e.g. 30m or 2h"),
    }
}

/// Runs the command for the session `id` (resolved already).
pub async fn run(client: &Client, id: &str, args: &ShareArgs) -> anyhow::Result<i32> {
    let base = format!("/api/terminal/sessions/{}/share", encode(id));
    if args.list {
        let data = client.get(&base).await?;
        print_list(
            &data,
            args.json,
            &["id", "created", "expires"],
            |l| fields(l, &["id", "created_at", "expires_at"]),
            "no live share link",
        )?;
        return Ok(0);
    }
    if let Some(which) = &args.revoke {
        let path = match which.as_str() {
            "all" => base,
            one => format!("{base}/{}", encode(one)),
        };
        let data = client.delete(&path).await?;
        if args.json {
            print_json(&data)?;
        } else {
            println!("revoked {} share link(s)", data["revoked"]);
        }
        return Ok(0);
    }
    let ttl = parse_ttl(&args.ttl)?;
    let data = client.post(&base, Some(json!({ "ttl_secs": ttl }))).await?;
    if args.json {
        print_json(&data)?;
        return Ok(0);
    }
    // The link alone on stdout (for scripts); what it is, on stderr.
    println!(
        "{}{}",
        client.base(),
        data["url"].as_str().unwrap_or_default()
    );
    eprintln!(
        "read-only link {} until {} (revoke with 'clown terminal share {} --revoke {}')",
        data["id"].as_str().unwrap_or_default(),
        data["expires_at"].as_str().unwrap_or_default(),
        id.get(..8).unwrap_or(id),
        data["id"].as_str().unwrap_or_default(),
    );
    Ok(0)
}

#[cfg(test)]
mod tests {
    #[test]
    fn ttls() {
        use super::parse_ttl;
        assert_eq!(parse_ttl("90").unwrap(), 90);
        assert_eq!(parse_ttl("90s").unwrap(), 90);
        assert_eq!(parse_ttl("30m").unwrap(), 1800);
        assert_eq!(parse_ttl("2h").unwrap(), 7200);
        assert_eq!(parse_ttl("7d").unwrap(), 604_800);
        for bad in ["", "0", "h", "2w", "-1", "1.5h"] {
            assert!(parse_ttl(bad).is_err(), "{bad}");
        }
    }
}
