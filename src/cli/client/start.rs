//! Starting the daemon when nothing answers: through the service manager's socket unit
//! when it has one for the address, else as a detached `clown daemon`.

use super::*;

impl Client {
    /// Starts the daemon and waits until it answers: through the service manager when it
    /// has a socket unit for our address, else as a detached `clown daemon`.
    pub(super) async fn start_daemon(&self, cli: &Cli) -> anyhow::Result<()> {
        let addr = self
            .base
            .trim_start_matches("http://")
            .trim_end_matches('/')
            .to_string();
        if socket_unit_listens_on(&addr).await {
            return self.start_socket_unit().await;
        }
        self.spawn_daemon(cli, &addr).await
    }

    /// `systemctl --user start clown.socket`; the first request (ours, over TCP: the unit
    /// has only the TCP socket) then starts clown.service.
    async fn start_socket_unit(&self) -> anyhow::Result<()> {
        let out = systemctl(&["start", SOCKET_UNIT]).await?;
        if !out.status.success() {
            bail!(
                "'systemctl --user start {SOCKET_UNIT}' failed: {}\nsee 'systemctl --user status {SOCKET_UNIT}'",
                String::from_utf8_lossy(&out.stderr).trim()
            );
        }
        eprintln!("started {SOCKET_UNIT} (systemctl --user start {SOCKET_UNIT})");
        self.wait_until_answering("'journalctl --user -u clown'", || Ok(()))
            .await
    }

    /// Starts `clown daemon` detached, logging to the state directory, and waits until
    /// it answers.
    async fn spawn_daemon(&self, cli: &Cli, addr: &str) -> anyhow::Result<()> {
        let exe = std::env::current_exe().context("cannot find the clown executable")?;
        let log_path = self.paths.daemon_log();
        crate::paths::ensure_private_dir(&self.paths.state_dir)?;
        let log = {
            use std::os::unix::fs::OpenOptionsExt;
            std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .mode(0o600)
                .open(&log_path)
                .with_context(|| format!("cannot open {}", log_path.display()))?
        };
        crate::paths::tighten_file(&log_path)?;
        let mut cmd = std::process::Command::new(exe);
        cmd.arg("daemon").arg("--listen").arg(addr);
        if let Some(config) = &cli.config {
            cmd.arg("--config").arg(config);
        }
        cmd.stdin(std::process::Stdio::null())
            .stdout(log.try_clone()?)
            .stderr(log);
        detach(&mut cmd);
        let mut child = cmd.spawn().context("cannot start the daemon")?;
        eprintln!(
            "started the clown daemon on {} (log: {})",
            self.base,
            log_path.display()
        );
        let log_name = log_path.display().to_string();
        self.wait_until_answering(&log_name, || match child.try_wait()? {
            Some(status) => bail!(
                "the daemon exited ({status}) before it was ready; see {log_name}:\n{}",
                tail(&log_path, 5)
            ),
            None => Ok(()),
        })
        .await?;
        // Reap it later from nobody: the daemon outlives us, init adopts it.
        std::mem::forget(child);
        Ok(())
    }

    /// Polls the status endpoint until it answers, `gone` reports a failure, or
    /// START_TIMEOUT passes (the error then points at `log`).
    async fn wait_until_answering(
        &self,
        log: &str,
        mut gone: impl FnMut() -> anyhow::Result<()>,
    ) -> anyhow::Result<()> {
        let deadline = Instant::now() + START_TIMEOUT;
        loop {
            if self
                .raw(Method::GET, "/api/daemon/status", None)
                .await
                .is_ok()
            {
                return Ok(());
            }
            gone()?;
            if Instant::now() > deadline {
                bail!("the daemon did not answer within {START_TIMEOUT:?}; see {log}");
            }
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
    }
}

/// Whether the user's service manager has `clown.socket` loaded and listening on `addr`;
/// then the daemon belongs in its unit, not in a process of ours. False wherever
/// `systemctl --user` cannot answer (no systemd, no user manager, another system).
async fn socket_unit_listens_on(addr: &str) -> bool {
    match systemctl(&["show", "--property=LoadState,Listen", SOCKET_UNIT]).await {
        Ok(out) if out.status.success() => {
            unit_listens_on(&String::from_utf8_lossy(&out.stdout), addr)
        }
        _ => false,
    }
}

/// Reads `systemctl show` output (`LoadState=loaded`, `Listen=127.0.0.1:8765 (Stream)`):
/// loaded, and one stream listener on `addr` or on the wildcard address of its port.
fn unit_listens_on(show: &str, addr: &str) -> bool {
    let Ok(want) = addr.parse::<std::net::SocketAddr>() else {
        return false;
    };
    let loaded = show.lines().any(|l| l == "LoadState=loaded");
    loaded
        && show
            .lines()
            .filter_map(|l| l.strip_prefix("Listen="))
            .filter(|l| l.ends_with("(Stream)"))
            .filter_map(|l| {
                l.split_whitespace()
                    .next()?
                    .parse::<std::net::SocketAddr>()
                    .ok()
            })
            .any(|have| have == want || (have.ip().is_unspecified() && have.port() == want.port()))
}

/// Runs `systemctl --user ARGS`, bounded by SYSTEMCTL_TIMEOUT.
async fn systemctl(args: &[&str]) -> anyhow::Result<std::process::Output> {
    let mut cmd = tokio::process::Command::new("systemctl");
    cmd.arg("--user")
        .args(args)
        .stdin(std::process::Stdio::null())
        .kill_on_drop(true);
    tokio::time::timeout(SYSTEMCTL_TIMEOUT, cmd.output())
        .await
        .map_err(|_| {
            anyhow!(
                "'systemctl --user {}' did not finish within {SYSTEMCTL_TIMEOUT:?}",
                args.join(" ")
            )
        })?
        .with_context(|| format!("cannot run 'systemctl --user {}'", args.join(" ")))
}

/// New session, so the daemon does not get the terminal's signals.
fn detach(cmd: &mut std::process::Command) {
    use std::os::unix::process::CommandExt;
    // SAFETY: setsid is async-signal-safe and touches no memory of the parent.
    unsafe {
        cmd.pre_exec(|| {
            nix::unistd::setsid().map_err(std::io::Error::from)?;
            Ok(())
        });
    }
}

fn tail(path: &PathBuf, n: usize) -> String {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(n)..].join("\n")
}

pub(in crate::cli) fn resolve_target(
    cli: &Cli,
    paths: &Paths,
    env: &crate::paths::Env,
) -> anyhow::Result<Target> {
    if let Some(url) = &cli.url {
        if !url.starts_with("http://") {
            bail!("--url must start with http:// (got '{url}')");
        }
        return Ok(Target {
            base: url.clone(),
            explicit: true,
        });
    }
    let config_path = cli
        .config
        .clone()
        .unwrap_or_else(|| paths.config_file.clone());
    let mut config = Config::from_file(&config_path)?;
    config.apply_env(env);
    let listen = config
        .listen
        .first()
        .cloned()
        .unwrap_or_else(|| DEFAULT_LISTEN.to_string());
    let addr: std::net::SocketAddr = listen
        .parse()
        .map_err(|_| anyhow!("invalid listen address '{listen}' in the configuration"))?;
    // A wildcard listen address is reached through loopback.
    let host = if addr.ip().is_unspecified() {
        if addr.is_ipv4() {
            "127.0.0.1".to_string()
        } else {
            "[::1]".to_string()
        }
    } else if addr.is_ipv6() {
        format!("[{}]", addr.ip())
    } else {
        addr.ip().to_string()
    };
    Ok(Target {
        base: format!("http://{host}:{}", addr.port()),
        explicit: !addr.ip().is_loopback() && !addr.ip().is_unspecified(),
    })
}

pub(super) fn is_connect_refused(e: &anyhow::Error) -> bool {
    e.chain().any(|cause| {
        cause
            .downcast_ref::<std::io::Error>()
            .is_some_and(|io| io.kind() == std::io::ErrorKind::ConnectionRefused)
    })
}

#[cfg(test)]
mod tests {
    use super::unit_listens_on;

    #[test]
    fn a_loaded_socket_unit_on_the_address_is_used() {
        let show = "LoadState=loaded\nListen=127.0.0.1:8765 (Stream)\n";
        assert!(unit_listens_on(show, "127.0.0.1:8765"));
        assert!(!unit_listens_on(show, "127.0.0.1:9000"));
        assert!(!unit_listens_on(show, "[::1]:8765"));
        // The wildcard address of the same port reaches us too.
        assert!(unit_listens_on(
            "LoadState=loaded\nListen=[::]:8765 (Stream)\n",
            "127.0.0.1:8765"
        ));
        assert!(unit_listens_on(
            "Listen=[::1]:8765 (Stream)\nLoadState=loaded\n",
            "[::1]:8765"
        ));
    }

    #[test]
    fn a_missing_or_other_unit_is_not_used() {
        // What systemctl says for a unit without a file.
        assert!(!unit_listens_on("LoadState=not-found\n", "127.0.0.1:8765"));
        assert!(!unit_listens_on(
            "LoadState=masked\nListen=127.0.0.1:8765 (Stream)\n",
            "127.0.0.1:8765"
        ));
        assert!(!unit_listens_on(
            "LoadState=loaded\nListen=127.0.0.1:8765 (Datagram)\n",
            "127.0.0.1:8765"
        ));
        assert!(!unit_listens_on("", "127.0.0.1:8765"));
    }
}
