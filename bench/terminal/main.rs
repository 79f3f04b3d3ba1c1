//! Terminal benchmark: clown's terminal sessions against terminado, same machine, same
//! run, same client (`client.rs`). See bench/README.md, "Terminal sessions".
//!
//! `cargo bench --bench terminal` (release build). Terminado comes from a virtualenv at
//! `bench/.venv` (or `TERMINADO_PYTHON`), made by `bench/terminal/setup-terminado`.
//! Environment: `BENCH_MB` (data size, default 64), `BENCH_RUNS` (default 3),
//! `BENCH_ECHO_ROUNDS` (default 2000).

mod client;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use client::{Proto, Target};
use serde_json::{Value, json};

const ROOT: &str = env!("CARGO_MANIFEST_DIR");

fn env_num(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// A child killed (and reaped) when dropped.
struct Guard(Child);

impl Drop for Guard {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn free_port() -> anyhow::Result<u16> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port())
}

fn wait_port(port: u16) -> anyhow::Result<()> {
    let deadline = Instant::now() + Duration::from_secs(20);
    while TcpStream::connect(("127.0.0.1", port)).is_err() {
        if Instant::now() > deadline {
            bail!("nothing listens on {port}");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    Ok(())
}

/// One HTTP/1.1 request with the token; returns the parsed JSON body.
fn api(
    port: u16,
    token: &str,
    method: &str,
    path: &str,
    body: Option<Value>,
) -> anyhow::Result<Value> {
    let mut s = TcpStream::connect(("127.0.0.1", port))?;
    let body = body.map(|b| b.to_string()).unwrap_or_default();
    write!(
        s,
        "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nAuthorization: Bearer {token}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )?;
    let mut resp = String::new();
    s.read_to_string(&mut resp)?;
    let json = resp.split_once("\r\n\r\n").map(|x| x.1).unwrap_or_default();
    let v: Value =
        serde_json::from_str(json).with_context(|| format!("{method} {path}: {resp}"))?;
    if v["success"] != true {
        bail!("{method} {path}: {v}");
    }
    Ok(v["data"].clone())
}

struct Clown {
    _daemon: Guard,
    port: u16,
    token: String,
    args: Vec<String>,
}

impl Clown {
    /// A daemon in a private home whose profile `bench` runs `sh` as its agent.
    fn start(dir: &Path, args: Vec<String>) -> anyhow::Result<Self> {
        let home = dir.join("home");
        let bin = dir.join("bin");
        std::fs::create_dir_all(&bin)?;
        std::os::unix::fs::symlink("/bin/sh", bin.join("clown-bench-sh"))?;
        let registry = home.join(".config/clown/registry");
        std::fs::create_dir_all(&registry)?;
        let agent = json!({"version": 1, "agents": [{
            "id": "benchsh", "name": "Bench shell", "binary": "clown-bench-sh", "npm_package": "none",
            "version_args": ["--version"], "version_regex": "(\\d+)", "profile_strategy": "env",
            "launcher": "env", "protocol": "anthropic", "home_env": null, "base_url_env": null,
            "api_key_env": null, "model_env": null, "extra_env": {}, "supports_hooks": false,
            "default_model": "claude-sonnet-4", "supported_models": ["claude-sonnet-4"]}]});
        std::fs::write(registry.join("agents.json"), agent.to_string())?;
        std::fs::write(
            home.join(".config/clown/config.toml"),
            format!(
                "log = \"warn\"\n[agents]\nextra_paths = [\"{}\"]\n",
                bin.display()
            ),
        )?;
        let port = free_port()?;
        let daemon = Command::new(env!("CARGO_BIN_EXE_clown"))
            .args(["daemon", "--listen", &format!("127.0.0.1:{port}")])
            .env_clear()
            .env("HOME", &home)
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .stdin(Stdio::null())
            .spawn()
            .context("cannot start clown")?;
        let daemon = Guard(daemon);
        // The socket listens before the daemon is ready: wait until it answers.
        let token_file = home.join(".local/state/clown/token");
        let deadline = Instant::now() + Duration::from_secs(20);
        let token = loop {
            if let Ok(t) = std::fs::read_to_string(&token_file)
                && api(port, t.trim(), "GET", "/api/daemon/status", None).is_ok()
            {
                break t.trim().to_string();
            }
            if Instant::now() > deadline {
                bail!("clown did not become ready");
            }
            std::thread::sleep(Duration::from_millis(50));
        };
        api(
            port,
            &token,
            "POST",
            "/api/profiles",
            Some(json!({
            "alias": "bench", "agent_id": "benchsh", "provider_id": "anthropic", "api_key": "sk-bench-0123456789"})),
        )?;
        Ok(Self {
            _daemon: daemon,
            port,
            token,
            args,
        })
    }

    fn session(&self) -> anyhow::Result<(Target, String)> {
        let data = api(
            self.port,
            &self.token,
            "POST",
            "/api/terminal/sessions",
            Some(json!({"profile_alias": "bench", "args": self.args})),
        )?;
        let id = data["session_id"].as_str().unwrap_or_default().to_string();
        let target = Target {
            url: format!("ws://127.0.0.1:{}/ws/terminal/{id}", self.port),
            token: Some(self.token.clone()),
            proto: Proto::Clown,
        };
        Ok((target, id))
    }

    fn end(&self, id: &str) {
        let _ = api(
            self.port,
            &self.token,
            "DELETE",
            &format!("/api/terminal/sessions/{id}"),
            None,
        );
        let _ = api(
            self.port,
            &self.token,
            "POST",
            "/api/terminal/cleanup",
            None,
        );
    }
}

fn start_terminado(args: &[String]) -> anyhow::Result<(Guard, u16)> {
    let python = std::env::var("TERMINADO_PYTHON")
        .map(PathBuf::from)
        .unwrap_or_else(|_| PathBuf::from(ROOT).join("bench/.venv/bin/python"));
    let port = free_port()?;
    let mut child = Command::new(&python)
        .arg(PathBuf::from(ROOT).join("bench/terminal/terminado_server.py"))
        .arg(port.to_string())
        .arg("sh")
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .with_context(|| {
            format!(
                "cannot run {} (run bench/terminal/setup-terminado)",
                python.display()
            )
        })?;
    let mut line = String::new();
    if let Some(out) = child.stdout.take() {
        BufReader::new(out).read_line(&mut line)?;
    }
    if line.trim() != "ready" {
        bail!("terminado did not start");
    }
    wait_port(port)?;
    Ok((Guard(child), port))
}

/// The PTY alone: the same program on the same kind of terminal (clown's own spawn), its
/// output read by a plain blocking loop with no server and no client. What any server can
/// at most forward.
fn bare_pty(rt: &tokio::runtime::Runtime, args: &[String]) -> anyhow::Result<(u64, Duration)> {
    use nix::fcntl::{FcntlArg, OFlag, fcntl};
    let _enter = rt.enter();
    let program = clown::pty::Program {
        path: PathBuf::from("/bin/sh"),
        args: args.to_vec(),
        env: [("PATH".to_string(), "/usr/bin:/bin".to_string())].into(),
        cwd: std::env::temp_dir(),
        cols: 80,
        rows: 24,
        secrets: Vec::new(),
    };
    let mut spawned = clown::pty::spawn::spawn(&program)?;
    fcntl(&spawned.master, FcntlArg::F_SETFL(OFlag::empty()))?;
    let mut master = std::fs::File::from(spawned.master);
    let marker = b"BENCH-END";
    let keep = marker.len() + 16;
    let mut tail: Vec<u8> = Vec::with_capacity(2 * keep);
    let mut buf = vec![0u8; 64 * 1024];
    let mut total = 0u64;
    let start = Instant::now();
    master.write_all(b"throughput\r")?;
    loop {
        let n = master.read(&mut buf)?;
        if n == 0 {
            bail!("the PTY closed before the marker");
        }
        total += n as u64;
        tail.extend_from_slice(&buf[n.saturating_sub(keep)..n]);
        if tail.len() > keep {
            tail.drain(..tail.len() - keep);
        }
        if tail.windows(marker.len()).any(|w| w == marker) {
            break;
        }
    }
    let took = start.elapsed();
    let _ = spawned.child.start_kill();
    drop(master);
    Ok((total, took))
}

#[derive(Default)]
struct Figures {
    mbps_1: Vec<f64>,
    mbps_10: Vec<f64>,
    p50: Duration,
    p99: Duration,
}

fn median(v: &mut [f64]) -> f64 {
    v.sort_by(|a, b| a.total_cmp(b));
    v.get(v.len() / 2).copied().unwrap_or(0.0)
}

fn main() -> anyhow::Result<()> {
    let mb = env_num("BENCH_MB", 64);
    let runs = env_num("BENCH_RUNS", 3);
    let rounds = env_num("BENCH_ECHO_ROUNDS", 2000);
    let dir = std::env::temp_dir().join(format!("clown-bench-terminal-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir)?;
    let data = dir.join("data.txt");
    let line_len = env_num("BENCH_LINE", 65).max(2);
    let alphabet = b"0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ-=";
    let mut line: Vec<u8> = alphabet
        .iter()
        .copied()
        .cycle()
        .take(line_len - 1)
        .collect();
    line.push(b'\n');
    let line = line.as_slice();
    let mut f = std::io::BufWriter::new(std::fs::File::create(&data)?);
    for _ in 0..(mb << 20) / line.len() {
        f.write_all(line)?;
    }
    f.flush()?;
    drop(f);
    let args = vec![
        format!("{ROOT}/bench/terminal/prog.sh"),
        data.display().to_string(),
    ];
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    // BENCH_ONLY=clown (or terminado) measures one server alone, e.g. under a profiler.
    let only = std::env::var("BENCH_ONLY").unwrap_or_default();
    let wanted = |name: &str| only.is_empty() || only == name;
    let clown = Clown::start(&dir, args.clone())?;
    let (_terminado, tport) = if wanted("terminado") {
        let (guard, port) = start_terminado(&args)?;
        (Some(guard), port)
    } else {
        (None, 0)
    };
    let mut serial = 0;
    let mut terminado_target = || {
        serial += 1;
        Target {
            url: format!("ws://127.0.0.1:{tport}/websocket/t{serial}"),
            token: None,
            proto: Proto::Terminado,
        }
    };
    let mut figures = [Figures::default(), Figures::default()];
    let mut bare = Vec::new();
    for run in 0..=runs {
        if !only.is_empty() {
            // Profiling one server: no other phase.
        } else {
            let (bytes, took) = bare_pty(&rt, &args)?;
            let mbps = bytes as f64 / 1e6 / took.as_secs_f64();
            eprintln!("run {run} PTY alone: {bytes} bytes in {took:?} = {mbps:.1} MB/s");
            if run > 0 {
                bare.push(mbps);
            }
        }
        for clients in [1, 10] {
            for (i, fig) in figures.iter_mut().enumerate() {
                if !wanted(["clown", "terminado"][i]) {
                    continue;
                }
                let (bytes, took) = if i == 0 {
                    let (target, id) = clown.session()?;
                    let r = rt.block_on(client::throughput(&target, clients));
                    clown.end(&id);
                    r?
                } else {
                    rt.block_on(client::throughput(&terminado_target(), clients))?
                };
                let mbps = bytes as f64 / 1e6 / took.as_secs_f64();
                eprintln!(
                    "run {run} {} {clients} client(s): {bytes} bytes in {took:?} = {mbps:.1} MB/s",
                    ["clown", "terminado"][i]
                );
                // Run 0 warms caches up and is not counted.
                if run > 0 {
                    if clients == 1 {
                        fig.mbps_1.push(mbps)
                    } else {
                        fig.mbps_10.push(mbps)
                    }
                }
            }
        }
    }
    for (i, fig) in figures.iter_mut().enumerate() {
        if !wanted(["clown", "terminado"][i]) {
            continue;
        }
        let times = if i == 0 {
            let (target, id) = clown.session()?;
            let r = rt.block_on(client::echo(&target, 200, rounds));
            clown.end(&id);
            r?
        } else {
            rt.block_on(client::echo(&terminado_target(), 200, rounds))?
        };
        fig.p50 = client::percentile(&times, 0.50);
        fig.p99 = client::percentile(&times, 0.99);
    }
    println!(
        "data: {mb} MiB of {line_len}-byte lines through an 80x24 PTY; median of {runs} runs; echo over {rounds} keys"
    );
    println!("| server | 1 client MB/s | 10 clients MB/s | echo p50 ms | echo p99 ms |");
    println!("| --- | --- | --- | --- | --- |");
    println!("| PTY alone (no server) | {:.1} | | | |", median(&mut bare));
    for (name, fig) in ["clown", "terminado"].iter().zip(figures.iter_mut()) {
        println!(
            "| {name} | {:.1} | {:.1} | {:.3} | {:.3} |",
            median(&mut fig.mbps_1),
            median(&mut fig.mbps_10),
            fig.p50.as_secs_f64() * 1e3,
            fig.p99.as_secs_f64() * 1e3
        );
    }
    let _ = std::fs::remove_dir_all(&dir);
    Ok(())
}
