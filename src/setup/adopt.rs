//! Adopting drift: what a home has for one entry, read back into the setup (an MCP
//! server in the agent's shape, a permission list, a hook, an instruction file, a folder
//! file); and merging what an import found.

use std::collections::BTreeMap;
use std::path::Path;

use serde_json::Value;

use super::SetupError;
use super::engine::{self, Drift};
use super::formats;
use super::model::Setup;

/// Changes `setup` so it holds what the home has for the drift `d`.
pub fn take(setup: &mut Setup, agent: &str, d: &Drift, dir: &Path) -> Result<(), SetupError> {
    let key: Vec<&str> = d.path.iter().map(String::as_str).collect();
    let value = d.home.clone();
    let bad = |m: &str| SetupError::Invalid(format!("cannot adopt {}: {m}", d.id));
    if let Some(name) = d.item.strip_prefix("mcp:") {
        match value {
            Some(v) => {
                let server = formats::mcp_from(formats::mcp_shape(agent), &v)
                    .ok_or_else(|| bad("not an MCP server"))?;
                server.validate(name).map_err(|e| bad(&e))?;
                setup.mcp_servers.insert(name.to_string(), server);
            }
            None => {
                setup.mcp_servers.remove(name);
            }
        }
        return Ok(());
    }
    match (d.item.as_str(), key.as_slice()) {
        ("permissions", ["permissions", field]) => {
            let p = &mut setup.permissions;
            let list = |v: &Option<Value>| -> Vec<String> {
                v.as_ref()
                    .and_then(|v| serde_json::from_value(v.clone()).ok())
                    .unwrap_or_default()
            };
            match *field {
                "allow" => p.allow = list(&value),
                "deny" => p.deny = list(&value),
                "ask" => p.ask = list(&value),
                "defaultMode" => p.default_mode = value.and_then(|v| v.as_str().map(String::from)),
                _ => return Err(bad("not a permission the setup keeps")),
            }
        }
        ("hooks", ["hooks", event]) => match value {
            Some(v) => {
                setup.hooks.insert(event.to_string(), v);
            }
            None => {
                setup.hooks.remove(*event);
            }
        },
        ("status_line", _) => setup.status_line = value,
        ("env", ["env", name]) => match value.as_ref().and_then(Value::as_str) {
            Some(v) => {
                setup.env.insert(name.to_string(), v.to_string());
            }
            None => {
                setup.env.remove(*name);
            }
        },
        ("settings", [k]) => {
            let block = setup.settings.entry(agent.to_string()).or_default();
            match value {
                Some(v) => {
                    block.insert(k.to_string(), v);
                }
                None => {
                    block.remove(*k);
                }
            }
        }
        ("instructions", _) => {
            let name = Path::new(&d.file)
                .file_name()
                .and_then(|n| n.to_str())
                .unwrap_or_default()
                .to_string();
            match value.as_ref().and_then(Value::as_str) {
                Some(t) => {
                    setup.instructions.insert(name, t.to_string());
                }
                None => {
                    setup.instructions.remove(&name);
                }
            }
        }
        (folder, _) if super::model::FOLDERS.contains(&folder) => {
            let dest = engine::inside(dir, &d.file)?;
            match value.as_ref().and_then(Value::as_str) {
                Some(t) => {
                    if let Some(parent) = dest.parent() {
                        crate::paths::ensure_private_dir(parent)
                            .map_err(|e| SetupError::Internal(e.to_string()))?;
                    }
                    crate::paths::write_private_file(&dest, t.as_bytes())
                        .map_err(|e| SetupError::Internal(e.to_string()))?;
                }
                None => {
                    let _ = std::fs::remove_file(&dest);
                }
            }
        }
        _ => return Err(bad("this part is not one the setup keeps")),
    }
    Ok(())
}

/// Merges what an import found into `setup`; returns the items taken and those kept.
pub fn merge_found(setup: &mut Setup, found: &Setup, replace: bool) -> (Vec<String>, Vec<String>) {
    let mut taken = Vec::new();
    let mut kept = Vec::new();
    let mut decide = |item: String, present: bool| {
        let take = !present || replace;
        if take {
            taken.push(item)
        } else {
            kept.push(item)
        }
        take
    };
    for (name, server) in &found.mcp_servers {
        if decide(format!("mcp:{name}"), setup.mcp_servers.contains_key(name)) {
            setup.mcp_servers.insert(name.clone(), server.clone());
        }
    }
    if !found.permissions.is_empty() && decide("permissions".into(), !setup.permissions.is_empty())
    {
        setup.permissions = found.permissions.clone();
    }
    for (event, groups) in &found.hooks {
        if decide(format!("hooks.{event}"), setup.hooks.contains_key(event)) {
            setup.hooks.insert(event.clone(), groups.clone());
        }
    }
    if found.status_line.is_some() && decide("status_line".into(), setup.status_line.is_some()) {
        setup.status_line = found.status_line.clone();
    }
    for (k, v) in &found.env {
        if decide(format!("env.{k}"), setup.env.contains_key(k)) {
            setup.env.insert(k.clone(), v.clone());
        }
    }
    for (agent, keys) in &found.settings {
        let block = setup.settings.entry(agent.clone()).or_default();
        for (k, v) in keys {
            if decide(format!("settings.{agent}.{k}"), block.contains_key(k)) {
                block.insert(k.clone(), v.clone());
            }
        }
    }
    let mut instructions: BTreeMap<String, String> = BTreeMap::new();
    for (file, text) in &found.instructions {
        if decide(
            format!("instructions.{file}"),
            setup.instructions.contains_key(file),
        ) {
            instructions.insert(file.clone(), text.clone());
        }
    }
    setup.instructions.extend(instructions);
    (taken, kept)
}
