//! A real PostgreSQL cluster for the sync tests (Debian's `postgresql` package): created
//! with `initdb` in a temporary directory, started on a free port with its Unix socket in
//! that directory, stopped and started again on demand, and removed at the end. As root
//! it runs as the `postgres` system user (PostgreSQL refuses root). With `tls`, a test
//! CA signs a certificate for 127.0.0.1 and the server requires nothing but offers TLS.

#![allow(dead_code)]

use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};

use crate::helpers::*;

static N: AtomicUsize = AtomicUsize::new(0);

pub struct Postgres {
    child: Option<Child>,
    pub port: u16,
    pub dir: PathBuf,
    bin: PathBuf,
    owner: Option<(u32, u32)>,
    tls: bool,
}

/// The newest `/usr/lib/postgresql/<version>/bin`.
fn bin_dir() -> PathBuf {
    let mut versions: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .expect("PostgreSQL is not installed (Debian's 'postgresql'; .ci/run installs it)")
        .flatten()
        .filter_map(|e| {
            let v = e.file_name().to_string_lossy().parse().ok()?;
            let bin = e.path().join("bin");
            bin.join("postgres").exists().then_some((v, bin))
        })
        .collect();
    versions.sort();
    versions.pop().expect("no PostgreSQL server binaries").1
}

/// The `postgres` user's uid and gid, when this test runs as root.
fn owner() -> Option<(u32, u32)> {
    let uid = std::fs::read_to_string("/proc/self/status")
        .ok()?
        .lines()
        .find_map(|l| l.strip_prefix("Uid:"))?
        .split_whitespace()
        .nth(1)?
        .parse::<u32>()
        .ok()?;
    if uid != 0 {
        return None;
    }
    let passwd = std::fs::read_to_string("/etc/passwd").unwrap();
    let line = passwd
        .lines()
        .find(|l| l.starts_with("postgres:"))
        .expect("running as root needs the 'postgres' user (created by Debian's postgresql)");
    let f: Vec<&str> = line.split(':').collect();
    Some((f[2].parse().unwrap(), f[3].parse().unwrap()))
}

impl Postgres {
    pub fn start(tls: bool) -> Self {
        let n = N.fetch_add(1, Ordering::SeqCst);
        let dir = std::env::temp_dir().join(format!("clown-pg-{}-{n}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(dir.join("sock")).unwrap();
        let owner = owner();
        let mut pg = Self {
            child: None,
            port: free_port(),
            dir,
            bin: bin_dir(),
            owner,
            tls,
        };
        if tls {
            pg.make_certificates();
        }
        pg.chown_all();
        let out = pg
            .command("initdb")
            .args([
                "-D",
                "data",
                "-U",
                "clown",
                "-A",
                "trust",
                "--no-sync",
                "-E",
                "UTF8",
                "--locale=C",
            ])
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "initdb failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        pg.run();
        pg
    }

    fn command(&self, program: &str) -> Command {
        let mut cmd = Command::new(self.bin.join(program));
        cmd.current_dir(&self.dir)
            .env_clear()
            .env("PATH", "/usr/bin:/bin")
            .env("LANG", "C")
            .stdin(Stdio::null());
        if let Some((uid, gid)) = self.owner {
            cmd.uid(uid).gid(gid);
        }
        cmd
    }

    fn chown_all(&self) {
        let Some((uid, gid)) = self.owner else {
            return;
        };
        for p in [
            self.dir.clone(),
            self.dir.join("sock"),
            self.dir.join("server.key"),
            self.dir.join("server.crt"),
        ] {
            if p.exists() {
                std::os::unix::fs::chown(&p, Some(uid), Some(gid)).unwrap();
            }
        }
    }

    /// A CA, and a certificate for 127.0.0.1 and localhost signed by it.
    fn make_certificates(&self) {
        let d = &self.dir;
        std::fs::write(
            d.join("server.ext"),
            "subjectAltName=IP:127.0.0.1,DNS:localhost\nbasicConstraints=CA:FALSE\nkeyUsage=digitalSignature,keyEncipherment\nextendedKeyUsage=serverAuth\n",
        )
        .unwrap();
        for args in [
            "req -x509 -newkey rsa:2048 -nodes -keyout ca.key -out ca.crt -days 2 -subj /CN=clown-test-ca",
            "req -newkey rsa:2048 -nodes -keyout server.key -out server.csr -subj /CN=localhost",
            "x509 -req -in server.csr -CA ca.crt -CAkey ca.key -CAcreateserial -out server.crt -days 2 -extfile server.ext",
        ] {
            let out = Command::new("openssl")
                .args(args.split(' '))
                .current_dir(d)
                .output()
                .expect("openssl");
            assert!(
                out.status.success(),
                "openssl {args}: {}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
        std::fs::set_permissions(
            d.join("server.key"),
            std::os::unix::fs::PermissionsExt::from_mode(0o600),
        )
        .unwrap();
    }

    /// The CA that signed the server's certificate.
    pub fn ca_file(&self) -> PathBuf {
        self.dir.join("ca.crt")
    }

    /// Starts the server (again) and waits until it accepts connections.
    pub fn run(&mut self) {
        assert!(self.child.is_none(), "already running");
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.dir.join("postgres.log"))
            .unwrap();
        if let Some((uid, gid)) = self.owner {
            std::os::unix::fs::chown(self.dir.join("postgres.log"), Some(uid), Some(gid)).unwrap();
        }
        let mut cmd = self.command("postgres");
        let sock = self.dir.join("sock");
        cmd.args(["-D", "data", "-p", &self.port.to_string()])
            .arg("-k")
            .arg(&sock)
            .args([
                "-c",
                "listen_addresses=127.0.0.1",
                "-c",
                "fsync=off",
                "-c",
                "full_page_writes=off",
                "-c",
                "max_connections=50",
            ])
            .stdout(Stdio::null())
            .stderr(log);
        if self.tls {
            cmd.args(["-c", "ssl=on"]);
            cmd.args([
                "-c",
                &format!("ssl_cert_file={}", self.dir.join("server.crt").display()),
            ]);
            cmd.args([
                "-c",
                &format!("ssl_key_file={}", self.dir.join("server.key").display()),
            ]);
        }
        self.child = Some(cmd.spawn().expect("start postgres"));
        let port = self.port.to_string();
        wait_until(WAIT, "PostgreSQL accepting connections", || {
            if let Some(c) = self.child.as_mut()
                && let Ok(Some(status)) = c.try_wait()
            {
                panic!("postgres exited ({status}): {}", self.log());
            }
            let ok = self
                .command("pg_isready")
                .args(["-q", "-h", "127.0.0.1", "-p", &port])
                .status()
                .ok()?
                .success();
            ok.then_some(())
        });
    }

    /// Stops the server (fast shutdown: every connection is cut) and waits for it.
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            send_signal(child.id() as i32, SIGINT);
            let _ = child.wait();
        }
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.join("postgres.log")).unwrap_or_default()
    }

    /// `postgres://clown@127.0.0.1:PORT/postgres?sslmode=…`
    pub fn url(&self, sslmode: &str) -> String {
        format!(
            "postgres://clown@127.0.0.1:{}/postgres?sslmode={sslmode}",
            self.port
        )
    }

    /// psql connected to the server as `clown` (no startup file, rows unaligned, quiet).
    fn psql_session(&self) -> Command {
        let mut cmd = self.command("psql");
        cmd.args(["-X", "-q", "-At", "-h", "127.0.0.1", "-p"])
            .arg(self.port.to_string())
            .args(["-U", "clown", "-d", "postgres"]);
        cmd
    }

    /// Runs `sql` with psql; the rows, `|`-separated.
    pub fn psql(&self, sql: &str) -> String {
        let out = self.psql_session().args(["-c", sql]).output().unwrap();
        assert!(
            out.status.success(),
            "psql {sql}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).trim().to_string()
    }

    /// Runs `sql` in a transaction a psql session keeps open (and its locks held) until
    /// the returned [`Open`] is dropped, which rolls it back. Returns once `sql` has run.
    pub fn open_transaction(&self, sql: &str) -> Open {
        let mut child = self
            .psql_session()
            .args(["-v", "ON_ERROR_STOP=1"])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        let mut stdin = child.stdin.take().unwrap();
        let mut stdout = std::io::BufReader::new(child.stdout.take().unwrap());
        use std::io::{BufRead, Write};
        write!(stdin, "BEGIN;\n{sql};\n\\echo clown-open\n").unwrap();
        stdin.flush().unwrap();
        let mut line = String::new();
        loop {
            line.clear();
            let n = stdout.read_line(&mut line).unwrap();
            assert!(n > 0, "psql ended before running: {sql}");
            if line.trim() == "clown-open" {
                break;
            }
        }
        Open {
            child,
            stdin: Some(stdin),
        }
    }

    /// Everything in the database, as `pg_dump --data-only` writes it.
    pub fn dump(&self) -> String {
        let out = self
            .command("pg_dump")
            .args([
                "--data-only",
                "-h",
                "127.0.0.1",
                "-p",
                &self.port.to_string(),
            ])
            .args(["-U", "clown", "postgres"])
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    pub fn path(&self) -> &Path {
        &self.dir
    }
}

/// A transaction held open by [`Postgres::open_transaction`].
pub struct Open {
    child: Child,
    stdin: Option<std::process::ChildStdin>,
}

impl Drop for Open {
    fn drop(&mut self) {
        if let Some(mut stdin) = self.stdin.take() {
            use std::io::Write;
            let _ = stdin.write_all(b"ROLLBACK;\n");
        }
        let _ = self.child.wait();
    }
}

impl Drop for Postgres {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            send_signal(child.id() as i32, SIGINT);
            let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
            while std::time::Instant::now() < deadline {
                if let Ok(Some(_)) = child.try_wait() {
                    break;
                }
                std::thread::sleep(std::time::Duration::from_millis(20));
            }
            let _ = child.kill();
            let _ = child.wait();
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}
