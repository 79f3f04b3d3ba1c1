//! The proxy child against the processes it shields the key from: its plan never sits in
//! its environment or on its command line, other processes of the same user can read
//! neither its memory nor its `/proc` files, and the credential it holds towards the
//! daemon records its own profile's usage and does nothing else.

use std::os::unix::fs::FileExt;
use std::os::unix::process::CommandExt;
use std::process::Command;

use serde_json::{Value, json};

use super::*;
use crate::upstream::{Script, Upstream};

unsafe extern "C" {
    fn geteuid() -> u32;
    fn getegid() -> u32;
}

/// The uid and gid of "another process of the same user": `nobody` when the tests run
/// as root (root passes every ptrace check, so it cannot stand for a user), else the
/// tests' own user.
fn plain_user() -> (u32, u32, bool) {
    // SAFETY: geteuid/getegid cannot fail.
    let (uid, gid) = unsafe { (geteuid(), getegid()) };
    if uid == 0 {
        (65534, 65534, true)
    } else {
        (uid, gid, false)
    }
}

fn chown_tree(path: &std::path::Path, uid: u32, gid: u32) {
    std::os::unix::fs::lchown(path, Some(uid), Some(gid)).unwrap();
    if path.is_dir() && !path.is_symlink() {
        for e in std::fs::read_dir(path).unwrap().flatten() {
            chown_tree(&e.path(), uid, gid);
        }
    }
}

/// Whether a process of `uid` can open `file` of process `pid` (and what it says). The
/// file is read too, except `mem`, whose offset 0 is never mapped.
fn can_open_as(uid: u32, gid: u32, pid: u32, file: &str) -> (bool, String) {
    let out = Command::new("python3")
        .arg("-c")
        .arg("import sys; f = open(sys.argv[1], 'rb'); sys.argv[1].endswith('mem') or f.read(1)")
        .arg(format!("/proc/{pid}/{file}"))
        .uid(uid)
        .gid(gid)
        .output()
        .unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stderr).to_string(),
    )
}

#[test]
fn same_user_processes_cannot_read_the_proxy() {
    let up = Upstream::start(Script::default());
    let env = TestEnv::new("px-dump");
    env.write_config(&config(""));
    let (uid, gid, switch) = plain_user();
    if switch {
        chown_tree(&env.root, uid, gid);
    }
    let notify = env.root.join("notify.sock");
    let d = Daemon::start_with(&env, |cmd| {
        if switch {
            std::os::unix::fs::chown(&notify, Some(uid), Some(gid)).unwrap();
            cmd.uid(uid).gid(gid);
        }
    });
    create_profile(&d, profile("dump", &up.url(), json!({"enabled": true})));
    let pid = wait_status(&d, "dump", "running")["pid"].as_u64().unwrap() as u32;
    assert_eq!(
        std::fs::metadata(format!("/proc/{pid}/environ"))
            .map(|m| std::os::unix::fs::MetadataExt::uid(&m))
            .unwrap(),
        0,
        "a non-dumpable process's /proc files belong to root"
    );
    // The daemon, same user, is an ordinary process: its files open, so the refusals
    // below are the proxy's doing.
    let daemon = d.pid() as u32;
    for file in ["environ", "mem"] {
        let (ok, err) = can_open_as(uid, gid, daemon, file);
        assert!(ok, "the control: {file} of the daemon: {err}");
        let (ok, err) = can_open_as(uid, gid, pid, file);
        assert!(!ok, "a process of the same user opened the proxy's {file}");
        assert!(err.contains("Permission denied"), "{err}");
    }
    // And the proxy still works.
    let (port, token) = endpoint(&d, "dump");
    let r = post(
        port,
        &[("x-api-key", &token)],
        &message("claude-sonnet-4", false),
    );
    assert_eq!(r.status, 200, "{}", r.text());
}

/// The writable memory of `pid` (heap, stacks, data), read as root.
fn writable_memory(pid: u32) -> Vec<u8> {
    let maps = std::fs::read_to_string(format!("/proc/{pid}/maps")).unwrap();
    let mem = std::fs::File::open(format!("/proc/{pid}/mem")).unwrap();
    let mut out = Vec::new();
    for line in maps.lines() {
        let mut fields = line.split_whitespace();
        let (Some(range), Some(perms)) = (fields.next(), fields.next()) else {
            continue;
        };
        if !perms.starts_with("rw") {
            continue;
        }
        let (a, b) = range.split_once('-').unwrap();
        let (a, b) = (
            u64::from_str_radix(a, 16).unwrap(),
            u64::from_str_radix(b, 16).unwrap(),
        );
        let mut buf = vec![0u8; (b - a) as usize];
        if mem.read_exact_at(&mut buf, a).is_ok() {
            out.extend_from_slice(&buf);
        }
    }
    out
}

fn find(haystack: &[u8], needle: &[u8]) -> Vec<usize> {
    haystack
        .windows(needle.len())
        .enumerate()
        .filter(|(_, w)| *w == needle)
        .map(|(i, _)| i)
        .collect()
}

/// The usage tokens found in `memory`.
fn usage_tokens(memory: &[u8]) -> Vec<String> {
    let prefix = b"clown-usage-";
    let mut found: Vec<String> = find(memory, prefix)
        .into_iter()
        .filter_map(|i| memory.get(i..i + prefix.len() + 64))
        .filter(|t| t[prefix.len()..].iter().all(u8::is_ascii_hexdigit))
        .map(|t| String::from_utf8_lossy(t).to_string())
        .collect();
    found.sort();
    found.dedup();
    found
}

fn with_token(d: &Daemon, token: &str, method: &str, path: &str, body: Option<&Value>) -> Resp {
    let auth = format!("Bearer {token}");
    let body = body.map(Value::to_string).unwrap_or_default();
    request(
        d.port,
        method,
        path,
        &[
            ("Authorization", &auth),
            ("Content-Type", "application/json"),
        ],
        body.as_bytes(),
    )
}

fn limits(profile: &str) -> Value {
    json!({"profile": profile, "provider": "anthropic", "ts": jiff::Timestamp::now().as_second(),
           "http_status": 200, "headers": {"anthropic-ratelimit-unified-status": "allowed"}})
}

fn event(profile: &str, source: &str) -> Value {
    json!({"profile": profile, "model": "claude-sonnet-4", "source": source,
           "input_tokens": 3, "output_tokens": 4})
}

fn inspected(profile: &str) -> Value {
    json!({"profile": profile, "id": 1, "at_ms": 1, "method": "POST", "path": "/v1/messages",
           "route": "default", "target": "anthropic", "status": 200, "duration_ms": 1.0})
}

#[test]
fn the_proxy_holds_a_usage_token_not_the_daemons() {
    let (_, _, root) = plain_user();
    assert!(
        root,
        "this test reads the proxy's memory, which needs root (CI runs the tests as root)"
    );
    let up = Upstream::start(Script::default());
    let (env, d) = start("px-token", "");
    create_profile(&d, profile("own", &up.url(), json!({"enabled": true})));
    create_profile(&d, profile("other", &up.url(), json!({})));
    let pid = wait_status(&d, "own", "running")["pid"].as_u64().unwrap() as u32;
    // Environment and command line: no key, no token of any kind.
    for file in ["environ", "cmdline"] {
        let text = String::from_utf8_lossy(&std::fs::read(format!("/proc/{pid}/{file}")).unwrap())
            .to_string();
        assert!(
            !text.contains(&KEY[..20]),
            "the key is in the proxy's {file}"
        );
        assert!(
            !text.contains(&d.token),
            "the daemon's token is in the proxy's {file}"
        );
        assert!(!text.contains("clown-usage-"), "{file}: {text}");
    }
    // Its memory holds the key (it needs it) and one usage token, but nowhere the
    // daemon's own token: not in its plan, not anywhere.
    let memory = writable_memory(pid);
    assert!(
        !find(&memory, KEY.as_bytes()).is_empty(),
        "the scan sees the plan"
    );
    assert!(
        find(&memory, d.token.as_bytes()).is_empty(),
        "the daemon's token is in the proxy's memory"
    );
    let tokens = usage_tokens(&memory);
    assert_eq!(tokens.len(), 1, "{tokens:?}");
    let usage = &tokens[0];
    // That token opens no route but recording usage.
    let doc = d.get("/api/openapi.json").json();
    let mut tried = 0;
    for (path, ops) in doc["paths"].as_object().unwrap() {
        if !path.starts_with("/api") && !path.starts_with("/ws") {
            continue;
        }
        // A share link's socket is opened by the link's token in its path, whatever the
        // bearer (tests/it/share.rs): an unknown link is a 401 for anyone.
        if path.starts_with("/ws/share/") {
            continue;
        }
        for method in ops.as_object().unwrap().keys() {
            let method = method.to_uppercase();
            if (method.as_str(), path.as_str()) == ("POST", "/api/usage/record") {
                continue;
            }
            let concrete = path
                .split('/')
                .map(|s| if s.starts_with('{') { "own" } else { s })
                .collect::<Vec<_>>()
                .join("/");
            let r = with_token(&d, usage, &method, &concrete, Some(&json!({})));
            let msg = r.expect_error(403);
            assert!(msg.contains("only record usage"), "{method} {path}: {msg}");
            tried += 1;
        }
    }
    assert!(tried > 20, "{tried} routes tried");
    // Not as a cookie either.
    let cookie = format!("clown_session={usage}");
    request(d.port, "GET", "/api/profiles", &[("Cookie", &cookie)], b"").expect_error(401);
    // It records its own profile's proxy events, and nothing else; a refused batch
    // records nothing.
    let record = |body: Value| with_token(&d, usage, "POST", "/api/usage/record", Some(&body));
    let r = record(json!({"events": [event("own", "proxy")]}));
    assert_eq!(r.expect_ok()["events_added"], 1);
    // So does a batch it sends from behind (stored at once, not on the daemon's lane),
    // checked the same.
    let behind = |body: Value| {
        with_token(
            &d,
            usage,
            "POST",
            "/api/usage/record?backlog=true",
            Some(&body),
        )
    };
    let r = behind(json!({"events": [event("own", "proxy")]}));
    assert_eq!(r.expect_ok()["events_added"], 1);
    let msg = behind(json!({"events": [event("other", "proxy")]})).expect_error(403);
    assert!(msg.contains("proxy's token"), "{msg}");
    // And the rate limits its own profile's provider sent.
    let r = record(json!({"limits": [limits("own")]}));
    assert_eq!(r.expect_ok()["limits_changed"], 1);
    for body in [
        json!({"events": [event("own", "proxy"), event("other", "proxy")]}),
        json!({"events": [event("own", "cli")]}),
        json!({"sessions": [{"profile": "own", "started_at": 1, "source": "proxy"}]}),
        json!({"limits": [limits("other")]}),
        json!({"inspected": [inspected("other")]}),
        json!({"pool": {"profile": "other", "at_ms": 1, "members": []}}),
        json!({"request_counts": [{"profile": "other", "target": "anthropic", "status": 200,
            "duration": {"buckets": [1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0], "count": 1, "sum": 0.001}}]}),
    ] {
        let msg = record(body.clone()).expect_error(403);
        assert!(msg.contains("proxy's token"), "{body}: {msg}");
    }
    // Its own inspector entries are kept, bounded: an oversized one is refused whole.
    let mut big = inspected("own");
    big["error"] = json!("x".repeat(300 * 1024));
    let msg = record(json!({"inspected": [inspected("own"), big]})).expect_error(400);
    assert!(msg.contains("inspected[1]: error is longer than"), "{msg}");
    record(json!({"inspected": [inspected("own")]})).expect_ok();
    let kept = d.get("/api/proxy/own/requests").expect_ok();
    assert_eq!(kept["requests"].as_array().unwrap().len(), 1, "{kept}");
    assert!(d.get("/api/proxy/other/requests").expect_ok()["requests"] == json!([]));
    assert_eq!(usage_events(&env).len(), 2);
    // The daemon's token still records anything.
    let r = d.api(
        "POST",
        "/api/usage/record",
        Some(&json!({"events": [event("other", "cli")]})),
    );
    assert_eq!(r.expect_ok()["events_added"], 1);
    // A new start of the proxy gets a new token; the old one is dead.
    d.api("POST", "/api/proxy/own/stop", None).expect_ok();
    d.api("POST", "/api/proxy/own/start", None).expect_ok();
    let pid = wait_status(&d, "own", "running")["pid"].as_u64().unwrap() as u32;
    let fresh = usage_tokens(&writable_memory(pid));
    assert_eq!(fresh.len(), 1, "{fresh:?}");
    assert_ne!(&fresh[0], usage);
    record(json!({"events": [event("own", "proxy")]})).expect_error(401);
    // And the proxy's own reports go through with it.
    let (port, token) = endpoint(&d, "own");
    let r = post(
        port,
        &[("x-api-key", &token)],
        &message("claude-sonnet-4", false),
    );
    assert_eq!(r.status, 200, "{}", r.text());
    wait_events(&env, 3);
}
