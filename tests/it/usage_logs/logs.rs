//! Usage logs in each agent's format, generated (seeded) into a home's default
//! locations, with the shapes that matter: several days and models, streaming
//! snapshots, replays and copies, ids a provider repeats, cumulative counters.

use std::io::Write;
use std::path::{Path, PathBuf};

use serde_json::{Value, json};

/// Where each agent's data went (the directory ccusage is pointed at).
pub struct Data {
    pub claude: PathBuf,
    pub codex: PathBuf,
    pub gemini: PathBuf,
    pub qwen: PathBuf,
    pub opencode: PathBuf,
    pub droid: PathBuf,
    pub grok: PathBuf,
}

/// A small seeded generator (64-bit LCG).
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        self.0 >> 33
    }
    fn range(&mut self, lo: u64, hi: u64) -> u64 {
        lo + self.next() % (hi - lo)
    }
}

fn write(path: &Path, lines: &[Value]) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    let mut f = std::fs::File::create(path).unwrap();
    for l in lines {
        writeln!(f, "{l}").unwrap();
    }
}

/// Midnight UTC `days` ago, plus `secs`, as (Unix seconds, ISO with milliseconds).
fn at(days: i64, secs: i64) -> (i64, String) {
    let today = jiff::Timestamp::now().as_second().div_euclid(86_400) * 86_400;
    let ts = today - days * 86_400 + secs;
    let iso = jiff::Timestamp::from_second(ts)
        .unwrap()
        .strftime("%Y-%m-%dT%H:%M:%S.000Z")
        .to_string();
    (ts, iso)
}

pub fn all(home: &Path) -> Data {
    Data {
        claude: claude(home),
        codex: codex(home),
        gemini: gemini(home),
        qwen: qwen(home),
        opencode: opencode(home),
        droid: droid(home),
        grok: grok(home),
    }
}

fn claude_line(
    id: &str,
    req: Option<&str>,
    session: &str,
    iso: &str,
    side: bool,
    model: &str,
    u: [u64; 5],
) -> Value {
    let mut v = json!({
        "parentUuid": null, "isSidechain": side, "userType": "external", "cwd": "/w",
        "sessionId": session, "version": "2.1.0", "type": "assistant", "timestamp": iso,
        "message": {"id": id, "type": "message", "role": "assistant", "model": model,
            "content": [{"type": "text", "text": "ok"}],
            "usage": {"input_tokens": u[0], "output_tokens": u[1],
                      "cache_creation_input_tokens": u[2], "cache_read_input_tokens": u[3],
                      "cache_creation": {"ephemeral_5m_input_tokens": u[2] - u[4], "ephemeral_1h_input_tokens": u[4]}}},
    });
    if let Some(r) = req {
        v["requestId"] = json!(r);
    }
    v
}

fn claude(home: &Path) -> PathBuf {
    let dir = home.join(".claude");
    let mut rng = Rng(1);
    let models = [
        "claude-sonnet-4-5-20250929",
        "claude-haiku-4-5-20251001",
        "claude-opus-4-1-20250805",
    ];
    for s in 0..6 {
        let session = format!("0000000{s}-aaaa-4aaa-8aaa-00000000000{s}");
        let mut lines = Vec::new();
        for m in 0..25 {
            let (_, iso) = at(10 - s as i64, 3_600 + m * 97);
            let model = models[(rng.next() % 3) as usize];
            let cw = rng.range(0, 3_000);
            let u = [
                rng.range(1, 900),
                rng.range(10, 2_000),
                cw,
                rng.range(0, 90_000),
                cw / 3,
            ];
            let (id, req) = (format!("msg_{s}_{m}"), format!("req_{s}_{m}"));
            // Streaming snapshots: the output grows, one response.
            lines.push(claude_line(
                &id,
                Some(&req),
                &session,
                &iso,
                false,
                model,
                [u[0], 1, u[2], u[3], u[4]],
            ));
            lines.push(claude_line(
                &id,
                Some(&req),
                &session,
                &iso,
                false,
                model,
                u,
            ));
            if m % 7 == 3 {
                // A /btw replay: same id and time, a new request id, on the sidechain.
                lines.push(claude_line(
                    &id,
                    Some(&format!("{req}_btw")),
                    &session,
                    &iso,
                    true,
                    model,
                    u,
                ));
            }
        }
        // A provider that repeats one message id on every request.
        for k in 0..3 {
            let (_, iso) = at(10 - s as i64, 7_200 + k * 60);
            lines.push(claude_line(
                "msg_repeated",
                Some(&format!("req_rep_{s}_{k}")),
                &session,
                &iso,
                false,
                models[0],
                [100 + k as u64, 20, 0, 5_000, 0],
            ));
        }
        write(
            &dir.join(format!("projects/-w-p{}/{session}.jsonl", s % 2)),
            &lines,
        );
    }
    dir
}

/// One request over 200k context on Sonnet 4 (see the test).
pub fn claude_long(home: &Path) -> PathBuf {
    let dir = home.join(".claude");
    let (_, iso) = at(2, 100);
    write(
        &dir.join("projects/-w/11111111-2222-4333-8444-555555555555.jsonl"),
        &[claude_line(
            "msg_long",
            Some("req_long"),
            "11111111-2222-4333-8444-555555555555",
            &iso,
            false,
            "claude-sonnet-4-20250514",
            [300_000, 1_000, 0, 0, 0],
        )],
    );
    dir
}

fn codex_count(iso: &str, total: [u64; 5], last: Option<[u64; 5]>, model: Option<&str>) -> Value {
    let u = |c: [u64; 5]| json!({"input_tokens": c[0], "cached_input_tokens": c[1], "output_tokens": c[2], "reasoning_output_tokens": c[3], "total_tokens": c[4]});
    let mut info = json!({"total_token_usage": u(total), "model_context_window": 272000});
    if let Some(l) = last {
        info["last_token_usage"] = u(l);
    }
    if let Some(m) = model {
        info["model"] = json!(m);
    }
    json!({"timestamp": iso, "type": "event_msg", "payload": {"type": "token_count", "info": info, "rate_limits": null}})
}

fn codex(home: &Path) -> PathBuf {
    let dir = home.join(".codex");
    let mut rng = Rng(2);
    let mut first_event = None;
    for s in 0..4u64 {
        let (_, start) = at(8 - s as i64, 600);
        let id = format!("0199aaaa-0000-7000-8000-00000000000{s}");
        let mut lines = vec![
            json!({"timestamp": start, "type": "session_meta", "payload": {"id": id, "timestamp": start, "cwd": "/p", "originator": "codex_exec", "cli_version": "0.171.0"}}),
            json!({"timestamp": start, "type": "turn_context", "payload": {"cwd": "/p", "model": "gpt-5-codex"}}),
        ];
        let mut total = [0u64; 5];
        for k in 0..12u64 {
            let (_, iso) = at(8 - s as i64, 700 + k as i64 * 300);
            if k == 6 {
                lines.push(json!({"timestamp": iso, "type": "turn_context", "payload": {"model": if s % 2 == 0 { "gpt-5.2" } else { "gpt-5.1-codex-mini" }}}));
            }
            let input = rng.range(2_000, 60_000);
            let cached = rng.range(0, input);
            let out = rng.range(50, 3_000);
            let reasoning = rng.range(0, out);
            let last = [input, cached, out, reasoning, input + out];
            for (t, l) in total.iter_mut().zip(last) {
                *t += l;
            }
            match k % 4 {
                // Totals only: the difference is the request.
                1 => lines.push(codex_count(&iso, total, None, None)),
                _ => lines.push(codex_count(&iso, total, Some(last), None)),
            }
            if k % 5 == 2 {
                // Codex repeats a count (new rate limits): nothing new.
                lines.push(codex_count(&iso, total, Some(last), None));
            }
            if first_event.is_none() {
                first_event = Some(lines.last().unwrap().clone());
            }
        }
        let date = &start[..10].replace('-', "/");
        let name = format!("rollout-{}-{id}.jsonl", start[..19].replace(':', "-"));
        write(&dir.join(format!("sessions/{date}/{name}")), &lines);
        if s == 0 {
            // The same rollout archived: counted once.
            write(
                &dir.join(format!("archived_sessions/{date}/{name}")),
                &lines,
            );
        }
    }
    // A fork: another session repeats an event of the first; then its own, with a model
    // named on the count itself.
    let (_, iso) = at(2, 900);
    let fork = vec![
        json!({"timestamp": iso, "type": "turn_context", "payload": {"model": "gpt-5-codex"}}),
        first_event.unwrap(),
        codex_count(
            &iso,
            [99_000, 1_000, 500, 100, 99_500],
            Some([4_000, 1_000, 500, 100, 4_500]),
            Some("gpt-5.1-codex-mini"),
        ),
    ];
    write(
        &dir.join(
            "sessions/fork/rollout-2026-01-01T00-00-00-0199bbbb-0000-7000-8000-000000000009.jsonl",
        ),
        &fork,
    );
    dir
}

fn gemini_tokens(rng: &mut Rng, big: bool) -> Value {
    let input = if big {
        250_000
    } else {
        rng.range(1_000, 40_000)
    };
    let cached = rng.range(0, input / 2);
    let (output, thoughts, tool) = (rng.range(10, 2_000), rng.range(0, 800), rng.range(0, 50));
    json!({"input": input, "output": output, "cached": cached, "thoughts": thoughts, "tool": tool,
           "total": input + output + thoughts + tool})
}

fn gemini(home: &Path) -> PathBuf {
    let tmp = home.join(".gemini/tmp");
    let mut rng = Rng(3);
    let models = ["gemini-2.5-pro", "gemini-2.5-flash"];
    // JSON sessions, rewritten whole by the CLI.
    for s in 0..3 {
        let mut messages = Vec::new();
        for m in 0..15 {
            let (_, iso) = at(9 - s, 1_000 + m * 50);
            messages.push(
                json!({"id": format!("u{m}"), "timestamp": iso, "type": "user", "content": "hi"}),
            );
            messages.push(json!({"id": format!("g{m}"), "timestamp": iso, "type": "gemini", "content": "ok",
                "model": models[(m % 2) as usize], "tokens": gemini_tokens(&mut rng, s == 1 && m == 4)}));
        }
        let doc = json!({"sessionId": format!("gem-{s}"), "projectHash": "p", "startTime": "x", "lastUpdated": "y", "messages": messages});
        let path = tmp.join(format!("proj{s}/chats/session-{s}.json"));
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, serde_json::to_string_pretty(&doc).unwrap()).unwrap();
    }
    // A JSONL session: the model carries forward.
    let (_, iso0) = at(3, 0);
    let mut lines = vec![json!({"sessionId": "gem-j", "projectHash": "p", "startTime": iso0})];
    for m in 0..10 {
        let (_, iso) = at(3, 60 + m * 30);
        let mut rec = json!({"id": format!("j{m}"), "timestamp": iso, "type": "gemini", "tokens": gemini_tokens(&mut rng, false)});
        if m % 4 == 0 {
            rec["model"] = json!(models[(m / 4 % 2) as usize]);
        }
        lines.push(rec);
    }
    write(&tmp.join("projj/chats/session-j.jsonl"), &lines);
    tmp
}

fn qwen(home: &Path) -> PathBuf {
    let dir = home.join(".qwen");
    let mut rng = Rng(4);
    let mut lines = Vec::new();
    for m in 0..30 {
        let (_, iso) = at(6 - m / 10, 500 + m * 40);
        lines.push(json!({"uuid": format!("u{m}"), "sessionId": "qwen-1", "timestamp": iso, "type": "user", "message": {"role": "user", "parts": [{"text": "hi"}]}}));
        let prompt = rng.range(2_000, 50_000);
        let cached = rng.range(0, prompt);
        let (cand, thoughts) = (rng.range(10, 1_500), rng.range(0, 400));
        lines.push(json!({"uuid": format!("a{m}"), "sessionId": "qwen-1", "timestamp": iso, "type": "assistant", "model": "qwen3-coder-plus",
            "message": {"role": "model", "parts": [{"text": "ok"}]},
            "usageMetadata": {"promptTokenCount": prompt, "candidatesTokenCount": cand, "thoughtsTokenCount": thoughts,
                              "cachedContentTokenCount": cached, "totalTokenCount": prompt + cand + thoughts}}));
    }
    write(&dir.join("projects/-w-q/chats/qwen-1.jsonl"), &lines);
    // The same session copied into another project: counted once.
    write(&dir.join("projects/-w-q-copy/chats/qwen-1.jsonl"), &lines);
    dir
}

fn opencode_message(
    rng: &mut Rng,
    id: &str,
    session: &str,
    ms: i64,
    model: (&str, &str),
    cost: f64,
) -> Value {
    json!({"id": id, "sessionID": session, "role": "assistant", "time": {"created": ms, "completed": ms + 2000},
           "modelID": model.0, "providerID": model.1, "mode": "build", "path": {"cwd": "/w", "root": "/w"}, "cost": cost,
           "tokens": {"input": rng.range(1, 3_000), "output": rng.range(10, 2_000), "reasoning": rng.range(0, 500),
                      // OpenAI reports no cache writes (ccusage would price them at a
                      // derived 1.25 × input, clown at the input price).
                      "cache": {"read": rng.range(0, 60_000), "write": if model.1 == "openai" { 0 } else { rng.range(0, 4_000) }}}})
}

fn opencode_db(path: &Path, rows: &[(String, String, i64, Value)]) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    let conn = rusqlite::Connection::open(path).unwrap();
    conn.execute_batch(
        "CREATE TABLE message (id TEXT PRIMARY KEY, session_id TEXT NOT NULL, time_created INTEGER NOT NULL, time_updated INTEGER NOT NULL, data TEXT NOT NULL)",
    )
    .unwrap();
    for (id, session, ms, data) in rows {
        let mut d = data.clone();
        let o = d.as_object_mut().unwrap();
        o.remove("id");
        o.remove("sessionID");
        conn.execute(
            "INSERT INTO message VALUES (?1, ?2, ?3, ?3, ?4)",
            rusqlite::params![id, session, ms, d.to_string()],
        )
        .unwrap();
    }
}

fn opencode(home: &Path) -> PathBuf {
    let dir = home.join(".local/share/opencode");
    let mut rng = Rng(5);
    let models = [
        ("claude-sonnet-4-20250514", "anthropic"),
        ("gpt-5", "openai"),
    ];
    let mut rows = Vec::new();
    for m in 0..20 {
        let (ts, _) = at(7 - m / 5, 300 + m * 120);
        let (id, session) = (format!("msg_{m:03}"), format!("ses_{}", m / 7));
        let v = opencode_message(
            &mut rng,
            &id,
            &session,
            ts * 1000,
            models[(m % 2) as usize],
            0.0,
        );
        if m < 15 {
            rows.push((id, session, ts * 1000, v));
        } else {
            // The older store: one file per message.
            write(
                &dir.join(format!("storage/message/{session}/{id}.json")),
                &[v],
            );
        }
    }
    // One message in both stores counts once.
    let (id, session, _, v) = rows[3].clone();
    write(
        &dir.join(format!("storage/message/{session}/{id}.json")),
        &[v],
    );
    // A user message has no usage.
    write(
        &dir.join("storage/message/ses_0/msg_user.json"),
        &[json!({"id": "msg_user", "sessionID": "ses_0", "role": "user", "time": {"created": 1}})],
    );
    opencode_db(&dir.join("opencode.db"), &rows);
    dir
}

fn droid(home: &Path) -> PathBuf {
    let dir = home.join(".factory/sessions");
    let mut rng = Rng(6);
    for s in 0..5 {
        let (_, iso) = at(6 - s, 3_000);
        let (model, cw) = if s % 2 == 0 {
            ("claude-sonnet-4-5-20250929", rng.range(0, 9_000))
        } else {
            // ccusage derives a cache-write price for OpenAI models; none written here.
            ("custom:GPT-5-Codex-[OpenAI]", 0)
        };
        let doc = json!({"model": model, "reasoningEffort": "none", "providerLock": "anthropic", "providerLockTimestamp": iso,
            "tokenUsage": {"inputTokens": rng.range(100, 20_000), "outputTokens": rng.range(100, 8_000),
                           "cacheCreationTokens": cw, "cacheReadTokens": rng.range(0, 200_000), "thinkingTokens": rng.range(0, 3_000)}});
        let id = format!("dddd000{s}-0000-4000-8000-00000000000{s}");
        write(
            &dir.join(format!("-w/{id}.settings.json")),
            std::slice::from_ref(&doc),
        );
        if s == 0 {
            // An older, smaller copy of a session: the latest counts.
            let mut old = doc;
            old["providerLockTimestamp"] = json!(at(12, 0).1);
            old["tokenUsage"]["inputTokens"] = json!(10);
            write(&dir.join(format!("archive/{id}.settings.json")), &[old]);
        }
    }
    dir
}

fn grok_turn(
    rng: &mut Rng,
    session: &str,
    event: &str,
    ms: i64,
    models: &[&str],
    ticks: Option<u64>,
) -> Value {
    let mut per = serde_json::Map::new();
    for m in models {
        let input = rng.range(5_000, 120_000);
        let mut u = json!({"inputTokens": input, "outputTokens": rng.range(10, 3_000), "cachedReadTokens": rng.range(0, input),
                           "cacheCreationTokens": 0, "reasoningTokens": rng.range(1, 10), "totalTokens": 0});
        if let Some(t) = ticks {
            u["costUsdTicks"] = json!(t);
        }
        per.insert(m.to_string(), u);
    }
    let mut usage = per.values().next().unwrap().clone();
    usage["modelUsage"] = Value::Object(per);
    json!({"timestamp": ms / 1000, "method": "_x.ai/session/update",
           "params": {"sessionId": session, "update": {"sessionUpdate": "turn_completed", "usage": usage},
                      "_meta": {"eventId": event, "agentTimestampMs": ms}}})
}

fn grok(home: &Path) -> PathBuf {
    let dir = home.join(".grok");
    let mut rng = Rng(7);
    for s in 0..2 {
        let sdir = dir.join(format!(
            "sessions/%2Fw/019f0000-0000-7000-8000-00000000000{s}"
        ));
        let mut lines = vec![
            json!({"timestamp": 1, "method": "_x.ai/session/update", "params": {"sessionId": format!("g{s}"), "update": {"sessionUpdate": "agent_message_chunk", "content": {"type": "text", "text": "hi"}}}}),
        ];
        for t in 0..12 {
            let (ts, _) = at(5 - s, 200 + t * 75);
            let models: &[&str] = if t % 3 == 0 {
                &["grok-code-fast-1", "grok-4"]
            } else {
                &["grok-code-fast-1"]
            };
            lines.push(grok_turn(
                &mut rng,
                &format!("g{s}"),
                &format!("evt-{s}-{t}"),
                ts * 1000 + 123,
                models,
                None,
            ));
            if t == 4 {
                lines.push(lines.last().unwrap().clone()); // a replayed line
            }
        }
        write(&sdir.join("updates.jsonl"), &lines);
        std::fs::write(
            sdir.join("summary.json"),
            r#"{"info": {"id": "g", "cwd": "/w"}, "current_model_id": "grok-code-fast-1"}"#,
        )
        .unwrap();
    }
    dir
}

/// One opencode message and one Grok turn that carry their own cost.
pub fn with_stored_costs(home: &Path) -> (PathBuf, PathBuf) {
    let oc = home.join(".local/share/opencode");
    let (ts, _) = at(1, 0);
    write(
        &oc.join("storage/message/ses_c/msg_c.json"),
        &[
            json!({"id": "msg_c", "sessionID": "ses_c", "role": "assistant", "time": {"created": ts * 1000},
                 "modelID": "claude-sonnet-4-20250514", "providerID": "anthropic", "cost": 0.5,
                 "tokens": {"input": 1000, "output": 100, "reasoning": 0, "cache": {"read": 0, "write": 0}}}),
        ],
    );
    let grok = home.join(".grok");
    let sdir = grok.join("sessions/%2Fw/019f0000-0000-7000-8000-0000000000cc");
    let turn = json!({"timestamp": ts, "method": "_x.ai/session/update",
        "params": {"sessionId": "gc", "update": {"sessionUpdate": "turn_completed", "usage": {
            "inputTokens": 50000, "outputTokens": 1000, "cachedReadTokens": 0, "cacheCreationTokens": 0, "reasoningTokens": 0,
            "totalTokens": 51000, "costUsdTicks": 123456789u64,
            "modelUsage": {"grok-4": {"inputTokens": 50000, "outputTokens": 1000, "cachedReadTokens": 0, "cacheCreationTokens": 0,
                                      "reasoningTokens": 0, "totalTokens": 51000, "costUsdTicks": 123456789u64}}}},
            "_meta": {"eventId": "evt-c"}}});
    write(&sdir.join("updates.jsonl"), &[turn]);
    (oc, grok)
}

/// One Droid session whose cache reads alone pass 200,000 (see the test).
pub fn droid_long(home: &Path) -> PathBuf {
    let dir = home.join(".factory/sessions");
    let (_, iso) = at(1, 0);
    write(
        &dir.join("-w/eeee0000-0000-4000-8000-000000000001.settings.json"),
        &[
            json!({"model": "claude-sonnet-4-5-20250929", "providerLock": "anthropic", "providerLockTimestamp": iso,
                 "tokenUsage": {"inputTokens": 1000, "outputTokens": 2000, "cacheCreationTokens": 0, "cacheReadTokens": 300_000, "thinkingTokens": 0}}),
        ],
    );
    dir
}
