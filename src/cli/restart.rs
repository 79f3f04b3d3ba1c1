//! `clown daemon restart`: a new daemon (a new binary after an upgrade) with the same
//! terminal sessions. Under systemd it is `systemctl --user restart clown` (the service's
//! descriptor store keeps the sessions); otherwise the daemon is asked to exit keeping
//! them (`POST /api/daemon/restart`), and once it is gone a new one is started as any
//! client command starts one, and takes them back.

use std::time::{Duration, Instant};

use anyhow::{Context, bail};

use super::{Cli, Client};

const WAIT: Duration = Duration::from_secs(20);

pub async fn run(cli: &Cli) -> anyhow::Result<i32> {
    let client = Client::connect(cli).await?;
    let status = client.get("/api/daemon/status").await?;
    let old_pid = status["pid"].as_i64().unwrap_or(0) as i32;
    if status["activation"] == "systemd" {
        eprintln!("the daemon runs under systemd: systemctl --user restart clown");
        let st = std::process::Command::new("systemctl")
            .args(["--user", "restart", "clown.service"])
            .status()
            .context("cannot run systemctl")?;
        return Ok(st.code().unwrap_or(1));
    }
    let answer = client.post("/api/daemon/restart", None).await?;
    let kept = answer["sessions_kept"].as_u64().unwrap_or(0);
    let deadline = Instant::now() + WAIT;
    while nix::sys::signal::kill(nix::unistd::Pid::from_raw(old_pid), None).is_ok() {
        if Instant::now() > deadline {
            bail!("the daemon (pid {old_pid}) did not exit within {WAIT:?}; see its log");
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let client = Client::connect(cli).await.context(
        "the old daemon exited but no new one answers; start it with 'clown daemon' (its sessions wait for it)",
    )?;
    let status = client.get("/api/daemon/status").await?;
    println!(
        "restarted: daemon pid {old_pid} -> {}, {kept} terminal session(s) kept",
        status["pid"]
    );
    Ok(0)
}
