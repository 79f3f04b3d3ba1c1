//! The HTTP client every CLI command uses to talk to the daemon.
//!
//! It talks only to its own user's daemon: over the daemon's Unix socket in the state
//! directory (0600 in a 0700 directory, and the peer's uid checked) when it is there;
//! else over TCP to `--url`/`CLOWN_URL`, the configured listen address, or
//! http://127.0.0.1:8765 — and on a loopback address only after checking that the
//! listening socket belongs to this user (on Linux, from `/proc/net/tcp*`), so a process of
//! another user holding the port never receives the token or a key. It reads the token
//! from the state directory. When nothing listens on a loopback address that came from
//! the configuration, it starts the daemon in the background and waits until it answers.

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

pub struct Client {
    /// The daemon's HTTP address (what a browser would use).
    base: String,
    transport: Transport,
    token: Option<Token>,
    paths: Paths,
}

/// Where the daemon is expected, and whether the user named it explicitly.
struct Target {
    base: String,
    explicit: bool,
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
        bail!("{message} (HTTP {})", status.as_u16())
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

    /// Starts `clown daemon` detached, logging to the state directory, and waits until
    /// it answers.
    async fn start_daemon(&self, cli: &Cli) -> anyhow::Result<()> {
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
        let addr = self
            .base
            .trim_start_matches("http://")
            .trim_end_matches('/')
            .to_string();
        let mut cmd = std::process::Command::new(exe);
        cmd.arg("daemon").arg("--listen").arg(&addr);
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
        let deadline = Instant::now() + START_TIMEOUT;
        loop {
            if self
                .raw(Method::GET, "/api/daemon/status", None)
                .await
                .is_ok()
            {
                // Reap it later from nobody: the daemon outlives us, init adopts it.
                std::mem::forget(child);
                return Ok(());
            }
            if let Some(status) = child.try_wait()? {
                bail!(
                    "the daemon exited ({status}) before it was ready; see {}:\n{}",
                    log_path.display(),
                    tail(&log_path, 5)
                );
            }
            if Instant::now() > deadline {
                bail!(
                    "the daemon did not answer within {START_TIMEOUT:?}; see {}",
                    log_path.display()
                );
            }
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
    }
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

fn resolve_target(cli: &Cli, paths: &Paths, env: &crate::paths::Env) -> anyhow::Result<Target> {
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
