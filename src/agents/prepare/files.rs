//! Editing an agent's own files in a profile home without losing what the agent keeps
//! there: a read-modify-write of one JSON or TOML document, serialised per file (with
//! [`crate::paths::file_lock`], the one lock every writer in the daemon takes), that
//! never replaces a file it cannot parse and writes through a private temp file.
//!
//! Launch preparation and the shared setup's projection both go through [`edit_json`] /
//! [`edit_toml`], so concurrent launches and projections never lose each other's keys.

use std::path::{Path, PathBuf};

use serde_json::{Value, json};

use crate::paths::{file_lock, write_private_file};

#[derive(Debug, thiserror::Error)]
pub enum FileError {
    #[error("cannot prepare {path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error(
        "{path} is not valid {kind} ({reason}); fix or remove it (clown keeps the agent's own settings there and will not overwrite them)"
    )]
    Unreadable {
        path: PathBuf,
        kind: &'static str,
        reason: String,
    },
}

pub fn io_err(path: &Path) -> impl FnOnce(std::io::Error) -> FileError + '_ {
    move |source| FileError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// The text of `path`, `None` when it does not exist. A file that exists but does not
/// parse with `parse` may be in the middle of the agent's own write: it is read again a
/// few times before giving up.
fn read_parsed<T>(
    path: &Path,
    kind: &'static str,
    parse: impl Fn(&str) -> Result<T, String>,
) -> Result<Option<T>, FileError> {
    let mut last = String::new();
    for attempt in 0..5 {
        if attempt > 0 {
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
        match std::fs::read_to_string(path) {
            Ok(text) if text.trim().is_empty() => return Ok(None),
            Ok(text) => match parse(&text) {
                Ok(v) => return Ok(Some(v)),
                Err(e) => last = e,
            },
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(io_err(path)(e)),
        }
    }
    Err(FileError::Unreadable {
        path: path.to_path_buf(),
        kind,
        reason: last,
    })
}

/// The JSON object in `path`, or an empty one when the file does not exist.
pub fn read_json_object(path: &Path) -> Result<Value, FileError> {
    let parsed = read_parsed(path, "JSON", |text| {
        match serde_json::from_str::<Value>(text) {
            Ok(v) if v.is_object() => Ok(v),
            Ok(_) => Err("not a JSON object".into()),
            Err(e) => Err(e.to_string()),
        }
    })?;
    Ok(parsed.unwrap_or_else(|| json!({})))
}

/// The TOML document in `path`, or `initial` when the file does not exist.
pub fn read_toml(path: &Path, initial: &str) -> Result<toml_edit::DocumentMut, FileError> {
    let parsed = read_parsed(path, "TOML", |text| {
        text.parse::<toml_edit::DocumentMut>()
            .map_err(|e| e.to_string())
    })?;
    match parsed {
        Some(doc) => Ok(doc),
        None => initial
            .parse()
            .map_err(|e: toml_edit::TomlError| FileError::Unreadable {
                path: path.to_path_buf(),
                kind: "TOML",
                reason: e.to_string(),
            }),
    }
}

/// Runs `f` on the JSON object in `path` under the file's lock and writes the result
/// (0600) when `f` says it changed something. Returns what `f` returned.
pub fn edit_json<T>(path: &Path, f: impl FnOnce(&mut Value) -> (bool, T)) -> Result<T, FileError> {
    let lock = file_lock(path);
    let _writing = lock.lock().unwrap_or_else(|p| p.into_inner());
    let mut doc = read_json_object(path)?;
    let (changed, out) = f(&mut doc);
    if changed || !path.exists() {
        let text = serde_json::to_vec_pretty(&doc).unwrap_or_default();
        write_private_file(path, &text).map_err(io_err(path))?;
    }
    Ok(out)
}

/// Runs `f` on the TOML document in `path` (or `initial` when missing) under the file's
/// lock and writes it when `f` says it changed something.
pub fn edit_toml<T>(
    path: &Path,
    initial: &str,
    f: impl FnOnce(&mut toml_edit::DocumentMut) -> (bool, T),
) -> Result<T, FileError> {
    let lock = file_lock(path);
    let _writing = lock.lock().unwrap_or_else(|p| p.into_inner());
    let mut doc = read_toml(path, initial)?;
    let (changed, out) = f(&mut doc);
    if changed || !path.exists() {
        write_private_file(path, doc.to_string().as_bytes()).map_err(io_err(path))?;
    }
    Ok(out)
}

/// The object at `key` in `doc`, created (or replaced when not an object) as needed.
pub fn object_at<'a>(doc: &'a mut Value, key: &str) -> &'a mut serde_json::Map<String, Value> {
    if !doc.is_object() {
        *doc = json!({});
    }
    let Value::Object(map) = doc else {
        unreachable!("made an object above")
    };
    let entry = map.entry(key.to_string()).or_insert_with(|| json!({}));
    if !entry.is_object() {
        *entry = json!({});
    }
    match entry {
        Value::Object(m) => m,
        _ => unreachable!("made an object above"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn edits_keep_other_keys_and_refuse_garbage() {
        let dir = std::env::temp_dir().join(format!("clown-files-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let json_path = dir.join("a.json");
        std::fs::write(&json_path, r#"{"theirs": 1}"#).unwrap();
        edit_json(&json_path, |d| {
            d["ours"] = json!(2);
            (true, ())
        })
        .unwrap();
        let back: Value =
            serde_json::from_str(&std::fs::read_to_string(&json_path).unwrap()).unwrap();
        assert_eq!(back, json!({"theirs": 1, "ours": 2}));
        std::fs::write(&json_path, "{broken").unwrap();
        assert!(matches!(
            edit_json(&json_path, |_| (true, ())),
            Err(FileError::Unreadable { .. })
        ));
        assert_eq!(std::fs::read_to_string(&json_path).unwrap(), "{broken");

        let toml_path = dir.join("c.toml");
        std::fs::write(&toml_path, "# mine\n[x]\ny = 1 # kept\n").unwrap();
        edit_toml(&toml_path, "", |d| {
            d["model"] = toml_edit::value("m");
            (true, ())
        })
        .unwrap();
        let text = std::fs::read_to_string(&toml_path).unwrap();
        assert!(
            text.contains("# mine") && text.contains("y = 1 # kept"),
            "{text}"
        );
        assert!(text.contains("model = \"m\""), "{text}");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
