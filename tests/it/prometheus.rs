//! A real Prometheus (Debian's `prometheus` package) for the metrics tests: started on a
//! free port in a temporary directory with a config that scrapes one daemon every second
//! with a bearer token file, queried over its HTTP API, killed at the end.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

use serde_json::Value;

use crate::helpers::*;

pub struct Prometheus {
    child: Child,
    port: u16,
    dir: PathBuf,
}

impl Prometheus {
    pub fn start(dir: &Path, target_port: u16, token_file: &Path) -> Self {
        std::fs::create_dir_all(dir).unwrap();
        let config = dir.join("prometheus.yml");
        std::fs::write(
            &config,
            format!(
                "global:\n  scrape_interval: 1s\n  scrape_timeout: 900ms\nscrape_configs:\n  - job_name: clown\n    authorization:\n      type: Bearer\n      credentials_file: {}\n    static_configs:\n      - targets: ['127.0.0.1:{target_port}']\n",
                token_file.display()
            ),
        )
        .unwrap();
        let port = free_port();
        let child = Command::new("prometheus")
            .arg(format!("--config.file={}", config.display()))
            .arg(format!(
                "--storage.tsdb.path={}",
                dir.join("data").display()
            ))
            .arg(format!("--web.listen-address=127.0.0.1:{port}"))
            .arg("--log.level=warn")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(dir.join("prometheus.log")).unwrap())
            .spawn()
            .expect("prometheus (Debian's 'prometheus' package; .ci/run installs it)");
        let p = Self {
            child,
            port,
            dir: dir.to_path_buf(),
        };
        wait_until(WAIT, "Prometheus ready", || {
            std::net::TcpStream::connect(("127.0.0.1", port)).ok()?;
            (request(port, "GET", "/-/ready", &[], b"").status == 200).then_some(())
        });
        p
    }

    pub fn get(&self, path: &str) -> Value {
        let r = request(self.port, "GET", path, &[], b"");
        assert_eq!(r.status, 200, "{}", r.text());
        r.json()
    }

    /// The value of an instant PromQL query, when it has exactly one sample.
    pub fn query(&self, promql: &str) -> Option<f64> {
        let v = self.get(&format!("/api/v1/query?query={}", encode(promql)));
        let result = v["data"]["result"].as_array()?;
        if result.len() != 1 {
            return None;
        }
        result[0]["value"][1].as_str()?.parse().ok()
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.join("prometheus.log")).unwrap_or_default()
    }
}

impl Drop for Prometheus {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn encode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}
