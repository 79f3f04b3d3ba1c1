//! The shared setup as clown keeps it, in no agent's format: MCP servers, permissions,
//! hooks (Claude Code's format, which Qwen Code and Droid share), the status line,
//! environment variables, extra settings per agent, instruction files, and per profile
//! what of it applies (include/exclude) and what differs (an RFC 7396 merge patch).
//!
//! Items name the parts a profile includes or excludes: `mcp:<name>`, `permissions`,
//! `hooks`, `status_line`, `env`, `settings`, `instructions`, and the folders `skills`,
//! `commands`, `agents`. Values that may be secrets (an MCP server's `env` and `headers`,
//! the `env` variables) are shown only as hints ([`Setup::redacted`]); a hint sent back
//! unchanged keeps the stored value ([`Setup::keep_hidden`]).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// Agents whose `settings` block the setup can carry, and the keys clown itself manages
/// in that agent's files (refused there).
pub const SETTINGS_AGENTS: &[(&str, &[&str])] = &[
    ("claude", &["permissions", "hooks", "statusLine", "env"]),
    (
        "codex",
        &[
            "model",
            "model_provider",
            "model_providers",
            "mcp_servers",
            "cli_auth_credentials_store",
        ],
    ),
    ("gemini", &["mcpServers", "security"]),
    ("qwen", &["mcpServers", "hooks"]),
    ("opencode", &["mcp"]),
    ("droid", &["hooks"]),
];

/// The instruction files the setup holds.
pub const INSTRUCTION_FILES: &[&str] = &["CLAUDE.md", "AGENTS.md", "GEMINI.md", "QWEN.md"];
/// The folders the setup holds, copied into homes whose agent reads them.
pub const FOLDERS: &[&str] = &["skills", "commands", "agents"];
/// Largest instruction text.
const MAX_TEXT: usize = 256 * 1024;

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Setup {
    pub mcp_servers: BTreeMap<String, McpServer>,
    #[serde(skip_serializing_if = "Permissions::is_empty")]
    pub permissions: Permissions,
    /// Claude Code's hooks: event → list of matcher groups.
    #[serde(skip_serializing_if = "Map::is_empty")]
    pub hooks: Map<String, Value>,
    /// Claude Code's `statusLine`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status_line: Option<Value>,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub env: BTreeMap<String, String>,
    /// Extra top-level settings per agent id, merged into that agent's settings file.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub settings: BTreeMap<String, Map<String, Value>>,
    /// File name (`CLAUDE.md`, `AGENTS.md`, `GEMINI.md`, `QWEN.md`) → text.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub instructions: BTreeMap<String, String>,
    /// Per profile: what of the setup applies.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub profiles: BTreeMap<String, ProfileScope>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct McpServer {
    /// `stdio`, `http` or `sse`.
    #[serde(rename = "type", default = "stdio")]
    pub transport: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub command: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub args: Vec<String>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub env: BTreeMap<String, String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub headers: BTreeMap<String, String>,
}

fn stdio() -> String {
    "stdio".into()
}

/// Claude Code's permissions.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Permissions {
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub allow: Vec<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub deny: Vec<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub ask: Vec<String>,
    #[serde(rename = "defaultMode", skip_serializing_if = "Option::is_none")]
    pub default_mode: Option<String>,
}

impl Permissions {
    pub fn is_empty(&self) -> bool {
        *self == Self::default()
    }
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ProfileScope {
    /// Only these items (empty: all).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub include: Vec<String>,
    /// Never these items.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub exclude: Vec<String>,
    /// A merge patch over the setup for this profile (`null` removes a part).
    #[serde(skip_serializing_if = "Value::is_null")]
    pub overrides: Value,
}

/// An MCP server name, a profile item's name part: `^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$`.
pub fn valid_name(name: &str) -> bool {
    crate::paths::valid_alias(name)
}

fn valid_item(item: &str) -> bool {
    match item.strip_prefix("mcp:") {
        Some(name) => valid_name(name),
        None => {
            [
                "permissions",
                "hooks",
                "status_line",
                "env",
                "settings",
                "instructions",
            ]
            .contains(&item)
                || FOLDERS.contains(&item)
        }
    }
}

fn check_url(url: &str) -> bool {
    (url.starts_with("http://") || url.starts_with("https://"))
        && url.len() <= 2048
        && !url.chars().any(|c| c.is_whitespace() || c.is_control())
}

impl McpServer {
    pub fn validate(&self, name: &str) -> Result<(), String> {
        if !valid_name(name) {
            return Err(format!(
                "MCP server name '{}' must be 1-64 letters, digits, '.', '_' or '-'",
                name.chars().take(80).collect::<String>()
            ));
        }
        match self.transport.as_str() {
            "stdio" => match &self.command {
                Some(c) if !c.trim().is_empty() && self.url.is_none() => {}
                _ => {
                    return Err(format!(
                        "MCP server '{name}': a stdio server needs a command and no url"
                    ));
                }
            },
            "http" | "sse" => match &self.url {
                Some(u) if check_url(u) && self.command.is_none() => {}
                _ => {
                    return Err(format!(
                        "MCP server '{name}': an {} server needs an http:// or https:// url and no command",
                        self.transport
                    ));
                }
            },
            other => {
                return Err(format!(
                    "MCP server '{name}': type '{other}' is not one of stdio, http, sse"
                ));
            }
        }
        Ok(())
    }
}

impl Setup {
    /// Everything checked; the message names the offending part.
    pub fn validate(&self) -> Result<(), String> {
        for (name, server) in &self.mcp_servers {
            server.validate(name)?;
        }
        for (event, groups) in &self.hooks {
            if !groups.is_array() || event.is_empty() {
                return Err(format!("hooks.{event} must be a list of matcher groups"));
            }
        }
        if let Some(s) = &self.status_line
            && !s.is_object()
        {
            return Err("status_line must be an object (Claude Code's statusLine)".into());
        }
        for k in self.env.keys() {
            if k.is_empty() || k.contains('=') || k.chars().any(char::is_whitespace) {
                return Err(format!("env name '{k}' is not a variable name"));
            }
        }
        for (agent, keys) in &self.settings {
            let Some((_, managed)) = SETTINGS_AGENTS.iter().find(|(a, _)| a == agent) else {
                return Err(format!(
                    "settings.{agent}: not an agent whose settings the setup carries ({})",
                    SETTINGS_AGENTS
                        .iter()
                        .map(|(a, _)| *a)
                        .collect::<Vec<_>>()
                        .join(", ")
                ));
            };
            if let Some(k) = keys.keys().find(|k| managed.contains(&k.as_str())) {
                return Err(format!(
                    "settings.{agent}.{k} is managed by clown or by another part of the setup"
                ));
            }
        }
        for (file, text) in &self.instructions {
            if !INSTRUCTION_FILES.contains(&file.as_str()) {
                return Err(format!(
                    "instructions.{file}: use one of {}",
                    INSTRUCTION_FILES.join(", ")
                ));
            }
            if text.len() > MAX_TEXT {
                return Err(format!("instructions.{file} is over {MAX_TEXT} bytes"));
            }
        }
        for (alias, scope) in &self.profiles {
            if !crate::paths::valid_alias(alias) {
                return Err(format!("profiles.{alias}: not a valid alias"));
            }
            if let Some(bad) = scope
                .include
                .iter()
                .chain(&scope.exclude)
                .find(|i| !valid_item(i))
            {
                return Err(format!(
                    "profiles.{alias}: '{bad}' is not an item (mcp:NAME, permissions, hooks, status_line, env, settings, instructions, skills, commands, agents)"
                ));
            }
            if !(scope.overrides.is_null() || scope.overrides.is_object()) {
                return Err(format!(
                    "profiles.{alias}.overrides must be an object (a merge patch)"
                ));
            }
        }
        Ok(())
    }

    /// What applies to `alias`: its overrides merged in, then its include/exclude.
    /// Returns the setup and whether each folder applies.
    pub fn for_profile(&self, alias: &str) -> Result<(Setup, Vec<&'static str>), String> {
        let scope = self.profiles.get(alias).cloned().unwrap_or_default();
        let mut base = self.clone();
        base.profiles.clear();
        if scope.overrides.is_object() {
            let mut v = serde_json::to_value(&base).map_err(|e| e.to_string())?;
            merge_patch(&mut v, &scope.overrides);
            base = serde_json::from_value(v)
                .map_err(|e| format!("profiles.{alias}.overrides: {e}"))?;
        }
        let on = |item: &str| {
            (scope.include.is_empty() || scope.include.iter().any(|i| i == item))
                && !scope.exclude.iter().any(|i| i == item)
        };
        base.mcp_servers
            .retain(|name, _| on(&format!("mcp:{name}")));
        if !on("permissions") {
            base.permissions = Permissions::default();
        }
        if !on("hooks") {
            base.hooks.clear();
        }
        if !on("status_line") {
            base.status_line = None;
        }
        if !on("env") {
            base.env.clear();
        }
        if !on("settings") {
            base.settings.clear();
        }
        if !on("instructions") {
            base.instructions.clear();
        }
        let folders = FOLDERS.iter().copied().filter(|f| on(f)).collect();
        Ok((base, folders))
    }

    /// The setup with secret-looking values shown as hints (`…abcd`).
    pub fn redacted(&self) -> Setup {
        let mut s = self.clone();
        for server in s.mcp_servers.values_mut() {
            server.env.values_mut().for_each(|v| *v = hint(v));
            server.headers.values_mut().for_each(|v| *v = hint(v));
        }
        s.env.values_mut().for_each(|v| *v = hint(v));
        s
    }

    /// In a setup sent back by a client, values that are still the hint of the stored
    /// value take the stored value again.
    pub fn keep_hidden(&mut self, stored: &Setup) {
        let keep = |new: &mut BTreeMap<String, String>, old: &BTreeMap<String, String>| {
            for (k, v) in new.iter_mut() {
                if let Some(o) = old.get(k)
                    && *v == hint(o)
                {
                    *v = o.clone();
                }
            }
        };
        for (name, server) in &mut self.mcp_servers {
            if let Some(old) = stored.mcp_servers.get(name) {
                keep(&mut server.env, &old.env);
                keep(&mut server.headers, &old.headers);
            }
        }
        keep(&mut self.env, &stored.env);
    }
}

/// `…` and the last four characters of values long enough for that to reveal little.
pub fn hint(v: &str) -> String {
    let n = v.chars().count();
    if n < 12 {
        "…".into()
    } else {
        format!("…{}", v.chars().skip(n - 4).collect::<String>())
    }
}

/// RFC 7396: objects merge key by key, `null` removes, anything else replaces.
pub fn merge_patch(target: &mut Value, patch: &Value) {
    let Value::Object(p) = patch else {
        *target = patch.clone();
        return;
    };
    if !target.is_object() {
        *target = Value::Object(Map::new());
    }
    if let Value::Object(t) = target {
        for (k, v) in p {
            if v.is_null() {
                t.remove(k);
            } else {
                merge_patch(t.entry(k.clone()).or_insert(Value::Null), v);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn setup() -> Setup {
        serde_json::from_value(json!({
            "mcp_servers": {
                "files": {"command": "mcp-files", "args": ["--root", "/"], "env": {"TOKEN": "ghp_0123456789abcdef"}},
                "web": {"type": "http", "url": "https://example.com/mcp"}
            },
            "env": {"A": "1"},
            "instructions": {"CLAUDE.md": "be brief"},
            "profiles": {
                "w": {"exclude": ["mcp:web", "skills"], "overrides": {"env": {"A": "2"}, "mcp_servers": {"files": {"args": ["--root", "/w"]}}}}
            }
        }))
        .unwrap()
    }

    #[test]
    fn scope_overrides_and_redaction() {
        let s = setup();
        s.validate().unwrap();
        let (w, folders) = s.for_profile("w").unwrap();
        assert_eq!(w.mcp_servers.keys().collect::<Vec<_>>(), ["files"]);
        assert_eq!(w.mcp_servers["files"].args, ["--root", "/w"]);
        assert_eq!(w.env["A"], "2");
        assert_eq!(folders, ["commands", "agents"]);
        let (other, folders) = s.for_profile("other").unwrap();
        assert_eq!(other.mcp_servers.len(), 2);
        assert_eq!(folders.len(), 3);
        let r = s.redacted();
        assert_eq!(r.mcp_servers["files"].env["TOKEN"], "…cdef");
        let mut back = r.clone();
        back.keep_hidden(&s);
        assert_eq!(
            back.mcp_servers["files"].env["TOKEN"],
            "ghp_0123456789abcdef"
        );
    }

    #[test]
    fn bad_setups_are_named() {
        let bad = |v: Value| {
            serde_json::from_value::<Setup>(v)
                .unwrap()
                .validate()
                .unwrap_err()
        };
        assert!(bad(json!({"mcp_servers": {"x y": {"command": "c"}}})).contains("x y"));
        assert!(bad(json!({"mcp_servers": {"x": {"type": "http"}}})).contains("url"));
        assert!(
            bad(json!({"mcp_servers": {"x": {"type": "ftp", "url": "ftp://x"}}})).contains("ftp")
        );
        assert!(bad(json!({"settings": {"codex": {"model": "x"}}})).contains("managed"));
        assert!(bad(json!({"instructions": {"README.md": ""}})).contains("README.md"));
        assert!(bad(json!({"profiles": {"w": {"include": ["mcp"]}}})).contains("mcp"));
        assert!(serde_json::from_value::<Setup>(json!({"mcp": {}})).is_err());
    }
}
