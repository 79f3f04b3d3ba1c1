//! The setup's folders (`skills/`, `commands/`, `agents/`) under `<data>/setup/`: each
//! text file in them is projected as a whole file into homes whose agent reads them.
//! Walks never follow symbolic links and stop at a bounded size.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde_json::Value;

use super::formats::{Entry, FileTarget, Format};
use super::model::FOLDERS;

/// Files per folder, and bytes per file, at most.
const MAX_FILES: usize = 2000;
const MAX_FILE: u64 = 1024 * 1024;

/// Regular files under `root`, as paths relative to it (sorted), not following links.
pub fn walk(root: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![PathBuf::new()];
    while let Some(rel) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(root.join(&rel)) else {
            continue;
        };
        for e in entries.flatten() {
            let Ok(kind) = e.file_type() else { continue };
            let child = rel.join(e.file_name());
            if kind.is_dir() {
                stack.push(child);
            } else if kind.is_file() && out.len() < MAX_FILES {
                out.push(child);
            }
        }
    }
    out.sort();
    out
}

/// The text of `path` when it is a text file of a bounded size.
fn text_of(path: &Path) -> Option<String> {
    let meta = std::fs::symlink_metadata(path).ok()?;
    if !meta.is_file() || meta.len() > MAX_FILE {
        return None;
    }
    String::from_utf8(std::fs::read(path).ok()?).ok()
}

/// One whole-file target per text file of the `folders` in `dir`.
pub fn targets(dir: &Path, folders: &[&str]) -> Vec<FileTarget> {
    let mut out = Vec::new();
    for folder in folders {
        let root = dir.join(folder);
        for rel in walk(&root) {
            let Some(text) = text_of(&root.join(&rel)) else {
                continue;
            };
            out.push(FileTarget {
                rel: format!("{folder}/{}", rel.display()),
                format: Format::Text,
                entries: vec![Entry {
                    key: Vec::new(),
                    item: folder.to_string(),
                    value: Value::String(text),
                }],
                collections: Vec::new(),
            });
        }
    }
    out
}

/// The files of each folder, relative to it.
pub fn listing(dir: &Path) -> BTreeMap<&'static str, Vec<String>> {
    FOLDERS
        .iter()
        .map(|f| {
            let files = walk(&dir.join(f))
                .into_iter()
                .map(|p| p.display().to_string())
                .collect();
            (*f, files)
        })
        .collect()
}

/// Copies the text files of `src` into `dst` (created 0700); a file already in `dst`
/// stays unless `replace`. Returns how many were copied.
pub fn copy(src: &Path, dst: &Path, replace: bool) -> std::io::Result<usize> {
    let mut n = 0;
    for rel in walk(src) {
        let to = dst.join(&rel);
        if to.exists() && !replace {
            continue;
        }
        let Some(text) = text_of(&src.join(&rel)) else {
            continue;
        };
        if let Some(parent) = to.parent() {
            crate::paths::ensure_private_dir(parent)?;
        }
        crate::paths::write_private_file(&to, text.as_bytes())?;
        n += 1;
    }
    Ok(n)
}
