//! Reading the setup the user already has, for `POST /api/setup/import`: only reading —
//! nothing is ever written back there.
//!
//! - Claude Code (`$CLAUDE_CONFIG_DIR`, else `~/.claude` with `~/.claude.json`): user-scope
//!   `mcpServers`, and from `settings.json` `permissions`, `hooks`, `statusLine`, `env` and
//!   the other settings; `CLAUDE.md`; the `skills/`, `commands/` and `agents/` folders.
//! - Codex CLI (`$CODEX_HOME`, else `~/.codex`): `[mcp_servers]` of `config.toml`,
//!   `AGENTS.md`.
//! - Gemini CLI (`~/.gemini`): `mcpServers` of `settings.json`, `GEMINI.md`.
//! - Qwen Code (`$QWEN_HOME`, else `~/.qwen`): `mcpServers` of `settings.json`, `QWEN.md`.

use std::path::{Path, PathBuf};

use serde::Serialize;
use serde_json::Value;

use super::formats::{McpShape, mcp_from};
use super::model::{Permissions, SETTINGS_AGENTS, Setup};
use crate::paths::Env;

/// The agents the import reads.
pub const SOURCES: &[&str] = &["claude", "codex", "gemini", "qwen"];

/// What was found: a setup made of it, the folders to copy, and what was read.
#[derive(Debug, Default)]
pub struct Found {
    pub setup: Setup,
    pub folders: Vec<(&'static str, PathBuf)>,
    pub read: Vec<ReadFile>,
}

#[derive(Debug, Clone, Serialize)]
pub struct ReadFile {
    pub source: &'static str,
    pub path: PathBuf,
    /// What it gave, or why not.
    pub note: String,
}

fn json(path: &Path) -> Result<Option<Value>, String> {
    match std::fs::read_to_string(path) {
        Ok(t) => serde_json::from_str(&t)
            .map(Some)
            .map_err(|e| e.to_string()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(e.to_string()),
    }
}

fn dir_of(env: &Env, var: &str, home: &Path, default: &str) -> PathBuf {
    env.get(var)
        .map(PathBuf::from)
        .filter(|p| p.is_absolute())
        .unwrap_or_else(|| home.join(default))
}

impl Found {
    fn note(&mut self, source: &'static str, path: &Path, note: impl Into<String>) {
        self.read.push(ReadFile {
            source,
            path: path.to_path_buf(),
            note: note.into(),
        });
    }

    /// The MCP servers of `doc[at]` in `shape`; earlier sources win a name.
    fn servers(
        &mut self,
        source: &'static str,
        path: &Path,
        doc: &Value,
        at: &str,
        shape: McpShape,
    ) {
        let mut n = 0;
        for (name, v) in doc[at].as_object().into_iter().flatten() {
            let Some(server) = mcp_from(shape, v) else {
                continue;
            };
            if server.validate(name).is_err() || self.setup.mcp_servers.contains_key(name) {
                continue;
            }
            self.setup.mcp_servers.insert(name.clone(), server);
            n += 1;
        }
        self.note(source, path, format!("{n} MCP server(s)"));
    }

    fn instructions(&mut self, source: &'static str, path: &Path, name: &str) {
        if let Ok(text) = std::fs::read_to_string(path) {
            self.setup.instructions.insert(name.to_string(), text);
            self.note(source, path, "instructions");
        }
    }

    fn json_file(&mut self, source: &'static str, path: &Path) -> Option<Value> {
        match json(path) {
            Ok(v) => v,
            Err(e) => {
                self.note(source, path, format!("not read: {e}"));
                None
            }
        }
    }
}

/// Reads the user's own setup of the agents in `from`.
pub fn read(home: &Path, env: &Env, from: &[&str]) -> Found {
    let mut f = Found::default();
    if from.contains(&"claude") {
        let (dir, state) = match env
            .get("CLAUDE_CONFIG_DIR")
            .map(PathBuf::from)
            .filter(|p| p.is_absolute())
        {
            Some(d) => (d.clone(), d.join(".claude.json")),
            None => (home.join(".claude"), home.join(".claude.json")),
        };
        if let Some(doc) = f.json_file("claude", &state) {
            f.servers("claude", &state, &doc, "mcpServers", McpShape::Claude);
        }
        let settings = dir.join("settings.json");
        if let Some(Value::Object(mut doc)) = f.json_file("claude", &settings) {
            if let Some(p) = doc.remove("permissions") {
                f.setup.permissions = serde_json::from_value::<Permissions>(p.clone())
                    .unwrap_or_else(|_| {
                        // Keys the setup does not model are left out, the rest kept.
                        Permissions {
                            allow: serde_json::from_value(p["allow"].clone()).unwrap_or_default(),
                            deny: serde_json::from_value(p["deny"].clone()).unwrap_or_default(),
                            ask: serde_json::from_value(p["ask"].clone()).unwrap_or_default(),
                            default_mode: p["defaultMode"].as_str().map(String::from),
                        }
                    });
            }
            if let Some(Value::Object(h)) = doc.remove("hooks") {
                f.setup.hooks = h.into_iter().filter(|(_, v)| v.is_array()).collect();
            }
            f.setup.status_line = doc.remove("statusLine").filter(Value::is_object);
            if let Some(Value::Object(e)) = doc.remove("env") {
                f.setup.env = e
                    .into_iter()
                    .filter_map(|(k, v)| Some((k, v.as_str()?.to_string())))
                    .collect();
            }
            let managed = SETTINGS_AGENTS
                .iter()
                .find(|(a, _)| *a == "claude")
                .map(|(_, m)| *m)
                .unwrap_or_default();
            doc.retain(|k, _| !managed.contains(&k.as_str()));
            if !doc.is_empty() {
                f.setup.settings.insert("claude".into(), doc);
            }
            f.note(
                "claude",
                &settings,
                "permissions, hooks, status line, env, settings",
            );
        }
        f.instructions("claude", &dir.join("CLAUDE.md"), "CLAUDE.md");
        for folder in ["skills", "commands", "agents"] {
            if dir.join(folder).is_dir() {
                f.folders.push((folder, dir.join(folder)));
            }
        }
    }
    if from.contains(&"codex") {
        let dir = dir_of(env, "CODEX_HOME", home, ".codex");
        let config = dir.join("config.toml");
        match std::fs::read_to_string(&config) {
            Ok(text) => match text.parse::<toml::Table>() {
                Ok(t) => {
                    let doc = serde_json::to_value(&t).unwrap_or_default();
                    f.servers("codex", &config, &doc, "mcp_servers", McpShape::Codex);
                }
                Err(e) => f.note("codex", &config, format!("not read: {e}")),
            },
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => f.note("codex", &config, format!("not read: {e}")),
        }
        f.instructions("codex", &dir.join("AGENTS.md"), "AGENTS.md");
    }
    if from.contains(&"gemini") {
        let dir = home.join(".gemini");
        let settings = dir.join("settings.json");
        if let Some(doc) = f.json_file("gemini", &settings) {
            f.servers("gemini", &settings, &doc, "mcpServers", McpShape::Gemini);
        }
        f.instructions("gemini", &dir.join("GEMINI.md"), "GEMINI.md");
    }
    if from.contains(&"qwen") {
        let dir = dir_of(env, "QWEN_HOME", home, ".qwen");
        let settings = dir.join("settings.json");
        if let Some(doc) = f.json_file("qwen", &settings) {
            f.servers("qwen", &settings, &doc, "mcpServers", McpShape::Gemini);
        }
        f.instructions("qwen", &dir.join("QWEN.md"), "QWEN.md");
    }
    f
}
