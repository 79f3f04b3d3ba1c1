//! The setup in each agent's own format: which files of a profile home receive which
//! parts, under which keys, with which values — and back (a value found in a home read
//! as the setup's, for adopting what an agent changed).
//!
//! | agent | file (in its home) | what |
//! | --- | --- | --- |
//! | Claude Code | `.claude.json` | `mcpServers.<name>` (`{type, command, args, env}` / `{type, url, headers}`) |
//! | | `settings.json` | `permissions.*`, `hooks.<event>`, `statusLine`, `env.<NAME>`, extra settings |
//! | | `CLAUDE.md`, `skills/`, `commands/`, `agents/` | instructions (`CLAUDE.md`, else `AGENTS.md`), folders |
//! | Codex CLI | `config.toml` | `[mcp_servers.<name>]` (`command`, `args`, `env` / `url`, `http_headers`), extra settings |
//! | | `AGENTS.md` | instructions (`AGENTS.md`, else `CLAUDE.md`) |
//! | Gemini CLI | `.gemini/settings.json` | `mcpServers.<name>` (`command`, `args`, `env` / `httpUrl` or `url`, `headers`), extra settings |
//! | | `.gemini/GEMINI.md` | instructions (`GEMINI.md`, `AGENTS.md`, `CLAUDE.md`) |
//! | Qwen Code | `settings.json` | `mcpServers` as Gemini's, `hooks.<event>` (Claude's names), extra settings |
//! | | `QWEN.md` | instructions (`QWEN.md`, `AGENTS.md`, `CLAUDE.md`) |
//! | opencode | `opencode.json` | `mcp.<name>` (`{type: local, command: [..], environment}` / `{type: remote, url, headers}`), extra settings |
//! | | `AGENTS.md` | instructions |
//! | Droid | `.factory/mcp.json`, `.factory/settings.json` | `mcpServers.<name>` (Claude's shape), `hooks.<event>` |
//!
//! Grok CLI reads MCP servers only per project, so nothing is projected for it.

use serde_json::{Map, Value, json};

use super::model::{McpServer, Permissions, Setup};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Json,
    Toml,
    /// The whole file is the one entry's value (a string).
    Text,
}

impl Format {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Json => "json",
            Self::Toml => "toml",
            Self::Text => "text",
        }
    }

    pub fn parse(s: &str) -> Self {
        match s {
            "json" => Self::Json,
            "toml" => Self::Toml,
            _ => Self::Text,
        }
    }
}

/// One value the projection puts at `key` in a file, for `item`.
#[derive(Debug, Clone, PartialEq)]
pub struct Entry {
    pub key: Vec<String>,
    pub item: String,
    pub value: Value,
}

/// A file of a home and what goes into it.
#[derive(Debug, Clone)]
pub struct FileTarget {
    /// Relative to the profile home.
    pub rel: String,
    pub format: Format,
    pub entries: Vec<Entry>,
    /// Objects whose members the agent may add to (seen as drift when it does).
    pub collections: Vec<Vec<String>>,
}

impl FileTarget {
    fn new(rel: &str, format: Format) -> Self {
        Self {
            rel: rel.into(),
            format,
            entries: Vec::new(),
            collections: Vec::new(),
        }
    }

    fn put(&mut self, key: &[&str], item: &str, value: Value) {
        self.entries.push(Entry {
            key: key.iter().map(|k| k.to_string()).collect(),
            item: item.into(),
            value,
        });
    }
}

/// How an agent writes an MCP server.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum McpShape {
    Claude,
    Codex,
    Gemini,
    Opencode,
}

/// The agent's view of an MCP server.
pub fn mcp_to(shape: McpShape, s: &McpServer) -> Value {
    let remote = s.transport != "stdio";
    match shape {
        McpShape::Claude if remote => {
            json!({"type": s.transport, "url": s.url, "headers": s.headers})
        }
        McpShape::Claude => {
            json!({"type": "stdio", "command": s.command, "args": s.args, "env": s.env})
        }
        McpShape::Codex => {
            let mut m = Map::new();
            if remote {
                m.insert("url".into(), json!(s.url));
                if !s.headers.is_empty() {
                    m.insert("http_headers".into(), json!(s.headers));
                }
            } else {
                m.insert("command".into(), json!(s.command));
                if !s.args.is_empty() {
                    m.insert("args".into(), json!(s.args));
                }
                if !s.env.is_empty() {
                    m.insert("env".into(), json!(s.env));
                }
            }
            Value::Object(m)
        }
        McpShape::Gemini => {
            let mut m = Map::new();
            if remote {
                let key = if s.transport == "http" {
                    "httpUrl"
                } else {
                    "url"
                };
                m.insert(key.into(), json!(s.url));
                if !s.headers.is_empty() {
                    m.insert("headers".into(), json!(s.headers));
                }
            } else {
                m.insert("command".into(), json!(s.command));
                m.insert("args".into(), json!(s.args));
                if !s.env.is_empty() {
                    m.insert("env".into(), json!(s.env));
                }
            }
            Value::Object(m)
        }
        McpShape::Opencode if remote => {
            json!({"type": "remote", "url": s.url, "headers": s.headers, "enabled": true})
        }
        McpShape::Opencode => {
            let mut command = vec![json!(s.command)];
            command.extend(s.args.iter().map(|a| json!(a)));
            json!({"type": "local", "command": command, "environment": s.env, "enabled": true})
        }
    }
}

fn strings(v: &Value) -> Vec<String> {
    v.as_array()
        .map(|a| {
            a.iter()
                .filter_map(|s| s.as_str().map(String::from))
                .collect()
        })
        .unwrap_or_default()
}

fn string_map(v: &Value) -> std::collections::BTreeMap<String, String> {
    v.as_object()
        .map(|m| {
            m.iter()
                .filter_map(|(k, v)| Some((k.clone(), v.as_str()?.to_string())))
                .collect()
        })
        .unwrap_or_default()
}

/// The setup's view of an MCP server an agent wrote, or `None` when it is not one.
pub fn mcp_from(shape: McpShape, v: &Value) -> Option<McpServer> {
    let str_of = |k: &str| v[k].as_str().map(String::from);
    let server = match shape {
        McpShape::Opencode => {
            let remote = v["type"] == "remote";
            let mut command = strings(&v["command"]).into_iter();
            McpServer {
                transport: if remote { "http" } else { "stdio" }.into(),
                command: if remote { None } else { command.next() },
                args: if remote {
                    Vec::new()
                } else {
                    command.collect()
                },
                env: string_map(&v["environment"]),
                url: str_of("url"),
                headers: string_map(&v["headers"]),
            }
        }
        _ => {
            let http_url = str_of("httpUrl");
            let url = http_url.clone().or_else(|| str_of("url"));
            let transport = match (v["type"].as_str(), &url, &http_url) {
                (Some(t @ ("http" | "sse" | "stdio")), _, _) => t.to_string(),
                (_, _, Some(_)) => "http".into(),
                (_, Some(_), _) if shape == McpShape::Codex => "http".into(),
                (_, Some(_), _) => "sse".into(),
                _ => "stdio".into(),
            };
            let headers = if shape == McpShape::Codex {
                &v["http_headers"]
            } else {
                &v["headers"]
            };
            McpServer {
                command: if transport == "stdio" {
                    str_of("command")
                } else {
                    None
                },
                args: strings(&v["args"]),
                env: string_map(&v["env"]),
                url: if transport == "stdio" { None } else { url },
                headers: string_map(headers),
                transport,
            }
        }
    };
    Some(server)
}

fn instructions(s: &Setup, order: &[&str]) -> Option<String> {
    order.iter().find_map(|f| s.instructions.get(*f).cloned())
}

fn claude_like_hooks(t: &mut FileTarget, s: &Setup) {
    for (event, groups) in &s.hooks {
        t.put(&["hooks", event], "hooks", groups.clone());
    }
    t.collections.push(vec!["hooks".into()]);
}

fn mcp(t: &mut FileTarget, s: &Setup, shape: McpShape, at: &str) {
    for (name, server) in &s.mcp_servers {
        t.put(&[at, name], &format!("mcp:{name}"), mcp_to(shape, server));
    }
    t.collections.push(vec![at.into()]);
}

fn extras(t: &mut FileTarget, s: &Setup, agent: &str) {
    for (k, v) in s.settings.get(agent).into_iter().flatten() {
        t.put(&[k], "settings", v.clone());
    }
}

fn text(rel: &str, item: &str, content: Option<String>) -> Option<FileTarget> {
    let content = content?;
    let mut t = FileTarget::new(rel, Format::Text);
    t.put(&[], item, Value::String(content));
    Some(t)
}

fn permissions(t: &mut FileTarget, p: &Permissions) {
    for (k, v) in [("allow", &p.allow), ("deny", &p.deny), ("ask", &p.ask)] {
        if !v.is_empty() {
            t.put(&["permissions", k], "permissions", json!(v));
        }
    }
    if let Some(mode) = &p.default_mode {
        t.put(&["permissions", "defaultMode"], "permissions", json!(mode));
    }
}

/// The files of `agent_id`'s home that the setup `s` goes into (folders not included:
/// see [`reads_folders`]). Empty for an agent the setup does not reach.
pub fn targets(agent_id: &str, s: &Setup) -> Vec<FileTarget> {
    let mut out = Vec::new();
    match agent_id {
        "claude" => {
            let mut state = FileTarget::new(".claude.json", Format::Json);
            mcp(&mut state, s, McpShape::Claude, "mcpServers");
            let mut settings = FileTarget::new("settings.json", Format::Json);
            permissions(&mut settings, &s.permissions);
            claude_like_hooks(&mut settings, s);
            if let Some(line) = &s.status_line {
                settings.put(&["statusLine"], "status_line", line.clone());
            }
            for (k, v) in &s.env {
                settings.put(&["env", k], "env", json!(v));
            }
            settings.collections.push(vec!["env".into()]);
            extras(&mut settings, s, "claude");
            out.extend([state, settings]);
            out.extend(text(
                "CLAUDE.md",
                "instructions",
                instructions(s, &["CLAUDE.md", "AGENTS.md"]),
            ));
        }
        "codex" => {
            let mut config = FileTarget::new("config.toml", Format::Toml);
            mcp(&mut config, s, McpShape::Codex, "mcp_servers");
            extras(&mut config, s, "codex");
            out.push(config);
            out.extend(text(
                "AGENTS.md",
                "instructions",
                instructions(s, &["AGENTS.md", "CLAUDE.md"]),
            ));
        }
        "gemini" => {
            let mut settings = FileTarget::new(".gemini/settings.json", Format::Json);
            mcp(&mut settings, s, McpShape::Gemini, "mcpServers");
            extras(&mut settings, s, "gemini");
            out.push(settings);
            out.extend(text(
                ".gemini/GEMINI.md",
                "instructions",
                instructions(s, &["GEMINI.md", "AGENTS.md", "CLAUDE.md"]),
            ));
        }
        "qwen" => {
            let mut settings = FileTarget::new("settings.json", Format::Json);
            mcp(&mut settings, s, McpShape::Gemini, "mcpServers");
            claude_like_hooks(&mut settings, s);
            extras(&mut settings, s, "qwen");
            out.push(settings);
            out.extend(text(
                "QWEN.md",
                "instructions",
                instructions(s, &["QWEN.md", "AGENTS.md", "CLAUDE.md"]),
            ));
        }
        "opencode" => {
            let mut config = FileTarget::new("opencode.json", Format::Json);
            mcp(&mut config, s, McpShape::Opencode, "mcp");
            extras(&mut config, s, "opencode");
            out.push(config);
            out.extend(text(
                "AGENTS.md",
                "instructions",
                instructions(s, &["AGENTS.md", "CLAUDE.md"]),
            ));
        }
        "droid" => {
            let mut servers = FileTarget::new(".factory/mcp.json", Format::Json);
            mcp(&mut servers, s, McpShape::Claude, "mcpServers");
            let mut settings = FileTarget::new(".factory/settings.json", Format::Json);
            claude_like_hooks(&mut settings, s);
            extras(&mut settings, s, "droid");
            out.extend([servers, settings]);
        }
        _ => {}
    }
    out
}

/// Whether `agent_id` reads the skills, commands and agents folders from its home.
pub fn reads_folders(agent_id: &str) -> bool {
    agent_id == "claude"
}

/// How `agent_id` writes MCP servers, for reading them back.
pub fn mcp_shape(agent_id: &str) -> McpShape {
    match agent_id {
        "codex" => McpShape::Codex,
        "gemini" | "qwen" => McpShape::Gemini,
        "opencode" => McpShape::Opencode,
        _ => McpShape::Claude,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mcp_servers_round_trip_through_every_shape() {
        let servers = [
            McpServer {
                transport: "stdio".into(),
                command: Some("python3".into()),
                args: vec!["srv.py".into(), "--flag".into()],
                env: [("FOO".to_string(), "bar".to_string())].into(),
                url: None,
                headers: Default::default(),
            },
            McpServer {
                transport: "http".into(),
                command: None,
                args: Vec::new(),
                env: Default::default(),
                url: Some("https://example.com/mcp".into()),
                headers: [("X-Key".to_string(), "abc".to_string())].into(),
            },
        ];
        for shape in [
            McpShape::Claude,
            McpShape::Codex,
            McpShape::Gemini,
            McpShape::Opencode,
        ] {
            for s in &servers {
                assert_eq!(
                    mcp_from(shape, &mcp_to(shape, s)).as_ref(),
                    Some(s),
                    "{shape:?}"
                );
            }
        }
        // As `claude mcp add` and `codex mcp add` write them.
        let written = json!({"type": "stdio", "command": "python3", "args": ["srv.py", "--flag"], "env": {"FOO": "bar"}});
        assert_eq!(mcp_to(McpShape::Claude, &servers[0]), written);
        assert_eq!(
            mcp_to(McpShape::Codex, &servers[0]),
            json!({"command": "python3", "args": ["srv.py", "--flag"], "env": {"FOO": "bar"}})
        );
    }
}
