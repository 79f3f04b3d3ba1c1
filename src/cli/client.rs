//! The HTTP client every CLI command uses to talk to the daemon.
//!
//! It talks only to its own user's daemon: over the daemon's Unix socket in the state
//! directory (0600 in a 0700 directory, and the peer's uid checked) when it is there;
//! else over TCP to `--url`/`CLOWN_URL`, the configured listen address, or
//! http://127.0.0.1:8765 — and on a loopback address only after checking that the
//! listening socket belongs to this user (on Linux, from `/proc/net/tcp*`), so a process of
//! another user holding the port never receives the token or a key. It reads the token
//! from the state directory. When nothing listens on a loopback address that came from
//! the configuration, it starts the daemon and waits until it answers: through the user's
//! service manager when its `clown.socket` unit is installed and listens on that address
//! (`systemctl --user start clown.socket`, so the daemon runs in the unit, supervised),
//! else as a background process of its own.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use anyhow::{Context, anyhow, bail};
use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;
use hyper::{Method, Request, StatusCode};
use hyper_util::rt::TokioIo;
use serde_json::Value;

use super::Cli;
use super::transport::{Stream, Transport};
use crate::auth::Token;
use crate::config::{Config, DEFAULT_LISTEN};
use crate::paths::{Paths, process_env};

/// A WebSocket connection to the daemon.
pub type WebSocket = tokio_tungstenite::WebSocketStream<Stream>;

const START_TIMEOUT: Duration = Duration::from_secs(15);
/// How long one `systemctl --user` call may take before the CLI gives up on it.
const SYSTEMCTL_TIMEOUT: Duration = Duration::from_secs(10);
const SOCKET_UNIT: &str = "clown.socket";

pub struct Client {
    /// The daemon's HTTP address (what a browser would use).
    base: String,
    transport: Transport,
    token: Option<Token>,
    paths: Paths,
}

/// Where the daemon is expected, and whether the user named it explicitly.
pub(super) struct Target {
    pub base: String,
    pub explicit: bool,
}

impl Client {
    /// Resolves the daemon address and token; starts the daemon when appropriate.
    pub async fn connect(cli: &Cli) -> anyhow::Result<Self> {
        let env = process_env();
        let paths = Paths::from_env(&env)?;
        let target = resolve_target(cli, &paths, &env)?;
        let base = target.base.trim_end_matches('/').to_string();
        let mut client = Self {
            transport: Transport::choose(&paths.socket_file(), &base, target.explicit).await,
            base,
            token: None,
            paths,
        };
        if let Err(e) = client.raw(Method::GET, "/api/daemon/status", None).await {
            if target.explicit
                || !is_connect_refused(&e)
                || env.get("CLOWN_NO_AUTOSTART").is_some_and(|v| v == "1")
            {
                return Err(e.context(format!(
                    "cannot reach the clown daemon at {}; start it with 'clown daemon' or 'systemctl --user start clown.socket'",
                    client.base
                )));
            }
            client.start_daemon(cli).await?;
            client.transport =
                Transport::choose(&client.paths.socket_file(), &client.base, false).await;
        }
        // Nothing secret goes to a listener that is not this user's.
        client.transport.check_owner()?;
        client.token = Some(Token::read(&client.paths.token_file()).with_context(|| {
            format!(
                "cannot read the daemon token at {} (is the daemon running as this user?)",
                client.paths.token_file().display()
            )
        })?);
        Ok(client)
    }

    pub fn base(&self) -> &str {
        &self.base
    }

    pub fn token(&self) -> Option<&Token> {
        self.token.as_ref()
    }

    /// Opens a WebSocket to `path` with the token.
    pub async fn websocket(&self, path: &str) -> anyhow::Result<WebSocket> {
        use tokio_tungstenite::tungstenite::client::IntoClientRequest;
        let url = format!("{}{path}", self.base.replacen("http://", "ws://", 1));
        let mut req = url
            .as_str()
            .into_client_request()
            .with_context(|| format!("invalid URL {url}"))?;
        if let Some(token) = &self.token {
            req.headers_mut().insert(
                "authorization",
                format!("Bearer {}", token.expose()).parse()?,
            );
        }
        let stream = self.transport.connect().await?;
        let (ws, _) = tokio_tungstenite::client_async(req, stream)
            .await
            .with_context(|| format!("cannot open a WebSocket to {url}"))?;
        Ok(ws)
    }

    pub async fn get(&self, path: &str) -> anyhow::Result<Value> {
        self.call(Method::GET, path, None).await
    }

    pub async fn post(&self, path: &str, body: Option<Value>) -> anyhow::Result<Value> {
        self.call(Method::POST, path, body).await
    }

    pub async fn delete(&self, path: &str) -> anyhow::Result<Value> {
        self.call(Method::DELETE, path, None).await
    }

    /// Sends a request and unwraps the envelope: `data` on success, the daemon's message
    /// as the error otherwise.
    pub async fn call(
        &self,
        method: Method,
        path: &str,
        body: Option<Value>,
    ) -> anyhow::Result<Value> {
        let (status, value) = self.raw(method, path, body).await?;
        if value.get("success").and_then(Value::as_bool) == Some(true) {
            return Ok(value.get("data").cloned().unwrap_or(Value::Null));
        }
        let message = value
            .get("error")
            .and_then(Value::as_str)
            .unwrap_or("unexpected answer from the daemon");
        bail!("{}", super::hints::api_error(path, status, message))
    }

    /// A GET whose answer is not JSON (`/metrics`): the body as text on success.
    pub async fn text(&self, path: &str) -> anyhow::Result<String> {
        let (status, bytes) = self.raw_bytes(Method::GET, path, None).await?;
        if status.is_success() {
            return Ok(String::from_utf8_lossy(&bytes).into_owned());
        }
        let value: Value = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
        let message = value
            .get("error")
            .and_then(Value::as_str)
            .unwrap_or("unexpected answer from the daemon");
        bail!("{message} (HTTP {})", status.as_u16())
    }

    /// GETs `path` and copies the body into `out` as it arrives (an export); a refusal
    /// is the daemon's message as the error.
    pub async fn download(
        &self,
        path: &str,
        out: &mut (dyn std::io::Write + Send),
    ) -> anyhow::Result<u64> {
        let host = self.base.trim_start_matches("http://").to_string();
        let mut req = Request::builder()
            .method(Method::GET)
            .uri(path)
            .header("host", host);
        if let Some(token) = &self.token {
            req = req.header("authorization", format!("Bearer {}", token.expose()));
        }
        let stream = self.transport.connect().await?;
        let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
            .await
            .map_err(anyhow::Error::new)?;
        tokio::spawn(async move {
            let _ = conn.await;
        });
        let resp = sender
            .send_request(req.body(Full::new(Bytes::new()))?)
            .await
            .map_err(anyhow::Error::new)?;
        let status = resp.status();
        let mut body = resp.into_body();
        if !status.is_success() {
            let bytes = body.collect().await?.to_bytes();
            let v: Value = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
            let message = v["error"]
                .as_str()
                .unwrap_or("unexpected answer from the daemon");
            bail!("{}", super::hints::api_error(path, status, message));
        }
        let mut n = 0;
        while let Some(frame) = body.frame().await {
            if let Ok(data) = frame?.into_data() {
                out.write_all(&data)?;
                n += data.len() as u64;
            }
        }
        out.flush()?;
        Ok(n)
    }

    async fn raw(
        &self,
        method: Method,
        path: &str,
        body: Option<Value>,
    ) -> anyhow::Result<(StatusCode, Value)> {
        let (status, bytes) = self.raw_bytes(method, path, body).await?;
        let value = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
        Ok((status, value))
    }

    async fn raw_bytes(
        &self,
        method: Method,
        path: &str,
        body: Option<Value>,
    ) -> anyhow::Result<(StatusCode, Bytes)> {
        let host = self.base.trim_start_matches("http://").to_string();
        let mut req = Request::builder()
            .method(method)
            .uri(path)
            .header("host", host);
        if let Some(token) = &self.token {
            req = req.header("authorization", format!("Bearer {}", token.expose()));
        }
        let body = match body {
            Some(v) => {
                req = req.header("content-type", "application/json");
                Full::new(Bytes::from(serde_json::to_vec(&v)?))
            }
            None => Full::new(Bytes::new()),
        };
        let stream = self.transport.connect().await?;
        let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
            .await
            .map_err(anyhow::Error::new)?;
        tokio::spawn(async move {
            let _ = conn.await;
        });
        let resp = sender
            .send_request(req.body(body)?)
            .await
            .map_err(anyhow::Error::new)?;
        let status = resp.status();
        let bytes = resp.into_body().collect().await?.to_bytes();
        Ok((status, bytes))
    }

    /// Starts the daemon and waits until it answers: through the service manager when it
    /// has a socket unit for our address, else as a detached `clown daemon`.
    async fn start_daemon(&self, cli: &Cli) -> anyhow::Result<()> {
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

pub(super) fn resolve_target(
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

fn is_connect_refused(e: &anyhow::Error) -> bool {
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
