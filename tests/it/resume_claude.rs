//! The real Claude Code, interrupted and resumed: a turn in a terminal session, the
//! daemon stopped (the session is interrupted), the next daemon lists it with the
//! conversation's id — the one Claude Code wrote its transcript under — and resuming it
//! runs `claude --resume ID`, which sends the earlier turn along with the next prompt;
//! the same conversation resumes under another Claude profile too.

use serde_json::json;

use crate::attention::{Events, Screen};
use crate::helpers::*;
use crate::upstream::{Script, Upstream};

const KEY: &str = "sk-ant-api03-RESUMING-0123456789-abcdefghijklmnop-QRST";

/// Whether any Messages request `up` received carries `text` in a user message.
fn sent(up: &Upstream, text: &str) -> bool {
    up.messages().iter().any(|m| {
        m.json()["messages"].as_array().is_some_and(|msgs| {
            msgs.iter()
                .any(|x| x["role"] == "user" && x["content"].to_string().contains(text))
        })
    })
}

fn turn(d: &Daemon, id: &str, prompt: &str, events: &mut Events) -> Screen {
    let screen = Screen::attach(d, id);
    let mut keys = screen.keys.clone_sender();
    screen.wait_after(0, "for shortcuts", std::time::Duration::from_secs(60));
    let mark = screen.len();
    keys.send_binary(prompt.as_bytes());
    screen.wait_after(mark, &prompt.replace(' ', ""), WAIT);
    keys.send_binary(b"\r");
    events.wait(id, "turn_finished", std::time::Duration::from_secs(60));
    screen
}

#[test]
fn real_claude_code_interrupted_and_resumed() {
    let env = TestEnv::new("resume-claude");
    env.write_config(&format!(
        "[agents]\nextra_paths = [\"{}\"]\n",
        deps_bin().display()
    ));
    let port = free_port();
    let mut d = Daemon::start_on(&env, port);
    let up = Upstream::start(Script {
        reply: "THE-FIRST-ANSWER".into(),
        ..Default::default()
    });
    for alias in ["work", "spare"] {
        create_profile(
            &d,
            json!({"agent_id": "claude", "alias": alias, "provider_id": "anthropic",
                   "model": "claude-sonnet-4", "api_key": KEY, "base_url": up.url()}),
        );
    }
    let project = env.root.join("project");
    std::fs::create_dir_all(&project).unwrap();
    let start = |d: &Daemon| {
        d.api(
            "POST",
            "/api/terminal/sessions",
            Some(&json!({"profile_alias": "work", "cols": 120, "rows": 40,
                         "working_dir": project.display().to_string()})),
        )
        .expect_ok()["session_id"]
            .as_str()
            .unwrap()
            .to_string()
    };
    let mut events = Events::open(&d);
    let id = start(&d);
    let screen = turn(&d, &id, "remember the word pelican", &mut events);
    screen.wait_after(0, "THE-FIRST-ANSWER", WAIT);
    let conversation =
        d.get(&format!("/api/terminal/sessions/{id}")).expect_ok()["conversation_id"]
            .as_str()
            .expect("the hooks named the conversation")
            .to_string();
    // Claude Code writes its transcript on its own time: the Stop hook can come first.
    wait_until(
        WAIT,
        &format!("Claude Code to write {conversation}.jsonl"),
        || {
            env.home
                .join(".claude-profiles/work/projects")
                .read_dir()
                .ok()?
                .flatten()
                .map(|e| e.path().join(format!("{conversation}.jsonl")))
                .find(|p| p.exists())
        },
    );
    // A stop of the daemon ends the session; the next daemon lists it interrupted.
    d.signal(SIGTERM);
    assert!(d.wait_exit(WAIT).success(), "{}", d.stderr());
    let d2 = Daemon::start_on(&env, port);
    let list = d2.get("/api/terminal/interrupted").expect_ok();
    assert_eq!(list[0]["id"], id.as_str(), "{list}");
    assert_eq!(list[0]["conversation_id"], conversation.as_str());
    assert_eq!(list[0]["resume_args"], json!(["--resume", conversation]));
    let convs = d2.get("/api/conversations?q=pelican").expect_ok();
    assert_eq!(convs[0]["id"], conversation.as_str(), "{convs}");
    assert_eq!(convs[0]["first_prompt"], "remember the word pelican");
    // Resumed: the next turn goes out with the first one in it.
    up.set_script(Script {
        reply: "THE-SECOND-ANSWER".into(),
        ..Default::default()
    });
    let mut events = Events::open(&d2);
    let resumed = d2
        .api(
            "POST",
            &format!("/api/terminal/interrupted/{id}/resume"),
            Some(&json!({"cols": 120, "rows": 40})),
        )
        .expect_ok()["session_id"]
        .as_str()
        .unwrap()
        .to_string();
    let pid = d2
        .get(&format!("/api/terminal/sessions/{resumed}"))
        .expect_ok()["pid"]
        .clone();
    let argv = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap();
    let argv = String::from_utf8_lossy(&argv).replace('\0', " ");
    assert!(argv.contains(&format!("--resume {conversation}")), "{argv}");
    let before = up.messages().len();
    let screen = turn(&d2, &resumed, "what was the word", &mut events);
    screen.wait_after(0, "THE-SECOND-ANSWER", WAIT);
    let after: Vec<_> = up.messages().into_iter().skip(before).collect();
    assert!(
        after.iter().any(|m| m.json()["messages"]
            .to_string()
            .contains("remember the word pelican")),
        "the resumed turn carries the first one"
    );
    // The same conversation resumed under the other profile.
    d2.api("DELETE", &format!("/api/terminal/sessions/{resumed}"), None)
        .expect_ok();
    let other = d2
        .api(
            "POST",
            "/api/conversations/resume",
            Some(
                &json!({"profile_alias": "work", "conversation_id": conversation,
                         "target_profile": "spare", "cols": 120, "rows": 40}),
            ),
        )
        .expect_ok()["session_id"]
        .as_str()
        .unwrap()
        .to_string();
    let before = up.messages().len();
    let screen = turn(&d2, &other, "and once more", &mut events);
    screen.wait_after(0, "THE-SECOND-ANSWER", WAIT);
    assert!(
        up.messages()
            .into_iter()
            .skip(before)
            .any(|m| m.json()["messages"]
                .to_string()
                .contains("remember the word pelican")),
        "resumed under 'spare', the conversation is the same"
    );
    assert!(sent(&up, "and once more"));
    d2.api("DELETE", &format!("/api/terminal/sessions/{other}"), None)
        .expect_ok();
}
