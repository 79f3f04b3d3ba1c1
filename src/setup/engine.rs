//! Projecting into one file of a home, and seeing what changed there since.
//!
//! The projection merges: it writes the setup's entries at their keys and nothing else,
//! so what the agent keeps in the same file (its projects, history, login, its own MCP
//! servers) stays. What it wrote is recorded; with that record:
//! - an entry still as written is updated when the setup changed, and removed when the
//!   setup no longer has it;
//! - an entry the agent changed or removed since is left as the agent has it (drift,
//!   until adopted into the setup or overwritten with `overwrite`);
//! - a key the agent has that the projection never wrote is the agent's, unless
//!   `overwrite`.
//!
//! JSON and TOML files are edited under the file's lock ([`crate::agents::prepare::files`]),
//! the same one launches take, so neither loses the other's keys.

use std::path::{Component, Path};

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::doc::Doc;
use super::formats::{Entry, FileTarget, Format};
use crate::agents::prepare::files::{self, FileError, io_err};
use crate::paths::{file_lock, write_private_file};

/// What the last projection wrote into one file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FileRecord {
    pub rel: String,
    #[serde(skip)]
    pub format: Option<Format>,
    pub entries: Vec<Recorded>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Recorded {
    pub key: Vec<String>,
    pub item: String,
    pub value: Value,
}

/// What the projection did with one entry.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Change {
    pub file: String,
    pub key: String,
    pub item: String,
    /// `written`, `removed`, `kept` (the agent changed it: left as the agent has it) or
    /// `theirs` (the agent has its own value there).
    pub action: &'static str,
}

/// What changed in a home since the last projection.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Drift {
    /// `file#key`, to name it when adopting.
    pub id: String,
    pub file: String,
    pub key: String,
    /// The key's parts (a name may hold a dot).
    pub path: Vec<String>,
    pub item: String,
    /// `changed`, `removed` or `added`.
    pub kind: &'static str,
    pub home: Option<Value>,
    pub projected: Option<Value>,
}

pub fn dotted(key: &[String]) -> String {
    key.join(".")
}

/// A relative path inside the home, or an error (never `..`, never absolute).
pub fn inside(home: &Path, rel: &str) -> Result<std::path::PathBuf, FileError> {
    let p = Path::new(rel);
    if rel.is_empty() || !p.components().all(|c| matches!(c, Component::Normal(_))) {
        return Err(FileError::Io {
            path: home.join(rel),
            source: std::io::Error::other("not a path inside the profile home"),
        });
    }
    Ok(home.join(p))
}

/// The merge of `desired` into `doc` given the `prev` record; returns whether `doc`
/// changed, the new record's entries, and what was done.
fn merge(
    doc: &mut dyn Doc,
    file: &str,
    desired: &[Entry],
    prev: &[Recorded],
    overwrite: bool,
) -> (bool, Vec<Recorded>, Vec<Change>) {
    let mut changed = false;
    let mut record = Vec::new();
    let mut changes = Vec::new();
    let note = |changes: &mut Vec<Change>, key: &[String], item: &str, action| {
        changes.push(Change {
            file: file.to_string(),
            key: dotted(key),
            item: item.to_string(),
            action,
        })
    };
    for d in desired {
        let cur = doc.get(&d.key);
        let ours = Recorded {
            key: d.key.clone(),
            item: d.item.clone(),
            value: d.value.clone(),
        };
        if cur.as_ref() == Some(&d.value) {
            record.push(ours);
            continue;
        }
        let before = prev.iter().find(|p| p.key == d.key);
        let untouched = match (before, &cur) {
            (Some(p), Some(c)) => *c == p.value,
            (Some(_), None) => false,
            (None, None) => true,
            (None, Some(_)) => false,
        };
        if untouched || overwrite {
            doc.set(&d.key, &d.value);
            changed = true;
            record.push(ours);
            note(&mut changes, &d.key, &d.item, "written");
        } else if let Some(p) = before {
            // The agent changed what was projected: it stays, and so does the drift.
            record.push(p.clone());
            note(&mut changes, &d.key, &d.item, "kept");
        } else {
            note(&mut changes, &d.key, &d.item, "theirs");
        }
    }
    for p in prev
        .iter()
        .filter(|p| !desired.iter().any(|d| d.key == p.key))
    {
        match doc.get(&p.key) {
            Some(cur) if cur == p.value => {
                doc.remove(&p.key);
                changed = true;
                note(&mut changes, &p.key, &p.item, "removed");
            }
            Some(_) => note(&mut changes, &p.key, &p.item, "kept"),
            None => {}
        }
    }
    (changed, record, changes)
}

/// Projects `target` (or, when the setup no longer has this file, nothing) into the file
/// `rel` of `home`, given what the last projection `prev` wrote there.
pub fn apply(
    home: &Path,
    rel: &str,
    format: Format,
    target: Option<&FileTarget>,
    prev: Option<&FileRecord>,
    overwrite: bool,
) -> Result<(FileRecord, Vec<Change>), FileError> {
    let path = inside(home, rel)?;
    let desired = target.map(|t| t.entries.as_slice()).unwrap_or_default();
    let prev = prev.map(|p| p.entries.as_slice()).unwrap_or_default();
    let (entries, changes) = match format {
        Format::Json => files::edit_json(&path, |doc| {
            let (changed, record, changes) = merge(doc, rel, desired, prev, overwrite);
            (changed, (record, changes))
        })?,
        Format::Toml => files::edit_toml(&path, "", |doc| {
            let (changed, record, changes) = merge(doc, rel, desired, prev, overwrite);
            (changed, (record, changes))
        })?,
        Format::Text => text(&path, rel, desired, prev, overwrite)?,
    };
    Ok((
        FileRecord {
            rel: rel.to_string(),
            format: Some(format),
            entries,
        },
        changes,
    ))
}

/// A whole-file entry: the file's text is the value; removing it deletes the file.
fn text(
    path: &Path,
    rel: &str,
    desired: &[Entry],
    prev: &[Recorded],
    overwrite: bool,
) -> Result<(Vec<Recorded>, Vec<Change>), FileError> {
    let lock = file_lock(path);
    let _writing = lock.lock().unwrap_or_else(|p| p.into_inner());
    let mut doc = match std::fs::read(path) {
        Ok(bytes) => match String::from_utf8(bytes) {
            Ok(t) => Value::String(t),
            // Not text: the agent's, never touched.
            Err(_) => return Ok((Vec::new(), Vec::new())),
        },
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Value::Null,
        Err(e) => return Err(io_err(path)(e)),
    };
    let before = doc.clone();
    let mut whole = WholeFile(&mut doc);
    let (changed, record, changes) = merge(&mut whole, rel, desired, prev, overwrite);
    if changed && doc != before {
        match &doc {
            Value::String(t) => {
                if let Some(dir) = path.parent() {
                    crate::paths::ensure_private_dir(dir).map_err(io_err(dir))?;
                }
                write_private_file(path, t.as_bytes()).map_err(io_err(path))?
            }
            _ => match std::fs::remove_file(path) {
                Ok(()) => {}
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => return Err(io_err(path)(e)),
            },
        }
    }
    Ok((record, changes))
}

/// A file as one value at the empty key (`Null` when missing).
struct WholeFile<'a>(&'a mut Value);

impl Doc for WholeFile<'_> {
    fn get(&self, key: &[String]) -> Option<Value> {
        (key.is_empty() && !self.0.is_null()).then(|| self.0.clone())
    }

    fn set(&mut self, _: &[String], value: &Value) {
        *self.0 = value.clone();
    }

    fn remove(&mut self, _: &[String]) {
        *self.0 = Value::Null;
    }

    fn children(&self, _: &[String]) -> Vec<String> {
        Vec::new()
    }
}

/// What changed in the file `rel` of `home` since `prev` was projected; `target` names
/// the collections where the agent's additions count.
pub fn drift(
    home: &Path,
    rel: &str,
    format: Format,
    target: Option<&FileTarget>,
    prev: Option<&FileRecord>,
) -> Result<Vec<Drift>, FileError> {
    let path = inside(home, rel)?;
    let current: Box<dyn Doc> = match format {
        Format::Json => Box::new(files::read_json_object(&path)?),
        Format::Toml => Box::new(files::read_toml(&path, "")?),
        Format::Text => Box::new(match std::fs::read(&path) {
            Ok(bytes) => String::from_utf8(bytes)
                .map(Value::String)
                .unwrap_or(Value::Null),
            Err(_) => Value::Null,
        }),
    };
    let get = |key: &[String]| match format {
        Format::Text => current
            .get(&[])
            .filter(|v| !v.is_null())
            .filter(|_| key.is_empty()),
        _ => current.get(key),
    };
    let prev = prev.map(|p| p.entries.as_slice()).unwrap_or_default();
    let mut out = Vec::new();
    let mut push =
        |key: &[String], item: &str, kind, home: Option<Value>, projected: Option<Value>| {
            out.push(Drift {
                id: format!("{rel}#{}", dotted(key)),
                file: rel.to_string(),
                key: dotted(key),
                path: key.to_vec(),
                item: item.to_string(),
                kind,
                home,
                projected,
            })
        };
    for p in prev {
        match get(&p.key) {
            Some(cur) if cur == p.value => {}
            Some(cur) => push(&p.key, &p.item, "changed", Some(cur), Some(p.value.clone())),
            None => push(&p.key, &p.item, "removed", None, Some(p.value.clone())),
        }
    }
    for collection in target.map(|t| t.collections.as_slice()).unwrap_or_default() {
        for child in current.children(collection) {
            let mut key = collection.clone();
            key.push(child);
            if prev.iter().any(|p| p.key == key) {
                continue;
            }
            let cur = current.get(&key);
            let wanted = target.and_then(|t| t.entries.iter().find(|e| e.key == key));
            if wanted.is_some_and(|w| Some(&w.value) == cur.as_ref()) {
                continue;
            }
            let item = wanted
                .map(|w| w.item.clone())
                .unwrap_or_else(|| item_of(&key));
            push(&key, &item, "added", cur, wanted.map(|w| w.value.clone()));
        }
    }
    Ok(out)
}

/// The item a key found in a home belongs to.
pub fn item_of(key: &[String]) -> String {
    match key.first().map(String::as_str) {
        Some("mcpServers" | "mcp_servers" | "mcp") if key.len() == 2 => format!("mcp:{}", key[1]),
        Some("hooks") => "hooks".into(),
        Some("env") => "env".into(),
        Some("permissions") => "permissions".into(),
        Some("statusLine") => "status_line".into(),
        _ => "settings".into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn entry(key: &[&str], item: &str, value: Value) -> Entry {
        Entry {
            key: key.iter().map(|k| k.to_string()).collect(),
            item: item.into(),
            value,
        }
    }

    fn target(rel: &str, format: Format, entries: Vec<Entry>, collection: &str) -> FileTarget {
        FileTarget {
            rel: rel.into(),
            format,
            entries,
            collections: vec![vec![collection.into()]],
        }
    }

    #[test]
    fn merges_keep_the_agents_keys_and_edits_and_show_them_as_drift() {
        let home = std::env::temp_dir().join(format!("clown-engine-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&home);
        std::fs::create_dir_all(&home).unwrap();
        let path = home.join("a.json");
        std::fs::write(
            &path,
            r#"{"projects": {"/p": {}}, "mcpServers": {"mine": {"command": "m"}}}"#,
        )
        .unwrap();
        let t1 = target(
            "a.json",
            Format::Json,
            vec![
                entry(&["mcpServers", "x"], "mcp:x", json!({"command": "x1"})),
                entry(&["mcpServers", "y"], "mcp:y", json!({"command": "y"})),
            ],
            "mcpServers",
        );
        let (rec, changes) = apply(&home, "a.json", Format::Json, Some(&t1), None, false).unwrap();
        assert_eq!(changes.iter().filter(|c| c.action == "written").count(), 2);
        let doc: Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
        assert_eq!(doc["projects"], json!({"/p": {}}));
        assert_eq!(doc["mcpServers"]["mine"], json!({"command": "m"}));
        // The agent's own server is drift (added); nothing else.
        let d = drift(&home, "a.json", Format::Json, Some(&t1), Some(&rec)).unwrap();
        assert_eq!(
            d.iter()
                .map(|d| (d.kind, d.key.as_str()))
                .collect::<Vec<_>>(),
            [("added", "mcpServers.mine")]
        );
        // The agent edits y; the setup changes x and drops y.
        let mut doc = doc;
        doc["mcpServers"]["y"] = json!({"command": "y-edited"});
        std::fs::write(&path, doc.to_string()).unwrap();
        let t2 = target(
            "a.json",
            Format::Json,
            vec![entry(
                &["mcpServers", "x"],
                "mcp:x",
                json!({"command": "x2"}),
            )],
            "mcpServers",
        );
        let (rec2, changes) =
            apply(&home, "a.json", Format::Json, Some(&t2), Some(&rec), false).unwrap();
        let doc: Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
        assert_eq!(doc["mcpServers"]["x"], json!({"command": "x2"}));
        assert_eq!(
            doc["mcpServers"]["y"],
            json!({"command": "y-edited"}),
            "the agent's edit stays"
        );
        assert!(
            changes
                .iter()
                .any(|c| c.key == "mcpServers.y" && c.action == "kept")
        );
        assert_eq!(rec2.entries.len(), 1);
        // Removing x from the setup removes it from the home (it is as projected).
        let t3 = target("a.json", Format::Json, vec![], "mcpServers");
        apply(&home, "a.json", Format::Json, Some(&t3), Some(&rec2), false).unwrap();
        let doc: Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
        assert!(doc["mcpServers"].get("x").is_none());
        assert_eq!(doc["projects"], json!({"/p": {}}));

        // TOML: comments and the agent's tables stay.
        let toml_path = home.join("c.toml");
        std::fs::write(
            &toml_path,
            "# mine\n[projects.\"/p\"]\ntrust_level = \"trusted\"\n",
        )
        .unwrap();
        let t = target(
            "c.toml",
            Format::Toml,
            vec![entry(
                &["mcp_servers", "x"],
                "mcp:x",
                json!({"command": "x", "args": ["-a"], "env": {"K": "V"}}),
            )],
            "mcp_servers",
        );
        let (rec, _) = apply(&home, "c.toml", Format::Toml, Some(&t), None, false).unwrap();
        let text = std::fs::read_to_string(&toml_path).unwrap();
        assert!(
            text.contains("# mine") && text.contains("trust_level = \"trusted\""),
            "{text}"
        );
        assert!(
            text.contains("[mcp_servers.x]") && text.contains("[mcp_servers.x.env]"),
            "{text}"
        );
        assert!(
            drift(&home, "c.toml", Format::Toml, Some(&t), Some(&rec))
                .unwrap()
                .is_empty()
        );

        // A whole file: written, then removed when unchanged, kept when edited.
        let tt = FileTarget {
            rel: "CLAUDE.md".into(),
            format: Format::Text,
            entries: vec![entry(&[], "instructions", json!("be brief"))],
            collections: vec![],
        };
        let (rec, _) = apply(&home, "CLAUDE.md", Format::Text, Some(&tt), None, false).unwrap();
        assert_eq!(
            std::fs::read_to_string(home.join("CLAUDE.md")).unwrap(),
            "be brief"
        );
        apply(&home, "CLAUDE.md", Format::Text, None, Some(&rec), false).unwrap();
        assert!(!home.join("CLAUDE.md").exists());
        assert!(inside(&home, "../x").is_err() && inside(&home, "/etc/x").is_err());
        std::fs::remove_dir_all(&home).unwrap();
    }
}
