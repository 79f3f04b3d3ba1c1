//! Sessions in worktrees: `worktree: true` starts the agent in a new git worktree on its
//! own branch off the directory's repository (two sessions never share a checkout); once
//! it has ended its changes are summarised, and it is merged, kept or removed; a directory
//! outside a repository is a clear 400.

use std::path::Path;
use std::process::Command;

use serde_json::{Value, json};

use crate::attention::Screen;
use crate::helpers::*;
use crate::terminal::setup;

fn git(dir: &Path, args: &[&str]) -> String {
    let out = Command::new("git")
        .arg("-C")
        .arg(dir)
        .args(args)
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "git {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

fn repo(root: &Path) -> std::path::PathBuf {
    let r = root.join("repo");
    std::fs::create_dir_all(r.join("src")).unwrap();
    std::fs::write(r.join("README"), "hello\n").unwrap();
    std::fs::write(r.join("src/lib.txt"), "a\nb\n").unwrap();
    git(&r, &["init", "--quiet", "-b", "main"]);
    git(&r, &["add", "."]);
    git(
        &r,
        &[
            "-c",
            "user.name=t",
            "-c",
            "user.email=t@t",
            "commit",
            "--quiet",
            "-m",
            "first",
        ],
    );
    r
}

fn start(d: &Daemon, dir: &Path, script: &str) -> Value {
    d.api(
        "POST",
        "/api/terminal/sessions",
        Some(
            &json!({"profile_alias": "t", "args": ["-c", script], "worktree": true,
                     "working_dir": dir.display().to_string()}),
        ),
    )
    .expect_ok()
}

fn wait_ended(d: &Daemon, id: &str) {
    wait_until(WAIT, "the session's end", || {
        (d.get(&format!("/api/terminal/sessions/{id}")).expect_ok()["state"] == "terminated")
            .then_some(())
    });
}

/// What the agent does in its worktree: one commit, one uncommitted change, one new file.
const WORK: &str = "echo \"IN:$(pwd) ON:$(git branch --show-current)\"; cd \"$(git rev-parse --show-toplevel)\"; \
    echo c >> src/lib.txt; git -c user.name=a -c user.email=a@a commit --quiet -am 'agent commit'; \
    echo more >> README; printf 'x\\ny\\n' > NEW; read go";

#[test]
fn a_session_in_its_own_worktree_is_merged_kept_or_removed() {
    let (env, d) = setup("worktrees", "");
    let r = repo(&env.root);
    // Started from a subdirectory: the agent is in the same place in its worktree.
    let one = start(&d, &r.join("src"), WORK)["session_id"]
        .as_str()
        .unwrap()
        .to_string();
    let two = start(
        &d,
        &r,
        "echo \"IN:$(pwd)\"; echo scratch > SCRATCH; read go",
    )["session_id"]
        .as_str()
        .unwrap()
        .to_string();
    let info = d.get(&format!("/api/terminal/sessions/{one}")).expect_ok();
    let wt_path = info["worktree"]["path"].as_str().unwrap().to_string();
    let branch = format!("clown/{}", &one[..8]);
    assert_eq!(info["worktree"]["branch"], branch.as_str());
    let screen = Screen::attach(&d, &one);
    screen.wait_after(0, &format!("IN:{wt_path}/src ON:{branch}"), WAIT);
    Screen::attach(&d, &two).wait_after(
        0,
        &format!(
            "IN:{}",
            r.join(format!(".clown/worktrees/{}", &two[..8])).display()
        ),
        WAIT,
    );
    // The repository's own checkout is untouched, and its status quiet.
    assert_eq!(git(&r, &["status", "--porcelain"]), "");
    // Not while it runs.
    let e = d
        .api(
            "POST",
            &format!("/api/terminal/sessions/{one}/worktree"),
            Some(&json!({"action": "merge"})),
        )
        .expect_error(409);
    assert!(e.contains("end it first"), "{e}");
    wait_until(WAIT, "the agent's work", || {
        r.join(".clown/worktrees")
            .join(&one[..8])
            .join("NEW")
            .exists()
            .then_some(())
    });
    let w = d
        .get(&format!("/api/terminal/sessions/{one}/worktree"))
        .expect_ok();
    assert_eq!(w["running"], true);
    screen.keys.clone_sender().send_binary(b"go\r");
    wait_ended(&d, &one);
    let w = d
        .get(&format!("/api/terminal/sessions/{one}/worktree"))
        .expect_ok();
    let c = &w["changes"];
    assert_eq!(
        (c["commits"].as_u64(), c["files_changed"].as_u64()),
        (Some(1), Some(3)),
        "{w}"
    );
    assert_eq!(
        (c["insertions"].as_u64(), c["deletions"].as_u64()),
        (Some(4), Some(0)),
        "{w}"
    );
    assert_eq!(c["uncommitted"], true);
    let files: Vec<(String, String)> = c["files"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            (
                f["status"].as_str().unwrap().into(),
                f["path"].as_str().unwrap().into(),
            )
        })
        .collect();
    assert!(
        files.contains(&("??".into(), "NEW".into()))
            && files.contains(&("M".into(), "README".into())),
        "{files:?}"
    );
    let cli = env
        .cli(&d)
        .args(["terminal", "worktree", &one[..8]])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&cli.stdout);
    assert!(
        text.contains("1 commit(s), 3 file(s) changed, 4 insertion(s)")
            && text.contains("keep|merge|remove"),
        "{text}"
    );
    // Merged: everything lands on the repository's branch; worktree and branch go.
    let m = d
        .api(
            "POST",
            &format!("/api/terminal/sessions/{one}/worktree"),
            Some(&json!({"action": "merge"})),
        )
        .expect_ok();
    assert_eq!(
        (m["outcome"].as_str(), m["exists"].as_bool()),
        (Some("merged"), Some(false))
    );
    assert_eq!(std::fs::read_to_string(r.join("NEW")).unwrap(), "x\ny\n");
    assert_eq!(
        std::fs::read_to_string(r.join("README")).unwrap(),
        "hello\nmore\n"
    );
    assert_eq!(
        std::fs::read_to_string(r.join("src/lib.txt")).unwrap(),
        "a\nb\nc\n"
    );
    assert_eq!(git(&r, &["branch", "--list", &branch]), "");
    assert!(!Path::new(&wt_path).exists());
    d.api(
        "POST",
        &format!("/api/terminal/sessions/{one}/worktree"),
        Some(&json!({"action": "remove"})),
    )
    .expect_error(409);
    // Kept, then removed: the repository never sees its change.
    Screen::attach(&d, &two)
        .keys
        .clone_sender()
        .send_binary(b"go\r");
    wait_ended(&d, &two);
    let out = env
        .cli(&d)
        .args(["terminal", "worktree", &two[..8], "keep"])
        .output()
        .unwrap();
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("kept"),
        "{out:?}"
    );
    let kept = r.join(".clown/worktrees").join(&two[..8]);
    assert!(kept.join("SCRATCH").exists());
    d.api(
        "POST",
        &format!("/api/terminal/sessions/{two}/worktree"),
        Some(&json!({"action": "remove"})),
    )
    .expect_ok();
    assert!(!kept.exists() && !r.join("SCRATCH").exists());
    // Bad requests change nothing.
    d.api(
        "POST",
        &format!("/api/terminal/sessions/{two}/worktree"),
        Some(&json!({"action": "explode"})),
    )
    .expect_error(400);
    let outside = env.root.join("not-a-repo");
    std::fs::create_dir_all(&outside).unwrap();
    let e = d
        .api(
            "POST",
            "/api/terminal/sessions",
            Some(&json!({"profile_alias": "t", "worktree": true, "working_dir": outside.display().to_string()})),
        )
        .expect_error(400);
    assert!(e.contains("is not in a git repository"), "{e}");
    d.api(
        "POST",
        "/api/terminal/sessions",
        Some(&json!({"profile_alias": "t", "worktree": "yes"})),
    )
    .expect_error(400);
    let plain = d
        .api(
            "POST",
            "/api/terminal/sessions",
            Some(&json!({"profile_alias": "t", "args": ["-c", "read x"]})),
        )
        .expect_ok()["session_id"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(
        d.get(&format!("/api/terminal/sessions/{plain}"))
            .expect_ok()
            .get("worktree")
            .is_none()
    );
    let e = d
        .get(&format!("/api/terminal/sessions/{plain}/worktree"))
        .expect_error(404);
    assert!(e.contains("has no worktree"), "{e}");
    assert_eq!(
        d.get("/api/terminal/sessions")
            .expect_ok()
            .as_array()
            .unwrap()
            .len(),
        3
    );
}
