//! Every agent's own usage logs: clown's import against ccusage 20.0.24 on the same data,
//! in the same run (`ccusage <agent> daily --json --offline`, the native binary from
//! `.deps`), per agent. Codex's data comes from the real Codex CLI run against the test
//! upstream; the other agents' is generated in their formats (`gen.rs`).
//!
//! Equality means: the four token kinds, the total and the cost are equal (costs to
//! 1e-9 relative, ccusage prints raw floats). clown counts an agent's separately reported
//! reasoning as output (and apart as reasoning); ccusage's generic report leaves it out
//! of `outputTokens` but in `totalTokens` and bills it as output, so clown's output is
//! ccusage's `totalTokens` minus its other three kinds. Where clown decides otherwise
//! than ccusage, the test asserts the exact difference:
//! - Qwen: ccusage counts the cached tokens twice (in `inputTokens`, whose
//!   `promptTokenCount` already holds them, and again as cache reads) and prices their
//!   reads at 0.1 × input; clown counts input − cached and prices reads at the
//!   registry's 0.20 $/M (Alibaba's 20 % of input). So clown's input = ccusage's input −
//!   cache reads, and clown's cost = ccusage's − cache reads × (1.00 − 0.10) $/M.
//! - Stored costs (opencode's `cost`, Grok's `costUsdTicks`): ccusage uses them, clown
//!   prices every agent's tokens from the registry.
//! - Claude Sonnet 4/4.5 requests over 200k context: Anthropic bills the whole request at
//!   the long-context rates, which clown does; ccusage prices each kind's tokens above
//!   200k at those rates (marginal). The generated Claude data stays under 200k; a unit
//!   of the difference is asserted in `long_context_claude_is_billed_whole`.
//! - Droid sessions (one total per session, many requests) are never one long-context
//!   request for clown; ccusage applies Sonnet's above-200k rates to the session's
//!   totals (`droid_sessions_are_never_long_context`).

mod logs;

use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::{Value, json};

use crate::helpers::*;

/// The native ccusage binary installed by `scripts/prepare-tests`.
fn ccusage_bin() -> PathBuf {
    deps_bin().join("../@ccusage/ccusage-linux-x64/bin/ccusage")
}

/// `ccusage <agent> daily --json --offline` with only `vars` (and an empty HOME).
pub fn ccusage(env: &TestEnv, agent: &str, vars: &[(&str, &Path)]) -> Value {
    let empty = env.root.join("ccusage-home");
    std::fs::create_dir_all(&empty).unwrap();
    let mut cmd = Command::new(ccusage_bin());
    cmd.env_clear()
        .env("HOME", &empty)
        .env("TZ", "UTC")
        .env("PATH", "/usr/bin:/bin")
        .args([agent, "daily", "--json", "--offline"]);
    for (k, v) in vars {
        cmd.env(k, v);
    }
    let out = cmd
        .output()
        .expect("ccusage runs (scripts/prepare-tests installs it)");
    assert!(
        out.status.success(),
        "ccusage {agent}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

/// The totals both tools report, in clown's terms.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Totals {
    pub input: u64,
    pub output: u64,
    pub cache_write: u64,
    pub cache_read: u64,
    pub reasoning: Option<u64>,
    pub cost: f64,
}

/// clown's totals of one profile, all time.
pub fn clown_totals(d: &Daemon, profile: &str) -> Totals {
    let u = d
        .get(&format!("/api/usage?period=all&profile={profile}"))
        .expect_ok();
    let t = &u["total_tokens"];
    let n = |k: &str| t[k].as_u64().unwrap();
    Totals {
        input: n("input_tokens"),
        output: n("output_tokens"),
        cache_write: n("cache_creation_input_tokens"),
        cache_read: n("cache_read_input_tokens"),
        reasoning: u["total_reasoning_output_tokens"].as_u64(),
        cost: u["total_cost"]["total_cost"].as_f64().unwrap(),
    }
}

/// ccusage's totals in clown's terms: output includes what ccusage leaves out of
/// `outputTokens` but counts in `totalTokens` (reasoning reported apart).
pub fn ccusage_totals(report: &Value) -> Totals {
    let t = &report["totals"];
    let n = |k: &str| t[k].as_u64().unwrap_or(0);
    let (input, cw, cr) = (
        n("inputTokens"),
        n("cacheCreationTokens"),
        n("cacheReadTokens"),
    );
    let cost = t
        .get("costUSD")
        .or(t.get("totalCost"))
        .and_then(Value::as_f64)
        .unwrap();
    match t.get("reasoningOutputTokens") {
        // The Codex shape: output already includes the reasoning.
        Some(r) => Totals {
            input,
            output: n("outputTokens"),
            cache_write: cw,
            cache_read: cr,
            reasoning: r.as_u64(),
            cost,
        },
        None => {
            let output = n("totalTokens") - input - cw - cr;
            Totals {
                input,
                output,
                cache_write: cw,
                cache_read: cr,
                reasoning: Some(output - n("outputTokens")),
                cost,
            }
        }
    }
}

pub fn assert_equal(agent: &str, clown: Totals, cc: Totals) {
    let close = (clown.cost - cc.cost).abs() <= 1e-9 * cc.cost.abs().max(1.0);
    assert!(
        close && Totals { cost: 0.0, ..clown } == Totals { cost: 0.0, ..cc },
        "{agent}: clown {clown:?} != ccusage {cc:?}"
    );
    assert!(clown.input + clown.output > 0, "{agent}: no data compared");
}

fn import(d: &Daemon, agent: &str) -> Value {
    let r = d
        .api("POST", &format!("/api/usage/import?agent={agent}"), None)
        .expect_ok();
    assert_eq!(r[0]["agent"], agent, "{r}");
    assert_eq!(r[0]["malformed_lines"], 0, "{r}");
    r[0].clone()
}

#[test]
fn every_agent_equals_ccusage_on_the_same_data() {
    let env = TestEnv::new("usage-logs-ccusage");
    let home = env.home.clone();
    let data = logs::all(&home);
    let d = Daemon::start(&env);

    // Claude Code: the import's rules (message id + request id, sidechain replays).
    import(&d, "claude");
    assert_equal(
        "claude",
        clown_totals(&d, "@claude"),
        ccusage_totals(&ccusage(
            &env,
            "claude",
            &[("CLAUDE_CONFIG_DIR", &data.claude)],
        )),
    );
    // Gemini CLI, with a request over the 200k long-context tier.
    import(&d, "gemini");
    assert_equal(
        "gemini",
        clown_totals(&d, "@gemini"),
        ccusage_totals(&ccusage(
            &env,
            "gemini",
            &[("GEMINI_DATA_DIR", &data.gemini)],
        )),
    );
    // opencode: the SQLite store and the message files.
    import(&d, "opencode");
    assert_equal(
        "opencode",
        clown_totals(&d, "@opencode"),
        ccusage_totals(&ccusage(
            &env,
            "opencode",
            &[("OPENCODE_DATA_DIR", &data.opencode)],
        )),
    );
    import(&d, "droid");
    assert_equal(
        "droid",
        clown_totals(&d, "@droid"),
        ccusage_totals(&ccusage(
            &env,
            "droid",
            &[("DROID_SESSIONS_DIR", &data.droid)],
        )),
    );
    // Grok (Grok Build's session format, the one ccusage reads): reasoning is inside
    // ccusage's output, so only clown reports it apart.
    import(&d, "grok");
    let cc = ccusage_totals(&ccusage(&env, "grok", &[("GROK_HOME", &data.grok)]));
    let mine = clown_totals(&d, "@grok");
    assert!(mine.reasoning.unwrap() > 0);
    assert_equal(
        "grok",
        Totals {
            reasoning: None,
            ..mine
        },
        Totals {
            reasoning: None,
            ..cc
        },
    );
    // Codex CLI, generated rollouts: model switches, repeated and totals-only counts,
    // a copied event, an archived copy.
    import(&d, "codex");
    assert_equal(
        "codex (generated)",
        clown_totals(&d, "@codex"),
        ccusage_totals(&ccusage(&env, "codex", &[("CODEX_HOME", &data.codex)])),
    );

    // Qwen Code: the documented difference, exactly.
    import(&d, "qwen");
    let cc = ccusage_totals(&ccusage(&env, "qwen", &[("QWEN_DATA_DIR", &data.qwen)]));
    let mine = clown_totals(&d, "@qwen");
    assert!(cc.cache_read > 0);
    let expected = Totals {
        input: cc.input - cc.cache_read,
        cost: cc.cost - cc.cache_read as f64 * (1.00 - 0.10) / 1e6,
        ..cc
    };
    assert_equal(
        "qwen (cached counted once, read at 0.20 $/M)",
        mine,
        expected,
    );

    // Nothing double counted on a second import of the same data.
    let again = d.api("POST", "/api/usage/import", None).expect_ok();
    for a in again.as_array().unwrap() {
        assert_eq!(a["events_added"], 0, "{a}");
    }
}

#[test]
fn real_codex_rollouts_equal_ccusage() {
    use crate::upstream::{Script, Upstream};
    let up = Upstream::start(Script {
        reply: "PONG-FROM-CODEX".into(),
        input_tokens: 2100,
        cache_read_input_tokens: 700,
        output_tokens: 90,
        reasoning_output_tokens: 40,
        ..Default::default()
    });
    let env = TestEnv::new("usage-logs-codex");
    let d = Daemon::start(&env);
    create_profile(
        &d,
        json!({"agent_id": "codex", "alias": "cx", "provider_id": "openai", "model": "gpt-5",
               "api_key": "sk-proj-usage-0123456789-abcdefghijklmnop", "base_url": format!("{}/v1", up.url())}),
    );
    let project = env.root.join("project");
    std::fs::create_dir_all(&project).unwrap();
    let run = |args: &[&str]| {
        let out = env
            .cli(&d)
            .args([
                "profiles",
                "run",
                "cx",
                "--",
                "exec",
                "--skip-git-repo-check",
            ])
            .args(args)
            .env("PATH", path_with_deps())
            .current_dir(&project)
            .stdin(std::process::Stdio::null())
            .output()
            .unwrap();
        assert!(
            out.status.success()
                && String::from_utf8_lossy(&out.stdout).contains("PONG-FROM-CODEX"),
            "codex: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    };
    run(&["say pong"]);
    // A resumed session appends to the same rollout.
    run(&["resume", "--last", "say pong again"]);
    let requests = up.responses().len() as u64;
    assert!(requests >= 2);
    // The daemon may have followed the rollout already: the import then finds it unchanged.
    let summary = import(&d, "codex");
    let files =
        summary["files_read"].as_u64().unwrap() + summary["files_unchanged"].as_u64().unwrap();
    assert!(files >= 1, "{summary}");
    let mine = clown_totals(&d, "cx");
    // Every request the upstream answered, exactly once.
    assert_eq!(
        (mine.input, mine.cache_read, mine.output, mine.reasoning),
        (
            2100 * requests,
            700 * requests,
            90 * requests,
            Some(40 * requests)
        ),
        "{summary}"
    );
    let home = env.home.join(".codex-profiles/cx");
    assert_equal(
        "codex (real)",
        mine,
        ccusage_totals(&ccusage(&env, "codex", &[("CODEX_HOME", &home)])),
    );
}

#[test]
fn stored_costs_are_not_used() {
    let env = TestEnv::new("usage-logs-stored-cost");
    let home = env.home.clone();
    let (opencode, grok) = logs::with_stored_costs(&home);
    let d = Daemon::start(&env);
    import(&d, "opencode");
    import(&d, "grok");
    // opencode's message says $0.50; ccusage takes it, clown prices 1,000 input and
    // 100 output tokens of claude-sonnet-4-20250514 at 3 / 15 $/M.
    let cc = ccusage_totals(&ccusage(
        &env,
        "opencode",
        &[("OPENCODE_DATA_DIR", &opencode)],
    ));
    let mine = clown_totals(&d, "@opencode");
    assert!((cc.cost - 0.5).abs() < 1e-12, "{cc:?}");
    assert!((mine.cost - 0.0045).abs() < 1e-12, "{mine:?}");
    assert_equal(
        "opencode tokens",
        Totals { cost: 0.0, ..mine },
        Totals { cost: 0.0, ..cc },
    );
    // Grok's 123456789 ticks of 1e-10 USD: ccusage 0.0123456789; clown 50,000 input and
    // 1,000 output tokens of grok-4 at 3 / 15 $/M = 0.165.
    let cc = ccusage_totals(&ccusage(&env, "grok", &[("GROK_HOME", &grok)]));
    let mine = clown_totals(&d, "@grok");
    assert!((cc.cost - 0.0123456789).abs() < 1e-12, "{cc:?}");
    assert!((mine.cost - 0.165).abs() < 1e-12, "{mine:?}");
}

#[test]
fn long_context_claude_is_billed_whole() {
    let env = TestEnv::new("usage-logs-long");
    let dir = logs::claude_long(&env.home);
    let d = Daemon::start(&env);
    import(&d, "claude");
    let cc = ccusage_totals(&ccusage(&env, "claude", &[("CLAUDE_CONFIG_DIR", &dir)]));
    let mine = clown_totals(&d, "@claude");
    // 300,000 input and 1,000 output tokens of claude-sonnet-4-20250514. Anthropic and
    // clown: the whole request at 6 / 22.5 $/M = 1.8225. ccusage: the first 200,000
    // input tokens at 3, the rest at 6, output at 15 = 1.215.
    assert!((cc.cost - 1.215).abs() < 1e-9, "{cc:?}");
    assert!((mine.cost - 1.8225).abs() < 1e-9, "{mine:?}");
    assert_equal(
        "claude tokens",
        Totals { cost: 0.0, ..mine },
        Totals { cost: 0.0, ..cc },
    );
}

#[test]
fn droid_sessions_are_never_long_context() {
    let env = TestEnv::new("usage-logs-droid-long");
    let dir = logs::droid_long(&env.home);
    let d = Daemon::start(&env);
    import(&d, "droid");
    let cc = ccusage_totals(&ccusage(&env, "droid", &[("DROID_SESSIONS_DIR", &dir)]));
    let mine = clown_totals(&d, "@droid");
    // A Droid session is the total of many requests, not one request over 200k: clown
    // prices it at Sonnet 4.5's base rates: 1,000 × 3 + 2,000 × 15 + 300,000 × 0.30 $/M
    // = 0.123. ccusage prices the cache reads above 200,000 at the long-context 0.60:
    // 0.153.
    assert!((mine.cost - 0.123).abs() < 1e-9, "{mine:?}");
    assert!((cc.cost - 0.153).abs() < 1e-9, "{cc:?}");
    assert_equal(
        "droid tokens",
        Totals { cost: 0.0, ..mine },
        Totals { cost: 0.0, ..cc },
    );
}

#[test]
fn a_first_droid_import_marks_each_file_as_read() {
    // A first import leaves each file's stat to its reader: the marks it commits must
    // still hold the files' sizes and times, so the next import opens none of them, and
    // only the session rewritten since is read again.
    let env = TestEnv::new("usage-logs-droid-marks");
    env.write_config("[usage]\nwatch = false\n");
    let dir = logs::droid_long(&env.home);
    let second = dir.join("-w/eeee0000-0000-4000-8000-000000000002.settings.json");
    // Yesterday (an older event, read again, would be left to what the retention kept).
    let iso = jiff::Timestamp::from_second(jiff::Timestamp::now().as_second() - 86_400)
        .unwrap()
        .strftime("%Y-%m-%dT%H:%M:%S.000Z")
        .to_string();
    let session = |input: u64| {
        json!({"model": "claude-sonnet-4-5-20250929", "providerLock": "anthropic",
               "providerLockTimestamp": iso,
               "tokenUsage": {"inputTokens": input, "outputTokens": 1, "cacheCreationTokens": 0,
                              "cacheReadTokens": 0, "thinkingTokens": 0}})
        .to_string()
    };
    std::fs::write(&second, session(10)).unwrap();
    let d = Daemon::start(&env);
    let first = import(&d, "droid");
    assert_eq!(
        (
            first["files_read"].as_u64(),
            first["files_unchanged"].as_u64()
        ),
        (Some(2), Some(0)),
        "{first}"
    );
    assert_eq!(clown_totals(&d, "@droid").input, 1010);
    let again = import(&d, "droid");
    assert_eq!(
        (
            again["files_read"].as_u64(),
            again["files_unchanged"].as_u64()
        ),
        (Some(0), Some(2)),
        "{again}"
    );
    std::fs::write(&second, session(2500)).unwrap();
    let grown = import(&d, "droid");
    assert_eq!(
        (
            grown["files_read"].as_u64(),
            grown["files_unchanged"].as_u64()
        ),
        (Some(1), Some(1)),
        "{grown}"
    );
    assert_eq!(clown_totals(&d, "@droid").input, 3500);
}
