//! `clown doctor`: checks the installation from the client's side (this binary and the
//! one on PATH, the service units, the daemon's socket and token, agents on this PATH
//! that the daemon does not see), then asks the daemon for its own checks
//! (`GET /api/daemon/doctor`) and prints them all, each wrong one with the command that
//! fixes it. Exits 1 when a check fails.

use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};

use clap::Args;
use serde_json::{Value, json};

use super::{Cli, Client};
use crate::agents::detect::find_binary;
use crate::paths::{Paths, process_env};

#[derive(Debug, Args)]
pub struct DoctorArgs {
    /// Print the checks as JSON.
    #[arg(long)]
    json: bool,
}

fn check(name: &str, status: &str, detail: impl Into<String>, fix: Option<String>) -> Value {
    let mut c = json!({"name": name, "status": status, "detail": detail.into()});
    if let Some(fix) = fix {
        c["fix"] = json!(fix);
    }
    c
}

pub async fn run(cli: &Cli, args: &DoctorArgs) -> anyhow::Result<i32> {
    let env = process_env();
    let paths = Paths::from_env(&env)?;
    let path_var = env.get("PATH").cloned().unwrap_or_default();
    let dirs: Vec<PathBuf> = std::env::split_paths(&path_var)
        .filter(|d| d.is_absolute())
        .collect();
    let mut checks = vec![binary_check(&dirs)];
    let mut search_dirs = Value::Null;
    checks.extend(unit_checks(&paths, &env));
    match Client::connect(cli).await {
        Err(e) => {
            checks.push(check(
                "daemon",
                "fail",
                super::error_report(&e),
                Some("clown daemon (in a terminal, to see why it stops), or systemctl --user status clown".into()),
            ));
        }
        Ok(client) => {
            checks.push(socket_check(&paths));
            checks.push(token_check(&paths));
            let status = client.get("/api/daemon/status").await?;
            checks.push(daemon_check(&status, client.base()));
            let report = client.get("/api/daemon/doctor").await?;
            search_dirs = report["search_dirs"].clone();
            let daemon_checks = report["checks"].as_array().cloned().unwrap_or_default();
            checks.extend(path_checks(&daemon_checks, &client, &dirs, &report).await);
            checks.extend(daemon_checks);
        }
    }
    let failed = checks.iter().filter(|c| c["status"] == "fail").count();
    let warned = checks.iter().filter(|c| c["status"] == "warn").count();
    if args.json {
        println!(
            "{}",
            serde_json::to_string_pretty(&json!({"checks": checks, "search_dirs": search_dirs}))?
        );
    } else {
        print(&checks);
        if let Some(dirs) = search_dirs.as_array().filter(|d| !d.is_empty()) {
            println!("\nthe daemon looks for agents in, in order:");
            for d in dirs {
                println!(
                    "  {}  ({})",
                    d["dir"].as_str().unwrap_or("?"),
                    d["source"].as_str().unwrap_or("?").replace('_', " ")
                );
            }
        }
        match (failed, warned) {
            (0, 0) => println!("\nno problems found"),
            (f, w) => {
                println!("\n{f} problem(s), {w} warning(s): each 'fix:' line says what to do")
            }
        }
    }
    Ok(if failed > 0 { 1 } else { 0 })
}

fn print(checks: &[Value]) {
    let width = checks
        .iter()
        .filter_map(|c| c["name"].as_str())
        .map(str::len)
        .max()
        .unwrap_or(0);
    for c in checks {
        let status = c["status"].as_str().unwrap_or("?");
        let label = if status == "fail" {
            "FAIL".to_string()
        } else {
            status.to_string()
        };
        println!(
            "{label:<5} {:<width$}  {}",
            c["name"].as_str().unwrap_or(""),
            c["detail"].as_str().unwrap_or("")
        );
        if let Some(fix) = c["fix"].as_str().filter(|_| status != "ok") {
            println!("{:<5} {:<width$}  fix: {fix}", "", "");
        }
    }
}

/// This binary, and whether `clown` on PATH is the same one.
fn binary_check(dirs: &[PathBuf]) -> Value {
    let me = std::env::current_exe().and_then(std::fs::canonicalize).ok();
    let version = env!("CARGO_PKG_VERSION");
    let shown = me
        .as_ref()
        .map_or("?".to_string(), |p| p.display().to_string());
    let on_path = find_binary("clown", dirs);
    let install = "from a checkout: cargo install --locked --path . (puts clown in ~/.cargo/bin); \
                   or install the .deb/.rpm/Homebrew package"
        .to_string();
    match on_path {
        None => check(
            "clown binary",
            "warn",
            format!("{shown} ({version}); no 'clown' on PATH"),
            Some(install),
        ),
        Some(p) if std::fs::canonicalize(&p).ok() == me => check(
            "clown binary",
            "ok",
            format!("{shown} ({version}), the one on PATH"),
            None,
        ),
        Some(p) => check(
            "clown binary",
            "warn",
            format!(
                "running {shown} ({version}), but 'clown' on PATH is {}",
                p.display()
            ),
            Some(format!("use one: {install}")),
        ),
    }
}

/// The user units (or LaunchAgent): where, and whether they start a binary that exists.
fn unit_checks(paths: &Paths, env: &crate::paths::Env) -> Vec<Value> {
    let user_dir = super::service::unit_dir(paths, env);
    let candidates: Vec<PathBuf> = if cfg!(target_os = "macos") {
        vec![
            user_dir.join("com.clown.daemon.plist"),
            user_dir.join("homebrew.mxcl.clown.plist"),
        ]
    } else {
        vec![
            user_dir.join("clown.service"),
            PathBuf::from("/etc/systemd/user/clown.service"),
            PathBuf::from("/usr/lib/systemd/user/clown.service"),
        ]
    };
    let Some(unit) = candidates.iter().find(|p| p.is_file()) else {
        return vec![check(
            "service",
            "info",
            "no user service installed: the daemon runs when a clown command starts it, until it is stopped or the machine restarts",
            Some(
                "clown service install (systemd user units, or the launchd agent on macOS)".into(),
            ),
        )];
    };
    let text = std::fs::read_to_string(unit).unwrap_or_default();
    let program = if cfg!(target_os = "macos") {
        text.split("<string>")
            .nth(2)
            .and_then(|s| s.split("</string>").next())
            .map(String::from)
    } else {
        text.lines()
            .find_map(|l| l.strip_prefix("ExecStart="))
            .and_then(|cmd| cmd.trim_start_matches('"').split([' ', '"']).next())
            .map(|s| s.replace("%%", "%"))
    };
    let mut out = Vec::new();
    match program {
        Some(p) if Path::new(&p).is_file() => out.push(check(
            "service",
            "ok",
            format!("{} starts {p}", unit.display()),
            None,
        )),
        other => out.push(check(
            "service",
            "fail",
            format!(
                "{} starts {}, which does not exist: the first connection fails",
                unit.display(),
                other.unwrap_or_else(|| "nothing".into())
            ),
            Some("clown service install (rewrites the units for this binary)".into()),
        )),
    }
    if !cfg!(target_os = "macos") {
        out.push(systemd_state());
    }
    out
}

/// `systemctl --user is-enabled/is-active clown.socket`, where a user manager answers.
fn systemd_state() -> Value {
    let ask = |what: &str| {
        std::process::Command::new("systemctl")
            .args(["--user", what, "clown.socket"])
            .stdin(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .output()
            .ok()
            .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
            .filter(|s| !s.is_empty())
    };
    match (ask("is-enabled"), ask("is-active")) {
        (Some(enabled), Some(active)) => {
            let good = active == "active";
            check(
                "clown.socket",
                if good { "ok" } else { "warn" },
                format!("{enabled}, {active}"),
                (!good).then(|| "systemctl --user enable --now clown.socket".to_string()),
            )
        }
        _ => check(
            "clown.socket",
            "info",
            "no user service manager answered (no login session, or no systemd)",
            Some("log in normally, or 'loginctl enable-linger $USER' to keep it running".into()),
        ),
    }
}

/// The daemon's Unix socket: the CLI's private way in (under systemd, the socket unit's).
fn socket_check(paths: &Paths) -> Value {
    let sock = paths.socket_file();
    match std::os::unix::net::UnixStream::connect(&sock) {
        Ok(_) => check("socket", "ok", format!("{} answers", sock.display()), None),
        Err(e) => check(
            "socket",
            "warn",
            format!(
                "{}: {e}; the CLI goes over TCP, after checking that this user owns the listener",
                sock.display()
            ),
            Some("restart the daemon (it binds the socket at start), or 'clown service install' for systemd's".into()),
        ),
    }
}

fn token_check(paths: &Paths) -> Value {
    let file = paths.token_file();
    match std::fs::metadata(&file) {
        Ok(m)
            if m.permissions().mode() & 0o077 == 0
                && m.uid() == nix::unistd::geteuid().as_raw() =>
        {
            check(
                "token",
                "ok",
                format!("{} (mode 0600, yours)", file.display()),
                None,
            )
        }
        Ok(m) => check(
            "token",
            "fail",
            format!(
                "{} has mode {:o}: others may read it",
                file.display(),
                m.permissions().mode() & 0o777
            ),
            Some(format!("chmod 600 {}", file.display())),
        ),
        Err(e) => check("token", "fail", format!("{}: {e}", file.display()), None),
    }
}

fn daemon_check(status: &Value, base: &str) -> Value {
    let version = status["version"].as_str().unwrap_or("?");
    let detail = format!(
        "{version} at {base}, pid {}, {} activation, up {}s",
        status["pid"],
        status["activation"].as_str().unwrap_or("?"),
        status["uptime_secs"]
    );
    if version == env!("CARGO_PKG_VERSION") {
        check("daemon", "ok", detail, None)
    } else {
        check(
            "daemon",
            "warn",
            format!("{detail}; this clown is {}", env!("CARGO_PKG_VERSION")),
            Some("restart the daemon: systemctl --user restart clown (or kill its pid; any clown command starts it again)".into()),
        )
    }
}

/// Agents this shell finds that the daemon does not: the same command would work in
/// `clown profiles run` and not in a terminal session opened from the web UI.
async fn path_checks(
    daemon: &[Value],
    client: &Client,
    dirs: &[PathBuf],
    report: &Value,
) -> Vec<Value> {
    let config_file = report["config_file"].as_str().unwrap_or("the config file");
    let mut out = Vec::new();
    for c in daemon {
        let missing = c["name"].as_str().and_then(|n| n.strip_prefix("agent "));
        let Some(id) = missing.filter(|_| c["status"] == "fail" || c["status"] == "info") else {
            continue;
        };
        let Ok(agent) = client
            .get(&format!("/api/agents/{}", super::encode(id)))
            .await
        else {
            continue;
        };
        let Some(found) = agent["binary"].as_str().and_then(|b| find_binary(b, dirs)) else {
            continue;
        };
        let dir = found
            .parent()
            .map(|d| d.display().to_string())
            .unwrap_or_default();
        out.push(check(
            &format!("PATH {id}"),
            "warn",
            format!("{} is on your PATH but not where the daemon looks", found.display()),
            Some(format!(
                "add \"{dir}\" to agents.extra_paths in {config_file} and run 'systemctl --user reload clown' \
                 ('clown terminal new' passes your PATH, the web UI cannot)"
            )),
        ));
    }
    out
}
