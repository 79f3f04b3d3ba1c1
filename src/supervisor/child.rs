//! One proxy process as the supervisor sees it: spawned with an explicit environment
//! that holds no secret, in its own process group, its output pumped into the proxy's
//! log, its standard input a pipe the daemon holds. The plan (with the real keys) is the
//! first line written to that pipe; control lines (a budget's stop set or lifted) may
//! follow; the pipe stays open, and the child exits when it closes. Probed on `/health`; stopped with SIGTERM to the group, a grace, SIGKILL.

use std::process::Stdio;
use std::time::Duration;

use nix::sys::signal::{Signal, killpg};
use nix::unistd::Pid;
use tokio::io::{AsyncBufReadExt, AsyncRead, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;
use tokio::process::{Child, ChildStdin, Command};

use super::logfile::LogFile;
use crate::proxy::control::Control;
use crate::proxy::plan::{self, Plan};

#[derive(Debug, thiserror::Error)]
pub enum ChildError {
    #[error("cannot find the clown executable: {0}")]
    Exe(std::io::Error),
    #[error("cannot start the proxy process: {0}")]
    Spawn(std::io::Error),
    #[error("cannot serialize the proxy plan: {0}")]
    Plan(serde_json::Error),
    #[error("cannot hand the plan to the proxy process: {0}")]
    HandOver(std::io::Error),
}

/// How long writing the plan into the child's pipe may take (it fits the pipe's buffer;
/// this only bounds a child that neither reads nor exits).
const HAND_OVER: Duration = Duration::from_secs(5);

pub struct ProxyChild {
    child: Child,
    pid: u32,
    /// The tasks copying its output into the log; they end when the child does.
    pumps: Vec<tokio::task::JoinHandle<()>>,
    /// The plan first, then control lines (a budget's stop); closing it tells the child
    /// the daemon is gone.
    stdin: Option<ChildStdin>,
}

/// Variables copied from the daemon's environment into the child's.
const PASS_ENV: &[&str] = &[
    "PATH",
    "HOME",
    "LANG",
    "TZ",
    "SSL_CERT_FILE",
    "SSL_CERT_DIR",
];

pub async fn spawn(
    plan: &Plan,
    port: u16,
    daemon_env: &crate::paths::Env,
    log_filter: &str,
    log: &LogFile,
) -> Result<ProxyChild, ChildError> {
    let exe = std::env::current_exe().map_err(ChildError::Exe)?;
    let mut line = plan::encode(plan).map_err(ChildError::Plan)?;
    let mut cmd = Command::new(exe);
    cmd.arg("proxy")
        .arg("--profile")
        .arg(&plan.profile)
        .arg("--port")
        .arg(port.to_string())
        .env_clear()
        .envs(
            PASS_ENV
                .iter()
                .filter_map(|k| daemon_env.get(*k).map(|v| (*k, v))),
        )
        .env("CLOWN_LOG", log_filter)
        .env("NO_COLOR", "1")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .process_group(0)
        .kill_on_drop(true);
    let mut child = cmd.spawn().map_err(ChildError::Spawn)?;
    let pid = child.id().unwrap_or(0);
    let mut pumps = Vec::new();
    if let Some(out) = child.stdout.take() {
        pumps.push(tokio::spawn(pump(out, log.clone())));
    }
    if let Some(err) = child.stderr.take() {
        pumps.push(tokio::spawn(pump(err, log.clone())));
    }
    let mut stdin = child.stdin.take();
    let handed = match stdin.as_mut() {
        Some(pipe) => tokio::time::timeout(HAND_OVER, async {
            pipe.write_all(&line).await?;
            pipe.flush().await
        })
        .await
        .unwrap_or_else(|_| Err(std::io::ErrorKind::TimedOut.into())),
        None => Err(std::io::Error::other("no pipe to the child")),
    };
    line.iter_mut().for_each(|b| *b = 0);
    let mut proxy = ProxyChild {
        stdin,
        child,
        pid,
        pumps,
    };
    if let Err(e) = handed {
        proxy.kill();
        proxy.wait().await;
        return Err(ChildError::HandOver(e));
    }
    Ok(proxy)
}

async fn pump(stream: impl AsyncRead + Unpin, log: LogFile) {
    let mut lines = BufReader::new(stream).lines();
    while let Ok(Some(line)) = lines.next_line().await {
        log.line(&line);
    }
}

impl ProxyChild {
    pub fn pid(&self) -> u32 {
        self.pid
    }

    /// Writes one control line after the plan (bounded like the plan's hand-over).
    pub async fn control(&mut self, c: &Control) -> std::io::Result<()> {
        let Some(pipe) = self.stdin.as_mut() else {
            return Err(std::io::Error::other("no pipe to the child"));
        };
        let line = c.encode();
        tokio::time::timeout(HAND_OVER, async {
            pipe.write_all(&line).await?;
            pipe.flush().await
        })
        .await
        .unwrap_or_else(|_| Err(std::io::ErrorKind::TimedOut.into()))
    }

    /// Waits for the process to end (and its last output to reach the log); returns
    /// its exit code, or 128 + the signal.
    pub async fn wait(&mut self) -> i32 {
        let code = match self.child.wait().await {
            Ok(status) => exit_code(&status),
            Err(e) => {
                tracing::warn!("cannot wait for proxy pid {}: {e}", self.pid);
                -1
            }
        };
        for pump in self.pumps.drain(..) {
            let _ = tokio::time::timeout(Duration::from_millis(500), pump).await;
        }
        code
    }

    /// SIGTERM to the group, `grace`, then SIGKILL; returns the exit code.
    pub async fn stop(&mut self, grace: Duration) -> i32 {
        self.signal_group(Signal::SIGTERM);
        match tokio::time::timeout(grace, self.wait()).await {
            Ok(code) => code,
            Err(_) => {
                tracing::warn!(
                    "proxy pid {} ignored SIGTERM for {grace:?}; killing it",
                    self.pid
                );
                self.signal_group(Signal::SIGKILL);
                self.wait().await
            }
        }
    }

    pub fn kill(&mut self) {
        self.signal_group(Signal::SIGKILL);
    }

    fn signal_group(&self, sig: Signal) {
        if self.pid > 0 {
            let _ = killpg(Pid::from_raw(self.pid as i32), sig);
        }
    }
}

pub fn exit_code(status: &std::process::ExitStatus) -> i32 {
    use std::os::unix::process::ExitStatusExt;
    status
        .code()
        .or_else(|| status.signal().map(|s| 128 + s))
        .unwrap_or(-1)
}

/// Whether `GET /health` on 127.0.0.1:`port` answers 200 within `limit`.
pub async fn healthy(port: u16, limit: Duration) -> bool {
    let probe = async {
        let mut s = TcpStream::connect(("127.0.0.1", port)).await.ok()?;
        s.write_all(b"GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
            .await
            .ok()?;
        let mut head = [0u8; 12];
        s.read_exact(&mut head).await.ok()?;
        Some(&head == b"HTTP/1.1 200")
    };
    matches!(tokio::time::timeout(limit, probe).await, Ok(Some(true)))
}

/// Whether nothing listens on 127.0.0.1:`port` right now.
pub fn port_free(port: u16) -> bool {
    std::net::TcpListener::bind(("127.0.0.1", port)).is_ok()
}
