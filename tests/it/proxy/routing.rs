//! Routing by scenario: rules per profile (background, thinking, long context, web
//! search, sub-agent tag), the first match wins, the default otherwise; set through the
//! API and the CLI, checked, and each request's decision in the inspector.

use serde_json::{Value, json};

use super::*;
use crate::helpers::*;
use crate::upstream::{Script, Upstream};

fn clown(env: &TestEnv, d: &Daemon, args: &[&str]) -> (bool, String, String) {
    let out = env.cli(d).args(args).output().unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).to_string(),
        String::from_utf8_lossy(&out.stderr).to_string(),
    )
}

/// The inspector's entries of `alias` once `n` are there.
pub fn inspected(d: &Daemon, alias: &str, n: usize) -> Vec<Value> {
    wait_until(WAIT, &format!("{n} inspected requests of {alias}"), || {
        let v = d
            .get(&format!("/api/proxy/{alias}/requests?limit=1000"))
            .expect_ok();
        let list = v["requests"].as_array().cloned().unwrap_or_default();
        (list.len() >= n).then_some(list)
    })
}

#[test]
fn requests_go_where_the_first_matching_rule_says() {
    let main = Upstream::start(Script::default());
    let other = Upstream::start(Script {
        reply: "FROM-DEEPSEEK".into(),
        ..Default::default()
    });
    let (env, d) = start("px-routing", "");
    let fallback =
        json!([{"provider_id": "deepseek", "base_url": other.url(), "model": "deepseek-chat"}]);
    create_profile(
        &d,
        profile(
            "rt",
            &main.url(),
            json!({"enabled": true, "fallbacks": fallback}),
        ),
    );
    // A rule naming a provider none of the profile's targets has is refused, and
    // changes nothing.
    let bad = d.api(
        "PUT",
        "/api/profiles/rt/proxy",
        Some(&json!({"enabled": true, "fallbacks": fallback,
                     "routes": [{"when": "thinking", "provider_id": "openai"}]})),
    );
    let msg = bad.expect_error(400);
    assert!(
        msg.contains("proxy.routes[0]")
            && msg.contains("'openai' is none of the profile's targets"),
        "{msg}"
    );
    for (rule, want) in [
        (
            json!({"when": "background"}),
            "name a provider_id, a model or both",
        ),
        (
            json!({"when": "thinking", "model": "m", "tag": "x"}),
            "tag goes with 'subagent' only",
        ),
        (json!({"when": "sometimes", "model": "m"}), "sometimes"),
    ] {
        let r = d.api(
            "PUT",
            "/api/profiles/rt/proxy",
            Some(&json!({"enabled": true, "routes": [rule]})),
        );
        let msg = r.expect_error(400);
        assert!(msg.contains(want), "{msg}");
    }
    assert_eq!(
        d.get("/api/profiles/rt").expect_ok()["proxy"]["routes"],
        json!([])
    );
    wait_status(&d, "rt", "running");
    // The rules, through the CLI: added in order, listed, one removed.
    let add = |args: &[&str]| {
        let mut all = vec!["proxy", "route-add", "rt"];
        all.extend_from_slice(args);
        let (ok, out, err) = clown(&env, &d, &all);
        assert!(ok, "{out}{err}");
    };
    add(&["--when", "web_search", "--model", "search-model"]);
    add(&["--when", "background", "--model", "small-model"]);
    add(&[
        "--when",
        "thinking",
        "--provider",
        "deepseek",
        "--model",
        "deepseek-reasoner",
    ]);
    add(&[
        "--when",
        "subagent",
        "--tag",
        "reviewer",
        "--model",
        "review-model",
    ]);
    add(&[
        "--when",
        "long_context",
        "--threshold",
        "2000",
        "--model",
        "long-model",
    ]);
    add(&["--when", "thinking", "--model", "never-reached"]);
    let (ok, out, _) = clown(&env, &d, &["proxy", "route-remove", "rt", "6"]);
    assert!(ok, "{out}");
    let (ok, out, _) = clown(&env, &d, &["proxy", "route-remove", "rt", "9"]);
    assert!(!ok, "{out}");
    let (ok, out, _) = clown(&env, &d, &["proxy", "routes", "rt"]);
    assert!(ok, "{out}");
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines.len(), 6, "{out}");
    assert!(
        lines[3].contains("deepseek") && lines[3].contains("deepseek-reasoner"),
        "{out}"
    );
    assert!(lines[5].contains("> 2000 tokens"), "{out}");
    let rules = d.get("/api/profiles/rt").expect_ok()["proxy"]["routes"].clone();
    assert_eq!(rules.as_array().unwrap().len(), 5, "{rules}");
    // Each route_add restarted the proxy: wait for the last one.
    wait_status(&d, "rt", "running");
    let (port, token) = endpoint(&d, "rt");
    let send = |body: Value| {
        let r = post(port, &[("x-api-key", &token)], &body);
        assert_eq!(r.status, 200, "{}", r.text());
        r.text()
    };
    let mut m = message("claude-sonnet-4", false);
    // 1: nothing matches: the default route, the model as asked.
    send(m.clone());
    // 2: background (a haiku model).
    send(message("claude-haiku-4-5", false));
    // 3: thinking, to the other provider with its own URL, key scheme and model.
    m["thinking"] = json!({"type": "enabled", "budget_tokens": 1024});
    assert!(send(m.clone()).contains("FROM-DEEPSEEK"));
    // 4: a sub-agent tagged in its system prompt; 5: another tag matches nothing.
    let mut sub = message("claude-sonnet-4", false);
    sub["system"] =
        json!([{"type": "text", "text": "You review. <clown-route>reviewer</clown-route>"}]);
    send(sub.clone());
    sub["system"] = json!("<clown-route>writer</clown-route>");
    send(sub);
    // 6: long context (over 2000 tokens at four bytes a token).
    let mut long = message("claude-sonnet-4", false);
    long["messages"][0]["content"] = json!("word ".repeat(2000));
    send(long);
    // 7: web search and background at once: the first rule (web_search) wins.
    let mut both = message("claude-haiku-4-5", false);
    both["tools"] = json!([{"type": "web_search_20250305", "name": "web_search"}]);
    send(both);
    let models: Vec<Value> = main
        .messages()
        .iter()
        .map(|r| r.json()["model"].clone())
        .collect();
    assert_eq!(
        models,
        [
            "claude-sonnet-4",
            "small-model",
            "review-model",
            "claude-sonnet-4",
            "long-model",
            "search-model"
        ],
    );
    let ds = other.messages();
    assert_eq!(ds.len(), 1);
    assert_eq!(ds[0].json()["model"], "deepseek-reasoner");
    assert_eq!(
        ds[0].headers.get("authorization").map(String::as_str),
        Some(format!("Bearer {KEY}").as_str()),
        "deepseek's own scheme"
    );
    // Each decision is recorded with the request.
    let list = inspected(&d, "rt", 7);
    let got: Vec<(Value, Value, Value, Value)> = list
        .iter()
        .map(|r| {
            (
                r["route"].clone(),
                r["rule"].clone(),
                r["target"].clone(),
                r["model"].clone(),
            )
        })
        .collect();
    let want = [
        ("default", Value::Null, "anthropic", "claude-sonnet-4"),
        ("background", json!(1), "anthropic", "small-model"),
        ("thinking", json!(2), "deepseek", "deepseek-reasoner"),
        ("subagent", json!(3), "anthropic", "review-model"),
        ("default", Value::Null, "anthropic", "claude-sonnet-4"),
        ("long_context", json!(4), "anthropic", "long-model"),
        ("web_search", json!(0), "anthropic", "search-model"),
    ];
    for (g, w) in got.iter().zip(want) {
        assert_eq!(g.0, w.0, "{list:?}");
        assert_eq!(g.1, w.1, "{list:?}");
        assert_eq!(g.2, w.2, "{list:?}");
        assert_eq!(g.3, w.3, "{list:?}");
    }
    assert!(list.iter().all(|r| r["status"] == 200));
    // The CLI shows the decisions too.
    let (ok, out, _) = clown(&env, &d, &["proxy", "requests", "rt"]);
    assert!(ok, "{out}");
    assert!(out.starts_with("ID"), "{out}");
    for w in [
        "background",
        "thinking",
        "subagent",
        "long_context",
        "web_search",
        "deepseek-reasoner",
    ] {
        assert!(out.contains(w), "{w} in {out}");
    }
}
