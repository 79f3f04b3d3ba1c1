//! `clown service install|uninstall`: the user service for this very binary, for those
//! who build clown from a checkout (the packages bring their own units).
//!
//! On Linux it writes `clown.socket` and `clown.service` into
//! `$XDG_CONFIG_HOME/systemd/user/` (the packaged units with `ExecStart=` pointing at the
//! running binary and the socket listening where the configuration says), then runs
//! `systemctl --user daemon-reload` and `enable --now clown.socket`. On macOS it writes
//! the LaunchAgent `~/Library/LaunchAgents/com.clown.daemon.plist` and bootstraps it.
//! Each file carries a first-line marker, and `uninstall` removes only files with it.

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, bail};
use clap::{Args, Subcommand};

use super::Cli;
use crate::config::{Config, DEFAULT_LISTEN};
use crate::paths::{Paths, process_env};

const SOCKET_UNIT: &str = include_str!("../../systemd/clown.socket");
const SERVICE_UNIT: &str = include_str!("../../systemd/clown.service");
const PLIST: &str = include_str!("../../launchd/com.clown.daemon.plist");
const MARKER: &str = "Written by 'clown service install'";
const LABEL: &str = "com.clown.daemon";

#[derive(Debug, Args)]
pub struct ServiceArgs {
    #[command(subcommand)]
    command: ServiceCommand,
}

#[derive(Debug, Subcommand)]
enum ServiceCommand {
    /// Write the user units (macOS: the LaunchAgent) for this clown binary and enable the socket.
    Install {
        /// Only write the files; print the systemctl/launchctl commands instead of running them.
        #[arg(long)]
        write_only: bool,
    },
    /// Stop and disable the user service and remove the files 'service install' wrote.
    Uninstall {
        /// Only remove the files; print the systemctl/launchctl commands instead of running them.
        #[arg(long)]
        write_only: bool,
    },
}

/// Where the service files of this user go.
pub fn unit_dir(paths: &Paths, env: &crate::paths::Env) -> PathBuf {
    if cfg!(target_os = "macos") {
        return paths.home.join("Library/LaunchAgents");
    }
    env.get("XDG_CONFIG_HOME")
        .map(PathBuf::from)
        .filter(|p| p.is_absolute())
        .unwrap_or_else(|| paths.home.join(".config"))
        .join("systemd/user")
}

/// The files `install` writes, with their contents.
fn files(exe: &Path, paths: &Paths, config: &Config, dir: &Path) -> Vec<(PathBuf, String)> {
    let header = format!(
        "# {MARKER} for {}; 'clown service uninstall' removes it.\n",
        exe.display()
    );
    if cfg!(target_os = "macos") {
        let text = plist(exe, &paths.daemon_log(), config);
        return vec![(dir.join(format!("{LABEL}.plist")), text)];
    }
    vec![
        (
            dir.join("clown.socket"),
            header.clone() + &socket_unit(config),
        ),
        (dir.join("clown.service"), header + &service_unit(exe)),
    ]
}

/// The packaged socket unit, listening on the configured addresses.
pub fn socket_unit(config: &Config) -> String {
    let listen: Vec<String> = if config.listen.is_empty() {
        vec![DEFAULT_LISTEN.to_string()]
    } else {
        config.listen.clone()
    };
    let mut out = String::new();
    for line in SOCKET_UNIT.lines() {
        if line.starts_with("ListenStream=") && !line.contains("%S") {
            for addr in &listen {
                out.push_str(&format!("ListenStream={addr}\n"));
            }
        } else {
            out.push_str(line);
            out.push('\n');
        }
    }
    out
}

/// The packaged service unit, starting `exe`.
pub fn service_unit(exe: &Path) -> String {
    SERVICE_UNIT
        .lines()
        .map(|line| match line.strip_prefix("ExecStart=") {
            Some(_) => format!(
                "ExecStart={} daemon\n",
                systemd_quote(&exe.display().to_string())
            ),
            None => format!("{line}\n"),
        })
        .collect()
}

/// A path as one word of a systemd command line: specifiers and variables escaped,
/// quoted when it holds spaces or quotes.
fn systemd_quote(s: &str) -> String {
    let escaped = s.replace('%', "%%").replace('$', "$$");
    if escaped
        .chars()
        .any(|c| c.is_whitespace() || c == '"' || c == '\'' || c == '\\')
    {
        format!("\"{}\"", escaped.replace('\\', "\\\\").replace('"', "\\\""))
    } else {
        escaped
    }
}

fn xml_escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

/// The LaunchAgent for `exe`, logging to `log`, listening on the first configured address.
pub fn plist(exe: &Path, log: &Path, config: &Config) -> String {
    let listen = config.listen.first().map_or(DEFAULT_LISTEN, String::as_str);
    let (host, port) = listen.rsplit_once(':').unwrap_or(("127.0.0.1", "8765"));
    let host = host.trim_start_matches('[').trim_end_matches(']');
    PLIST
        .replace(
            "<plist version",
            &format!("<!-- {MARKER}; 'clown service uninstall' removes it. -->\n<plist version"),
        )
        .replace(
            "/usr/local/bin/clown",
            &xml_escape(&exe.display().to_string()),
        )
        .replace(
            "/tmp/clown.daemon.log",
            &xml_escape(&log.display().to_string()),
        )
        .replace(
            "<string>127.0.0.1</string>",
            &format!("<string>{}</string>", xml_escape(host)),
        )
        .replace(
            "<string>8765</string>",
            &format!("<string>{}</string>", xml_escape(port)),
        )
}

pub fn run(cli: &Cli, args: &ServiceArgs) -> anyhow::Result<i32> {
    let env = process_env();
    let paths = Paths::from_env(&env)?;
    let dir = unit_dir(&paths, &env);
    match args.command {
        ServiceCommand::Install { write_only } => install(cli, &paths, &env, &dir, write_only),
        ServiceCommand::Uninstall { write_only } => uninstall(&dir, write_only),
    }
}

fn install(
    cli: &Cli,
    paths: &Paths,
    env: &crate::paths::Env,
    dir: &Path,
    write_only: bool,
) -> anyhow::Result<i32> {
    let exe = std::env::current_exe()
        .and_then(std::fs::canonicalize)
        .context("cannot find the clown executable")?;
    let config_path = cli
        .config
        .clone()
        .unwrap_or_else(|| paths.config_file.clone());
    let mut config = Config::from_file(&config_path)?;
    config.apply_env(env);
    std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    for (path, text) in files(&exe, paths, &config, dir) {
        std::fs::write(&path, text).with_context(|| format!("cannot write {}", path.display()))?;
        println!("wrote {}", path.display());
    }
    if exe.components().any(|c| c.as_os_str() == "target") {
        eprintln!(
            "note: {} is inside a build directory; 'cargo install --locked --path .' puts a \
             copy in ~/.cargo/bin that a rebuild or 'cargo clean' does not touch (then run \
             'clown service install' from there)",
            exe.display()
        );
    }
    let packaged = Path::new("/usr/lib/systemd/user/clown.socket");
    if !cfg!(target_os = "macos") && packaged.exists() {
        eprintln!(
            "note: the clown package's units are in {}; the ones just written take precedence for you",
            packaged
                .parent()
                .map(Path::display)
                .map(|d| d.to_string())
                .unwrap_or_default()
        );
    }
    let steps = install_steps(&dir.join(format!("{LABEL}.plist")));
    run_steps(&steps, write_only, "the service is not enabled")?;
    if !write_only {
        if cfg!(target_os = "macos") {
            println!(
                "launchd listens on {} and starts the daemon on the first connection",
                listen_of(&config)
            );
        } else {
            println!(
                "systemd listens on {} and starts the daemon on the first connection; \
                 a running clown.service keeps its binary until 'systemctl --user restart clown'",
                listen_of(&config)
            );
        }
    }
    Ok(0)
}

fn listen_of(config: &Config) -> String {
    if config.listen.is_empty() {
        DEFAULT_LISTEN.to_string()
    } else {
        config.listen.join(", ")
    }
}

fn uid() -> u32 {
    nix::unistd::getuid().as_raw()
}

fn install_steps(plist: &Path) -> Vec<Vec<String>> {
    let s = |v: &[&str]| v.iter().map(|x| x.to_string()).collect::<Vec<_>>();
    if cfg!(target_os = "macos") {
        vec![s(&[
            "launchctl",
            "bootstrap",
            &format!("gui/{}", uid()),
            &plist.display().to_string(),
        ])]
    } else {
        vec![
            s(&["systemctl", "--user", "daemon-reload"]),
            s(&["systemctl", "--user", "enable", "--now", "clown.socket"]),
        ]
    }
}

/// Runs each step (or, with `print_only`, prints it); a failing step stops with its
/// output and what to do.
fn run_steps(steps: &[Vec<String>], print_only: bool, consequence: &str) -> anyhow::Result<()> {
    if print_only {
        println!("then run:");
        for step in steps {
            println!("  {}", step.join(" "));
        }
        return Ok(());
    }
    for step in steps {
        let shown = step.join(" ");
        let out = Command::new(&step[0]).args(&step[1..]).output();
        match out {
            Ok(out) if out.status.success() => println!("ran {shown}"),
            Ok(out) => bail!(
                "'{shown}' failed ({}): {}; {consequence}. Is a user service manager running \
                 for you (a login session, or 'loginctl enable-linger')? Fix that and run \
                 this command again, or run 'clown daemon' yourself (any clown command also \
                 starts it)",
                out.status,
                String::from_utf8_lossy(&out.stderr).trim()
            ),
            Err(e) => bail!(
                "cannot run '{}': {e}; {consequence}. Without a service manager, run \
                 'clown daemon' yourself (any clown command also starts it)",
                step[0]
            ),
        }
    }
    Ok(())
}

fn uninstall(dir: &Path, write_only: bool) -> anyhow::Result<i32> {
    let names: &[&str] = if cfg!(target_os = "macos") {
        &["com.clown.daemon.plist"]
    } else {
        &["clown.socket", "clown.service"]
    };
    let ours: Vec<PathBuf> = names
        .iter()
        .map(|n| dir.join(n))
        .filter(|p| std::fs::read_to_string(p).is_ok_and(|t| t.contains(MARKER)))
        .collect();
    let others: Vec<PathBuf> = names
        .iter()
        .map(|n| dir.join(n))
        .filter(|p| p.exists() && !ours.contains(p))
        .collect();
    for p in &others {
        eprintln!(
            "note: {} was not written by 'clown service install'; left alone",
            p.display()
        );
    }
    if ours.is_empty() {
        println!(
            "nothing to remove: no unit written by 'clown service install' in {}",
            dir.display()
        );
        return Ok(0);
    }
    let s = |v: &[&str]| v.iter().map(|x| x.to_string()).collect::<Vec<_>>();
    let stop = if cfg!(target_os = "macos") {
        vec![s(&[
            "launchctl",
            "bootout",
            &format!("gui/{}/{LABEL}", uid()),
        ])]
    } else {
        vec![s(&[
            "systemctl",
            "--user",
            "disable",
            "--now",
            "clown.socket",
            "clown.service",
        ])]
    };
    // Stopping may fail where nothing runs; the files go either way.
    if let Err(e) = run_steps(&stop, write_only, "the files are removed anyway") {
        eprintln!("warning: {}", super::error_report(&e));
    }
    for p in &ours {
        std::fs::remove_file(p).with_context(|| format!("cannot remove {}", p.display()))?;
        println!("removed {}", p.display());
    }
    if !cfg!(target_os = "macos") {
        let reload = vec![s(&["systemctl", "--user", "daemon-reload"])];
        if let Err(e) = run_steps(
            &reload,
            write_only,
            "systemd may list the units until its next reload",
        ) {
            eprintln!("warning: {}", super::error_report(&e));
        }
    }
    Ok(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn units_point_at_the_binary_and_the_configured_addresses() {
        let service = service_unit(Path::new("/opt/my clown/bin/clown"));
        assert!(
            service.contains("ExecStart=\"/opt/my clown/bin/clown\" daemon\n"),
            "{service}"
        );
        assert!(service.contains("LimitNOFILE=65536"));
        assert!(service.contains("Type=notify"));
        assert_eq!(systemd_quote("/a/100%/b$x"), "/a/100%%/b$$x");

        let config = Config {
            listen: vec!["127.0.0.1:9000".into(), "[::1]:9000".into()],
            ..Config::default()
        };
        let socket = socket_unit(&config);
        assert!(
            socket.contains("ListenStream=127.0.0.1:9000\nListenStream=[::1]:9000\n"),
            "{socket}"
        );
        assert!(
            socket.contains("ListenStream=%S/clown/clown.sock"),
            "{socket}"
        );
        assert!(!socket.contains("8765"));
        assert!(socket_unit(&Config::default()).contains("ListenStream=127.0.0.1:8765\n"));

        let p = plist(
            Path::new("/Users/a/bin/clown"),
            Path::new("/Users/a/log"),
            &config,
        );
        assert!(p.contains("<string>/Users/a/bin/clown</string>"), "{p}");
        assert!(p.contains("<string>9000</string>") && p.contains("<string>/Users/a/log</string>"));
        assert!(p.starts_with("<?xml"), "the declaration stays first");
    }
}
