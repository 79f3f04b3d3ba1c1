//! Profiles bound to projects: `clown bind` writes the directory's `.clown-profile`;
//! `clown run` and terminal sessions started there or below use its profile; bindings
//! are listed (also those found by a resolution) and removed.

use std::process::Stdio;

use serde_json::json;

use crate::helpers::*;

fn clown(
    env: &TestEnv,
    d: &Daemon,
    dir: &std::path::Path,
    args: &[&str],
) -> (bool, String, String) {
    let out = env
        .cli(d)
        .args(args)
        .current_dir(dir)
        .stdin(Stdio::null())
        .output()
        .unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).to_string(),
        String::from_utf8_lossy(&out.stderr).to_string(),
    )
}

#[test]
fn a_bound_directory_runs_its_profile_from_anywhere_below() {
    let env = TestEnv::new("bindings");
    let bin = crate::browser::install_echo_agent(&env);
    env.write_config(&format!(
        "[agents]\nextra_paths = [\"{}\"]\n",
        bin.display()
    ));
    let d = Daemon::start(&env);
    create_profile(
        &d,
        json!({"agent_id": "echoer", "alias": "proj", "provider_id": "anthropic", "api_key": "sk-echo-0123456789abcdef"}),
    );
    let project = env.root.join("project");
    let deep = project.join("src/module");
    std::fs::create_dir_all(&deep).unwrap();
    let elsewhere = env.root.join("elsewhere");
    std::fs::create_dir_all(&elsewhere).unwrap();

    let (ok, out, err) = clown(&env, &d, &project, &["bind", "proj"]);
    assert!(ok && out.contains("bound to profile 'proj'"), "{out}{err}");
    assert_eq!(
        std::fs::read_to_string(project.join(".clown-profile")).unwrap(),
        "proj\n"
    );
    // `clown run` from a directory below: the profile's agent, in that directory.
    let (ok, out, err) = clown(&env, &d, &deep, &["run", "--", "--ignored-arg"]);
    assert!(ok && out.contains("echo agent ready"), "{out}{err}");
    assert!(d.get("/api/profiles/proj").expect_ok()["last_used"].is_string());
    let (ok, _, err) = clown(&env, &d, &elsewhere, &["run"]);
    assert!(!ok && err.contains("No profile is bound"), "{err}");
    // A terminal session started in the project without naming a profile.
    let s = d
        .api(
            "POST",
            "/api/terminal/sessions",
            Some(&json!({"working_dir": deep})),
        )
        .expect_ok();
    let info = d
        .get(&format!(
            "/api/terminal/sessions/{}",
            s["session_id"].as_str().unwrap()
        ))
        .expect_ok();
    assert_eq!(info["profile_alias"], "proj");
    d.api(
        "POST",
        "/api/terminal/sessions",
        Some(&json!({"working_dir": elsewhere})),
    )
    .expect_error(404);
    d.api("POST", "/api/terminal/sessions", Some(&json!({})))
        .expect_error(400);

    // Listed; a binding written by hand is listed once a resolution found it.
    let hand = env.root.join("hand");
    std::fs::create_dir_all(&hand).unwrap();
    std::fs::write(hand.join(".clown-profile"), "proj\n").unwrap();
    let r = d
        .get(&format!(
            "/api/bindings/resolve?dir={}",
            hand.join("x").display()
        ))
        .status;
    assert_eq!(r, 400, "a missing directory is refused");
    let found = d
        .get(&format!("/api/bindings/resolve?dir={}", hand.display()))
        .expect_ok();
    assert_eq!(found, json!({"dir": hand, "profile": "proj"}));
    let list = d.get("/api/bindings").expect_ok();
    let dirs: Vec<&str> = list
        .as_array()
        .unwrap()
        .iter()
        .map(|b| b["dir"].as_str().unwrap())
        .collect();
    assert_eq!(dirs, [hand.to_str().unwrap(), project.to_str().unwrap()]);
    assert_eq!(list[1]["file_profile"], "proj");
    assert_eq!(list[1]["profile_exists"], true);
    let (ok, out, _) = clown(&env, &d, &project, &["bindings"]);
    assert!(ok && out.contains(project.to_str().unwrap()), "{out}");

    // Bad input changes nothing; unbinding removes the file.
    d.api(
        "POST",
        "/api/bindings",
        Some(&json!({"dir": project, "profile": "nobody"})),
    )
    .expect_error(404);
    d.api(
        "POST",
        "/api/bindings",
        Some(&json!({"dir": "relative", "profile": "proj"})),
    )
    .expect_error(400);
    assert_eq!(
        std::fs::read_to_string(project.join(".clown-profile")).unwrap(),
        "proj\n"
    );
    let (ok, _, err) = clown(&env, &d, &project, &["unbind"]);
    assert!(ok, "{err}");
    assert!(!project.join(".clown-profile").exists());
    d.api(
        "DELETE",
        &format!("/api/bindings?dir={}", project.display()),
        None,
    )
    .expect_error(404);
    let (ok, _, err) = clown(&env, &d, &deep, &["run"]);
    assert!(!ok && err.contains("No profile is bound"), "{err}");
}
