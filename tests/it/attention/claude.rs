//! The real Claude Code in a terminal session, against the test upstream scripted to
//! make it run `mkdir` (which it asks permission for): the hooks installed at launch
//! report each step, the session goes to "needs input", one webhook fires, answering
//! moves it back to "working", and the end of the turn gives "turn finished".

use serde_json::json;

use super::*;
use crate::upstream::{Script, Upstream};

const KEY: &str = "sk-ant-api03-ATTENTION-0123456789-abcdefghijklmnop-QRST";

#[test]
fn real_claude_code_asks_permission_and_the_state_follows() {
    let env = TestEnv::new("att-claude");
    let receiver = Receiver::start();
    env.write_config(&format!(
        "[agents]\nextra_paths = [\"{deps}\"]\n\n\
         [[notifications.webhooks]]\nurl = \"{json}\"\n\n\
         [[notifications.webhooks]]\nurl = \"{ntfy}\"\nformat = \"ntfy\"\nprofiles = [\"work\"]\nstates = [\"needs_input\"]\n\n\
         [[notifications.webhooks]]\nurl = \"{other}\"\nprofiles = [\"someone-else\"]\n",
        deps = deps_bin().display(),
        json = receiver.url("/hook"),
        ntfy = receiver.url("/ntfy/clown-topic"),
        other = receiver.url("/other"),
    ));
    let d = Daemon::start(&env);
    let project = env.root.join("project");
    std::fs::create_dir_all(&project).unwrap();
    let made = project.join("made_by_claude");
    let up = Upstream::start(Script {
        reply: "THE-DIRECTORY-IS-MADE".into(),
        tool_call: Some((
            "Bash".into(),
            json!({"command": format!("mkdir -p {}", made.display()), "description": "Create a directory"})
                .to_string(),
        )),
        ..Default::default()
    });
    create_profile(
        &d,
        json!({"agent_id": "claude", "alias": "work", "provider_id": "anthropic",
               "model": "claude-sonnet-4", "api_key": KEY, "base_url": up.url()}),
    );
    // 2.1.332 starts in auto mode, whose check needs Anthropic: the classic prompt, as a
    // user who set it would see it. The hooks installed at launch go in beside it.
    let home = env.home.join(".claude-profiles/work");
    std::fs::write(
        home.join("settings.json"),
        r#"{"permissions":{"defaultMode":"default"},"hooks":{"Stop":[{"hooks":[{"type":"command","command":"true"}]}]}}"#,
    )
    .unwrap();
    let mut events = Events::open(&d);
    let id = d
        .api(
            "POST",
            "/api/terminal/sessions",
            Some(&json!({"profile_alias": "work", "cols": 120, "rows": 40,
                         "working_dir": project.display().to_string()})),
        )
        .expect_ok()["session_id"]
        .as_str()
        .unwrap()
        .to_string();
    let settings: Value =
        serde_json::from_slice(&std::fs::read(home.join("settings.json")).unwrap()).unwrap();
    assert_eq!(settings["permissions"]["defaultMode"], "default");
    assert_eq!(
        settings["hooks"]["Stop"][0]["hooks"][0]["command"], "true",
        "{settings}"
    );
    assert!(
        settings["hooks"]["PermissionRequest"][0]["hooks"][0]["command"]
            .as_str()
            .unwrap()
            .ends_with("hook claude"),
        "{settings}"
    );
    let screen = Screen::attach(&d, &id);
    let mut keys = screen.keys.clone_sender();
    screen.wait_after(0, "for shortcuts", Duration::from_secs(60));
    assert_eq!(
        d.get(&format!("/api/terminal/sessions/{id}")).expect_ok()["attention"],
        "idle"
    );

    let mark = screen.len();
    keys.send_binary(b"please MKDIR now");
    screen.wait_after(mark, "MKDIRnow", WAIT);
    keys.send_binary(b"\r");
    events.wait(&id, "working", Duration::from_secs(60));
    let (asked, _) = events.wait(&id, "needs_input", Duration::from_secs(60));
    assert_eq!(asked["source"], "hook", "{asked}");
    assert_eq!(asked["message"], "Permission to use Bash");
    assert_eq!(asked["profile_alias"], "work");
    screen.wait_after(mark, "Do you want to proceed?", WAIT);
    let info = d.get(&format!("/api/terminal/sessions/{id}")).expect_ok();
    assert_eq!(info["attention"], "needs_input");
    assert_eq!(info["looked_at"], false);
    let waiting = d.get("/api/terminal/sessions?waiting=true").expect_ok();
    assert_eq!(waiting[0]["id"], id.as_str(), "{waiting}");
    let listed = env
        .cli(&d)
        .args(["terminal", "list", "--waiting"])
        .output()
        .unwrap();
    let listed = String::from_utf8_lossy(&listed.stdout);
    assert!(
        listed.contains("needs_input") && listed.contains(&id),
        "{listed}"
    );
    // The webhooks: the JSON one and the ntfy one, once each; none for another profile.
    let hooks = wait_until(WAIT, "the needs_input webhook", || {
        let got = receiver.to("/hook");
        (!got.is_empty()).then_some(got)
    });
    assert_eq!(hooks[0].json()["attention"], "needs_input");
    assert_eq!(hooks[0].json()["session_id"], id.as_str());
    assert_eq!(
        hooks[0].headers.get("content-type").map(String::as_str),
        Some("application/json")
    );
    let ntfy = wait_until(WAIT, "the ntfy webhook", || {
        let got = receiver.to("/ntfy/clown-topic");
        (!got.is_empty()).then_some(got)
    });
    assert_eq!(
        ntfy[0].headers.get("title").map(String::as_str),
        Some("clown: work needs input")
    );
    assert!(
        ntfy[0].body.contains("Permission to use Bash"),
        "{:?}",
        ntfy[0]
    );

    // Yes (Enter): back to working at once, then the turn ends.
    let mark = screen.len();
    keys.send_binary(b"\r");
    let (back, _) = events.wait(&id, "working", WAIT);
    assert_eq!(back["previous"], "needs_input");
    // Claude Code ignores keys for a moment after it shows a permission prompt (so a key
    // meant for something else does not answer it). An Enter that came too soon leaves the
    // question on the screen: after the quiet time the terminal's fallback says so
    // (needs_input again), and the user presses Enter again, as a person would.
    let mut presses = 1;
    let done = loop {
        let (ev, _) = events.wait_any(
            &id,
            &["turn_finished", "needs_input"],
            Duration::from_secs(120),
        );
        if ev["attention"] == "turn_finished" {
            break ev;
        }
        assert!(presses < 5, "Enter never answered the prompt: {ev}");
        keys.send_binary(b"\r");
        presses += 1;
    };
    assert_eq!(done["source"], "hook", "{done}");
    screen.wait_after(mark, "THE-DIRECTORY-IS-MADE", WAIT);
    assert!(made.is_dir(), "Claude Code ran the command it asked about");
    // The turn's end is a webhook of its own; the permission was notified once per wait.
    wait_until(WAIT, "the turn_finished webhook", || {
        receiver
            .to("/hook")
            .iter()
            .any(|p| p.json()["attention"] == "turn_finished")
            .then_some(())
    });
    let states: Vec<String> = receiver
        .to("/hook")
        .iter()
        .map(|p| {
            p.json()["attention"]
                .as_str()
                .unwrap_or_default()
                .to_string()
        })
        .collect();
    // One per time the session waited: the permission, and each unanswered Enter's
    // question again.
    let mut want = vec!["needs_input"; presses];
    want.push("turn_finished");
    assert_eq!(states, want);
    assert_eq!(receiver.to("/ntfy/clown-topic").len(), presses);
    assert!(receiver.to("/other").is_empty());
    // The conversation's id came with the hooks: Claude Code's own transcript file.
    let info = d.get(&format!("/api/terminal/sessions/{id}")).expect_ok();
    assert_eq!(info["attention"], "turn_finished");
    let conversation = info["conversation_id"]
        .as_str()
        .expect("a conversation id")
        .to_string();
    let transcripts: Vec<String> = std::fs::read_dir(home.join("projects"))
        .unwrap()
        .flatten()
        .flat_map(|d| std::fs::read_dir(d.path()).unwrap().flatten())
        .map(|f| f.file_name().to_string_lossy().to_string())
        .collect();
    assert!(
        transcripts.contains(&format!("{conversation}.jsonl")),
        "{conversation} not in {transcripts:?}"
    );
    d.api("DELETE", &format!("/api/terminal/sessions/{id}"), None)
        .expect_ok();
    events.wait(&id, "exited", WAIT);
}
