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

mod start;

use super::transport::{Stream, Transport};
use crate::auth::Token;
use crate::config::{Config, DEFAULT_LISTEN};
use crate::paths::{Paths, process_env};
use start::is_connect_refused;
pub(super) use start::resolve_target;

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
}
