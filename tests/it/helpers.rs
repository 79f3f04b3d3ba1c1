//! Shared test machinery: temporary homes, the daemon under test, a notify socket, and a
//! small HTTP/1.1 client that writes exactly the bytes a test asks for.

#![allow(dead_code)]

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Write};
use std::net::TcpStream;
use std::os::unix::net::UnixDatagram;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use serde_json::Value;

pub const BIN: &str = env!("CARGO_BIN_EXE_clown");
pub const WAIT: Duration = Duration::from_secs(20);

static COUNTER: AtomicUsize = AtomicUsize::new(0);

/// A private directory tree standing in for a user's home.
pub struct TestEnv {
    pub root: PathBuf,
    pub home: PathBuf,
}

impl TestEnv {
    pub fn new(name: &str) -> Self {
        let n = COUNTER.fetch_add(1, Ordering::SeqCst);
        let root = std::env::temp_dir().join(format!("clown-it-{}-{n}-{name}", std::process::id()));
        let _ = std::fs::remove_dir_all(&root);
        let home = root.join("home");
        std::fs::create_dir_all(&home).unwrap();
        Self { root, home }
    }

    pub fn config_file(&self) -> PathBuf {
        self.home.join(".config/clown/config.toml")
    }

    pub fn data_dir(&self) -> PathBuf {
        self.home.join(".local/share/clown")
    }

    pub fn state_dir(&self) -> PathBuf {
        self.home.join(".local/state/clown")
    }

    pub fn write_config(&self, text: &str) {
        let path = self.config_file();
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, text).unwrap();
    }

    pub fn token(&self) -> String {
        std::fs::read_to_string(self.state_dir().join("token"))
            .unwrap()
            .trim()
            .to_string()
    }

    /// The environment a child gets: nothing of the test runner's but PATH.
    pub fn vars(&self) -> Vec<(String, String)> {
        vec![
            ("HOME".into(), self.home.display().to_string()),
            ("PATH".into(), std::env::var("PATH").unwrap_or_default()),
            ("CLOWN_LOG".into(), "info".into()),
            ("TZ".into(), "UTC".into()),
        ]
    }

    /// A `clown` command with this environment.
    pub fn clown(&self) -> Command {
        let mut cmd = Command::new(BIN);
        cmd.env_clear().envs(self.vars());
        cmd
    }

    /// A `clown` client command aimed at the daemon `d` with `--url`.
    pub fn cli(&self, d: &Daemon) -> Command {
        let mut cmd = self.clown();
        cmd.arg("--url").arg(d.url());
        cmd
    }
}

impl Drop for TestEnv {
    fn drop(&mut self) {
        // CLOWN_TEST_KEEP=1 keeps a failed test's directory (daemon log, homes) to look at.
        if std::thread::panicking() && std::env::var_os("CLOWN_TEST_KEEP").is_some() {
            eprintln!("kept {}", self.root.display());
            return;
        }
        let _ = std::fs::remove_dir_all(&self.root);
    }
}

/// A datagram socket standing in for the service manager's `NOTIFY_SOCKET`.
pub struct NotifySocket {
    pub path: PathBuf,
    sock: UnixDatagram,
    pending: Vec<String>,
}

impl NotifySocket {
    pub fn new(dir: &Path) -> Self {
        let path = dir.join("notify.sock");
        let _ = std::fs::remove_file(&path);
        let sock = UnixDatagram::bind(&path).unwrap();
        Self {
            path,
            sock,
            pending: Vec::new(),
        }
    }

    /// Next message (one datagram may hold several `KEY=VALUE` lines), or None on timeout.
    pub fn recv(&mut self, timeout: Duration) -> Option<String> {
        self.sock.set_read_timeout(Some(timeout)).unwrap();
        let mut buf = vec![0u8; 4096];
        match self.sock.recv(&mut buf) {
            Ok(n) => Some(String::from_utf8_lossy(&buf[..n]).to_string()),
            Err(_) => None,
        }
    }

    /// Next datagram and the descriptors passed with it (`FDSTORE=1`), or None on timeout.
    pub fn recv_fds(&mut self, timeout: Duration) -> Option<(String, Vec<std::os::fd::OwnedFd>)> {
        use nix::sys::socket::{ControlMessageOwned, MsgFlags, recvmsg};
        use std::os::fd::{AsRawFd, FromRawFd};
        self.sock.set_read_timeout(Some(timeout)).unwrap();
        let mut buf = vec![0u8; 4096];
        let mut fds = Vec::new();
        let n = {
            let mut iov = [std::io::IoSliceMut::new(&mut buf)];
            let mut space = nix::cmsg_space!([std::os::fd::RawFd; 8]);
            let msg = recvmsg::<()>(
                self.sock.as_raw_fd(),
                &mut iov,
                Some(&mut space),
                MsgFlags::MSG_CMSG_CLOEXEC,
            )
            .ok()?;
            for c in msg.cmsgs().ok()? {
                if let ControlMessageOwned::ScmRights(raw) = c {
                    // SAFETY: the kernel just gave us these descriptors.
                    fds.extend(
                        raw.into_iter()
                            .map(|fd| unsafe { std::os::fd::OwnedFd::from_raw_fd(fd) }),
                    );
                }
            }
            msg.bytes
        };
        let text = String::from_utf8_lossy(&buf[..n]).to_string();
        self.pending.push(text.clone());
        Some((text, fds))
    }

    /// Waits for a datagram with a line equal to `line`; returns that datagram.
    pub fn wait_for(&mut self, line: &str, timeout: Duration) -> String {
        let deadline = Instant::now() + timeout;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            assert!(
                !left.is_zero(),
                "no '{line}' on the notify socket within {timeout:?}; saw {:?}",
                self.pending
            );
            if let Some(msg) = self.recv(left) {
                let hit = msg.lines().any(|l| l == line);
                self.pending.push(msg.clone());
                if hit {
                    return msg;
                }
            }
        }
    }
}

/// The daemon under test.
pub struct Daemon {
    pub child: Child,
    pub port: u16,
    pub token: String,
    pub notify: NotifySocket,
    pub stderr_path: PathBuf,
}

impl Daemon {
    /// Starts `clown daemon --listen 127.0.0.1:0` and waits for READY=1.
    pub fn start(env: &TestEnv) -> Self {
        Self::start_with(env, |_| {})
    }

    /// Starts `clown daemon --listen 127.0.0.1:PORT` (a fixed port: sessions that outlive
    /// a daemon keep its URL in their environment).
    pub fn start_on(env: &TestEnv, port: u16) -> Self {
        Self::start_listening(env, &format!("127.0.0.1:{port}"), |_| {})
    }

    pub fn start_with(env: &TestEnv, customize: impl FnOnce(&mut Command)) -> Self {
        Self::start_listening(env, "127.0.0.1:0", customize)
    }

    pub fn start_listening(
        env: &TestEnv,
        listen: &str,
        customize: impl FnOnce(&mut Command),
    ) -> Self {
        let notify = NotifySocket::new(&env.root);
        let stderr_path = env.root.join(format!(
            "daemon-{}.log",
            COUNTER.fetch_add(1, Ordering::SeqCst)
        ));
        let mut cmd = env.clown();
        cmd.args(["daemon", "--listen", listen])
            .env("NOTIFY_SOCKET", &notify.path)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&stderr_path).unwrap());
        customize(&mut cmd);
        let child = cmd.spawn().expect("spawn clown daemon");
        let mut daemon = Self {
            child,
            port: 0,
            token: String::new(),
            notify,
            stderr_path,
        };
        let ready = daemon.wait_ready();
        daemon.port = port_from_status(&ready).expect("STATUS names the listening port");
        daemon.token = env.token();
        daemon
    }

    fn wait_ready(&mut self) -> String {
        let deadline = Instant::now() + WAIT;
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                panic!("daemon exited early ({status}): {}", self.stderr());
            }
            let left = deadline.saturating_duration_since(Instant::now());
            assert!(!left.is_zero(), "daemon not ready: {}", self.stderr());
            if let Some(msg) = self.notify.recv(Duration::from_millis(200).min(left))
                && msg.lines().any(|l| l == "READY=1")
            {
                return msg;
            }
        }
    }

    pub fn stderr(&self) -> String {
        std::fs::read_to_string(&self.stderr_path).unwrap_or_default()
    }

    pub fn pid(&self) -> i32 {
        self.child.id() as i32
    }

    pub fn signal(&self, sig: i32) {
        // SAFETY: plain kill(2) on our own child.
        unsafe {
            libc_kill(self.pid(), sig);
        }
    }

    pub fn wait_exit(&mut self, timeout: Duration) -> ExitStatus {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                return status;
            }
            assert!(
                Instant::now() < deadline,
                "daemon did not exit within {timeout:?}"
            );
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// An authenticated request.
    pub fn api(&self, method: &str, path: &str, body: Option<&Value>) -> Resp {
        self.api_within(method, path, body, WAIT)
    }

    /// [`Daemon::api`] for a request whose answer may take longer than [`WAIT`].
    pub fn api_within(
        &self,
        method: &str,
        path: &str,
        body: Option<&Value>,
        timeout: Duration,
    ) -> Resp {
        let auth = format!("Bearer {}", self.token);
        let body = body.map(|b| b.to_string());
        let mut headers = vec![("Authorization", auth.as_str())];
        if body.is_some() {
            headers.push(("Content-Type", "application/json"));
        }
        request_within(
            self.port,
            method,
            path,
            &headers,
            body.as_deref().unwrap_or("").as_bytes(),
            timeout,
        )
    }

    pub fn get(&self, path: &str) -> Resp {
        self.api("GET", path, None)
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        // A stop ends the daemon's terminal sessions (their holders would keep them past a
        // kill); then, whatever is left, SIGKILL.
        if let Ok(None) = self.child.try_wait() {
            self.signal(SIGTERM);
            let deadline = Instant::now() + Duration::from_secs(8);
            while Instant::now() < deadline && matches!(self.child.try_wait(), Ok(None)) {
                std::thread::sleep(Duration::from_millis(10));
            }
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

unsafe extern "C" {
    #[link_name = "kill"]
    fn libc_kill(pid: i32, sig: i32) -> i32;
}

pub const SIGHUP: i32 = 1;
pub const SIGINT: i32 = 2;
pub const SIGKILL: i32 = 9;
pub const SIGTERM: i32 = 15;

pub fn send_signal(pid: i32, sig: i32) {
    // SAFETY: plain kill(2).
    unsafe {
        libc_kill(pid, sig);
    }
}

pub fn port_from_status(msg: &str) -> Option<u16> {
    let status = msg.lines().find_map(|l| l.strip_prefix("STATUS="))?;
    let addr = status.split_whitespace().find(|w| w.contains(':'))?;
    addr.trim_end_matches(',').rsplit(':').next()?.parse().ok()
}

/// A parsed HTTP response.
#[derive(Debug)]
pub struct Resp {
    pub status: u16,
    pub headers: HashMap<String, String>,
    pub body: Vec<u8>,
}

impl Resp {
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or_else(|e| {
            panic!(
                "body is not JSON ({e}): {}",
                String::from_utf8_lossy(&self.body)
            )
        })
    }

    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).to_string()
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .get(&name.to_ascii_lowercase())
            .map(String::as_str)
    }

    /// Asserts the error envelope with `status`; returns the message.
    pub fn expect_error(&self, status: u16) -> String {
        assert_eq!(self.status, status, "body: {}", self.text());
        assert_eq!(
            self.header("content-type"),
            Some("application/json"),
            "error responses are JSON"
        );
        let v = self.json();
        assert_eq!(v["success"], false, "{v}");
        let msg = v["error"].as_str().expect("error message").to_string();
        assert!(!msg.is_empty());
        msg
    }

    /// Asserts the success envelope; returns `data`.
    pub fn expect_ok(&self) -> Value {
        assert_eq!(self.status, 200, "body: {}", self.text());
        let v = self.json();
        assert_eq!(v["success"], true, "{v}");
        v["data"].clone()
    }
}

/// One request on a fresh connection with `Connection: close`.
pub fn request(port: u16, method: &str, path: &str, headers: &[(&str, &str)], body: &[u8]) -> Resp {
    request_within(port, method, path, headers, body, WAIT)
}

/// [`request`] waiting up to `timeout` for the answer.
pub fn request_within(
    port: u16,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &[u8],
    timeout: Duration,
) -> Resp {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).unwrap();
    stream.set_read_timeout(Some(timeout)).unwrap();
    write_request(&mut stream, port, method, path, headers, body, false);
    let mut reader = BufReader::new(stream);
    read_response(&mut reader)
}

/// Writes a request; `Host: 127.0.0.1:PORT` unless `headers` names a Host.
pub fn write_request(
    stream: &mut TcpStream,
    port: u16,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &[u8],
    keep_alive: bool,
) {
    let mut req = format!("{method} {path} HTTP/1.1\r\n");
    if !headers.iter().any(|(k, _)| k.eq_ignore_ascii_case("host")) {
        req.push_str(&format!("Host: 127.0.0.1:{port}\r\n"));
    }
    for (k, v) in headers {
        req.push_str(&format!("{k}: {v}\r\n"));
    }
    if !body.is_empty() || method == "POST" || method == "PUT" {
        req.push_str(&format!("Content-Length: {}\r\n", body.len()));
    }
    if !keep_alive {
        req.push_str("Connection: close\r\n");
    }
    req.push_str("\r\n");
    stream.write_all(req.as_bytes()).unwrap();
    stream.write_all(body).unwrap();
}

/// Reads one response (content-length or chunked body; none for 101/204/304).
pub fn read_response<R: BufRead>(reader: &mut R) -> Resp {
    let mut line = String::new();
    reader.read_line(&mut line).unwrap();
    let status: u16 = line
        .split_whitespace()
        .nth(1)
        .unwrap_or_else(|| panic!("bad status line {line:?}"))
        .parse()
        .unwrap();
    let headers = read_headers(reader).expect("response headers");
    let mut body = Vec::new();
    if status == 101 || status == 204 || status == 304 {
        return Resp {
            status,
            headers,
            body,
        };
    }
    match read_body(reader, &headers) {
        Some(Some(b)) => body = b,
        Some(None) => {
            reader.read_to_end(&mut body).unwrap();
        }
        None => panic!("broken response body"),
    }
    Resp {
        status,
        headers,
        body,
    }
}

/// Header lines up to the blank line, names lowercased.
pub fn read_headers<R: BufRead>(reader: &mut R) -> Option<HashMap<String, String>> {
    let mut headers = HashMap::new();
    loop {
        let mut h = String::new();
        reader.read_line(&mut h).ok()?;
        let h = h.trim_end();
        if h.is_empty() {
            return Some(headers);
        }
        if let Some((k, v)) = h.split_once(':') {
            headers.insert(k.trim().to_ascii_lowercase(), v.trim().to_string());
        }
    }
}

/// A message body framed by Content-Length or chunked encoding; `Some(None)` when
/// neither frames it, `None` when it is broken.
pub fn read_body<R: BufRead>(
    reader: &mut R,
    headers: &HashMap<String, String>,
) -> Option<Option<Vec<u8>>> {
    let mut body = Vec::new();
    if let Some(len) = headers.get("content-length") {
        body.resize(len.parse().ok()?, 0);
        reader.read_exact(&mut body).ok()?;
    } else if headers
        .get("transfer-encoding")
        .is_some_and(|t| t.contains("chunked"))
    {
        loop {
            let mut size = String::new();
            reader.read_line(&mut size).ok()?;
            let n = usize::from_str_radix(size.trim(), 16).ok()?;
            let mut chunk = vec![0u8; n + 2];
            reader.read_exact(&mut chunk).ok()?;
            if n == 0 {
                break;
            }
            body.extend_from_slice(&chunk[..n]);
        }
    } else {
        return Some(None);
    }
    Some(Some(body))
}

/// A port nobody listens on right now.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Polls `f` until it returns Some, or panics after `timeout`.
pub fn wait_until<T>(timeout: Duration, what: &str, mut f: impl FnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(v) = f() {
            return v;
        }
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Asserts `f` holds at every look for `window` — for what must not happen, over the
/// time in which it would have (a restart delay, an idle timeout).
pub fn holds_for(window: Duration, what: &str, mut f: impl FnMut() -> bool) {
    let deadline = Instant::now() + window;
    while Instant::now() < deadline {
        assert!(f(), "{what} stopped holding");
        std::thread::sleep(Duration::from_millis(20));
    }
    assert!(f(), "{what} stopped holding");
}

/// Where `scripts/prepare-tests` installed the real agents (claude, codex).
pub fn deps_bin() -> PathBuf {
    let dir = std::env::var("CLOWN_TEST_DEPS")
        .map(PathBuf::from)
        .unwrap_or_else(|_| {
            PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(".deps/node_modules/.bin")
        });
    assert!(
        dir.join("claude").exists() && dir.join("codex").exists(),
        "the real agents are missing from {}; run scripts/test (or scripts/prepare-tests) first",
        dir.display()
    );
    dir
}

/// PATH with the real agents first.
pub fn path_with_deps() -> String {
    format!(
        "{}:{}",
        deps_bin().display(),
        std::env::var("PATH").unwrap_or_default()
    )
}

/// Creates a profile through the API and asserts success.
pub fn create_profile(d: &Daemon, body: Value) -> Value {
    d.api("POST", "/api/profiles", Some(&body)).expect_ok()
}
