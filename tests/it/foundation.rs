//! The daemon's HTTP surface: auth, Host/Origin checks, envelopes, status, OpenAPI,
//! login, config errors, the data-directory lock, and the CLI's self-start.

use std::time::Duration;

use serde_json::json;

use crate::helpers::*;

#[test]
fn status_needs_the_token() {
    let env = TestEnv::new("auth");
    let d = Daemon::start(&env);
    let data = d.get("/api/daemon/status").expect_ok();
    assert_eq!(data["status"], "running");
    assert_eq!(data["pid"], d.pid());
    assert_eq!(data["version"], env!("CARGO_PKG_VERSION"));
    assert_eq!(data["profiles_count"], 0);
    assert_eq!(data["active_proxies"], 0);
    assert_eq!(data["activation"], "bound");
    assert_eq!(data["listen"], json!([format!("127.0.0.1:{}", d.port)]));
    assert!(data["uptime_secs"].is_u64());

    let none = request(d.port, "GET", "/api/daemon/status", &[], b"");
    assert!(none.expect_error(401).contains("token"));
    assert_eq!(none.header("www-authenticate"), Some("Bearer"));
    let wrong = request(
        d.port,
        "GET",
        "/api/daemon/status",
        &[("Authorization", &format!("Bearer {}x", d.token))],
        b"",
    );
    wrong.expect_error(401);
    let wrong_scheme = request(
        d.port,
        "GET",
        "/api/daemon/status",
        &[("Authorization", &format!("Basic {}", d.token))],
        b"",
    );
    wrong_scheme.expect_error(401);
    // Unknown API routes do not reveal themselves before auth either.
    request(d.port, "GET", "/api/nothing", &[], b"").expect_error(401);

    // The token file is private.
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(env.state_dir().join("token"))
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o600);
    assert!(
        !d.stderr().contains(&d.token),
        "the token must never be logged"
    );
}

#[test]
fn token_survives_restart() {
    let env = TestEnv::new("token-restart");
    let first = Daemon::start(&env).token.clone();
    let d = Daemon::start(&env);
    assert_eq!(first, d.token);
    d.get("/api/daemon/status").expect_ok();
}

#[test]
fn host_allowlist() {
    let env = TestEnv::new("host");
    let d = Daemon::start(&env);
    let auth = format!("Bearer {}", d.token);
    let with_host = |host: &str| {
        request(
            d.port,
            "GET",
            "/api/daemon/status",
            &[("Host", host), ("Authorization", &auth)],
            b"",
        )
    };
    let msg = with_host(&format!("evil.example:{}", d.port)).expect_error(403);
    assert!(msg.contains("evil.example"), "{msg}");
    with_host(&format!("localhost.evil.com:{}", d.port)).expect_error(403);
    with_host("127.0.0.1:1").expect_error(403);
    with_host("127.0.0.1").expect_error(403);
    with_host(&format!("localhost:{}", d.port)).expect_ok();
    with_host(&format!("127.0.0.1:{}", d.port)).expect_ok();
    with_host(&format!("[::1]:{}", d.port)).expect_ok();
    // The UI is guarded the same way.
    let page = request(
        d.port,
        "GET",
        "/",
        &[("Host", &format!("evil.example:{}", d.port))],
        b"",
    );
    assert_eq!(page.status, 403);
}

/// The status of a WebSocket upgrade of /ws/events from `origin`.
fn upgrade(port: u16, origin: &str, token: &str) -> u16 {
    match crate::ws::try_connect(port, "/ws/events", token, origin) {
        Ok(_) => 101,
        Err(status) => status,
    }
}

#[test]
fn origin_must_match_exactly() {
    let env = TestEnv::new("origin");
    let d = Daemon::start(&env);
    let auth = format!("Bearer {}", d.token);
    let post = |origin: &str| {
        request(
            d.port,
            "POST",
            "/api/daemon/status",
            &[("Origin", origin), ("Authorization", &auth)],
            b"",
        )
    };
    for bad in [
        "http://evil.example".to_string(),
        "http://localhost.evil.com".to_string(),
        format!("http://localhost.evil.com:{}", d.port),
        format!("http://localhost:{}.evil.com", d.port),
        format!("https://localhost:{}", d.port),
        "null".to_string(),
    ] {
        let msg = post(&bad).expect_error(403);
        assert!(msg.contains("Origin"), "{bad}: {msg}");
        assert_eq!(
            upgrade(d.port, &bad, &d.token),
            403,
            "WebSocket upgrade from {bad}"
        );
    }
    // The daemon's own origin passes the guard (and reaches the route: 405 for POST here).
    let own = format!("http://127.0.0.1:{}", d.port);
    post(&own).expect_error(405);
    assert_eq!(upgrade(d.port, &own, &d.token), 101);
    assert_eq!(
        upgrade(d.port, &format!("http://localhost:{}", d.port), &d.token),
        101
    );
    // Without the token the upgrade is refused even from the right origin.
    assert_eq!(upgrade(d.port, &own, "wrong"), 401);
}

#[test]
fn envelopes_for_framework_errors() {
    let env = TestEnv::new("envelopes");
    let d = Daemon::start(&env);
    let msg = d.get("/api/no/such/route").expect_error(404);
    assert!(msg.contains("/api/no/such/route"), "{msg}");
    d.get("/ws/nothing").expect_error(404);
    let r = d.api("DELETE", "/api/daemon/status", None);
    let msg = r.expect_error(405);
    assert!(msg.contains("DELETE"), "{msg}");
    let msg = d.get("/api/daemon/logs?lines=many").expect_error(400);
    assert!(msg.contains("lines"), "{msg}");
    // Unknown non-API paths get a page, never the API or the UI's index.
    let page = d.get("/no-such-page");
    assert_eq!(page.status, 404);
    assert!(
        page.header("content-type")
            .unwrap()
            .starts_with("text/html")
    );
}

#[test]
fn openapi_describes_every_route() {
    let env = TestEnv::new("openapi");
    let d = Daemon::start(&env);
    let doc = d.get("/api/openapi.json");
    assert_eq!(doc.status, 200);
    let doc = doc.json();
    assert_eq!(doc["openapi"], "3.0.3");
    let paths = doc["paths"].as_object().unwrap();
    for required in [
        "/api/daemon/status",
        "/api/openapi.json",
        "/ws/events",
        "/login",
    ] {
        assert!(
            paths.contains_key(required),
            "{required} missing from the document"
        );
    }
    // Every documented operation is served: none falls to the "no route" fallback or 405.
    for (path, ops) in paths {
        // Asking for a restart ends this daemon (tests/it/restart.rs covers that route).
        if path == "/api/daemon/restart" {
            continue;
        }
        for method in ops.as_object().unwrap().keys() {
            // A restart would take the daemon away mid-loop (tests/it/restart.rs covers it).
            if path == "/api/daemon/restart" {
                continue;
            }
            let concrete = path
                .split('/')
                .map(|s| match s {
                    "{path}" => "app.css",
                    s if s.starts_with('{') => "x",
                    s => s,
                })
                .collect::<Vec<_>>()
                .join("/");
            let body = if method == "post" || method == "put" || method == "patch" {
                Some(json!({}))
            } else {
                None
            };
            let r = d.api(&method.to_uppercase(), &concrete, body.as_ref());
            assert_ne!(r.status, 405, "{method} {path}");
            if r.status == 404 {
                let msg = r.json()["error"].as_str().unwrap_or_default().to_string();
                assert!(
                    !msg.starts_with("No route"),
                    "{method} {path} is documented but not served"
                );
            }
        }
    }
}

#[test]
fn login_sets_a_strict_cookie() {
    let env = TestEnv::new("login");
    let d = Daemon::start(&env);
    let page = request(d.port, "GET", "/", &[], b"");
    assert_eq!(page.status, 200);
    assert!(
        page.text().contains("clown ui"),
        "the login page explains how to get in"
    );
    assert!(
        page.header("content-security-policy")
            .unwrap()
            .contains("script-src 'self'")
    );

    let wrong = request(d.port, "GET", "/login?token=nope", &[], b"");
    assert_eq!(wrong.status, 401);
    assert!(wrong.text().contains("Wrong token"));
    assert!(wrong.header("set-cookie").is_none());

    let ok = request(
        d.port,
        "GET",
        &format!("/login?token={}", d.token),
        &[],
        b"",
    );
    assert_eq!(ok.status, 303);
    assert_eq!(ok.header("location"), Some("/"));
    let cookie = ok.header("set-cookie").unwrap().to_string();
    assert!(
        cookie.contains("HttpOnly") && cookie.contains("SameSite=Strict"),
        "{cookie}"
    );
    let pair = cookie.split(';').next().unwrap();
    let r = request(
        d.port,
        "GET",
        "/api/daemon/status",
        &[("Cookie", pair)],
        b"",
    );
    r.expect_ok();
    let r = request(
        d.port,
        "GET",
        "/api/daemon/status",
        &[("Cookie", "clown_session=bad")],
        b"",
    );
    r.expect_error(401);
}

#[test]
fn invalid_config_is_a_one_line_error() {
    let env = TestEnv::new("badconfig");
    env.write_config("listen = [\"127.0.0.1:0\"\nlog = 5\n");
    let out = env.clown().arg("daemon").output().unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(err.trim().lines().count(), 1, "{err}");
    assert!(err.starts_with("error: invalid config file"), "{err}");
    assert!(err.contains("config.toml"), "{err}");
    // Nothing half-started: no database, no token.
    assert!(!env.data_dir().join("clown.db").exists());

    env.write_config("listn = [\"127.0.0.1:0\"]\n");
    let out = env.clown().arg("daemon").output().unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("listn"), "names the unknown key: {err}");
}

#[test]
fn unusable_listen_address_is_a_clear_error() {
    let env = TestEnv::new("badlisten");
    let out = env
        .clown()
        .args(["daemon", "--listen", "localhost-ish"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(err.trim().lines().count(), 1, "{err}");
    assert!(
        err.contains("invalid listen address 'localhost-ish'"),
        "{err}"
    );

    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = taken.local_addr().unwrap().to_string();
    let out = env
        .clown()
        .args(["daemon", "--listen", &addr])
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains(&format!("cannot listen on {addr}")), "{err}");
    assert!(!env.data_dir().join("clown.db").exists());
}

#[test]
fn second_daemon_on_the_same_data_refuses() {
    let env = TestEnv::new("lock");
    let d = Daemon::start(&env);
    let out = env
        .clown()
        .args(["daemon", "--listen", "127.0.0.1:0"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("another clown daemon is already running"),
        "{err}"
    );
    // The first one is unharmed.
    d.get("/api/daemon/status").expect_ok();
}

#[test]
fn cli_status_starts_the_daemon_when_nothing_listens() {
    let env = TestEnv::new("autostart");
    let port = free_port();
    env.write_config(&format!("listen = [\"127.0.0.1:{port}\"]\n"));
    let out = env.clown().args(["status", "--json"]).output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout} {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let status: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(status["status"], "running");
    assert_eq!(status["listen"], json!([format!("127.0.0.1:{port}")]));
    let pid = status["pid"].as_i64().unwrap() as i32;
    // It keeps running after the CLI exits, and logs to the state directory.
    let out = env.clown().arg("status").output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains(&format!("pid {pid}")), "{text}");
    assert!(env.state_dir().join("daemon.log").exists());
    // `clown ui` prints the login link with the token.
    let out = env.clown().arg("ui").output().unwrap();
    let link = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        link.trim(),
        format!("http://127.0.0.1:{port}/login?token={}", env.token())
    );
    send_signal(pid, SIGTERM);
    wait_until(
        Duration::from_secs(10),
        "autostarted daemon to exit",
        || {
            std::net::TcpStream::connect(("127.0.0.1", port))
                .is_err()
                .then_some(())
        },
    );
}

#[test]
fn cli_reports_an_unreachable_explicit_url() {
    let env = TestEnv::new("cli-unreachable");
    let port = free_port();
    let out = env
        .clown()
        .args(["--url", &format!("http://127.0.0.1:{port}"), "status"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.starts_with("error: cannot reach the clown daemon"),
        "{err}"
    );
}

#[test]
fn ui_assets_have_types_and_cache_headers() {
    let env = TestEnv::new("assets");
    let d = Daemon::start(&env);
    let css = request(d.port, "GET", "/assets/app.css", &[], b"");
    assert_eq!(css.status, 200);
    assert_eq!(css.header("content-type"), Some("text/css; charset=utf-8"));
    assert_eq!(css.header("cache-control"), Some("no-cache"));
    let etag = css.header("etag").unwrap().to_string();
    let again = request(
        d.port,
        "GET",
        "/assets/app.css",
        &[("If-None-Match", &etag)],
        b"",
    );
    assert_eq!(again.status, 304);
    let js = request(d.port, "GET", "/assets/js/app.js", &[], b"");
    assert_eq!(
        js.header("content-type"),
        Some("text/javascript; charset=utf-8")
    );
    let xterm = request(
        d.port,
        "GET",
        "/assets/vendor/xterm-6.0.0/xterm.mjs",
        &[],
        b"",
    );
    assert_eq!(xterm.status, 200);
    assert_eq!(
        xterm.header("cache-control"),
        Some("public, max-age=31536000, immutable")
    );
    assert_eq!(
        request(d.port, "GET", "/assets/../Cargo.toml", &[], b"").status,
        404
    );
    assert_eq!(
        request(d.port, "GET", "/assets/nope.js", &[], b"").status,
        404
    );
    // The app shell only with the cookie; its CSP allows no inline script.
    let login = request(
        d.port,
        "GET",
        &format!("/login?token={}", d.token),
        &[],
        b"",
    );
    let cookie = login
        .header("set-cookie")
        .unwrap()
        .split(';')
        .next()
        .unwrap()
        .to_string();
    let app = request(d.port, "GET", "/", &[("Cookie", &cookie)], b"");
    assert!(app.text().contains("/assets/js/app.js"));
    let csp = app.header("content-security-policy").unwrap();
    assert!(csp.contains("script-src 'self';"), "{csp}");
    assert!(!csp.contains("script-src 'self' 'unsafe-inline'"), "{csp}");
}
