//! Finding log files: a bounded recursive walk of a directory.

use std::path::Path;

use super::Found;

/// Deepest directory level a walk descends to (agents nest a few levels at most; a link
/// loop or a huge tree stops here).
const MAX_DEPTH: usize = 12;

/// Every regular file under `dir` (not following links to directories) for which
/// `want(path)` holds.
pub fn walk(dir: &Path, want: &dyn Fn(&Path) -> bool, out: &mut Vec<Found>) {
    let mut stack = vec![(dir.to_path_buf(), 0usize)];
    while let Some((d, depth)) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&d) else {
            continue;
        };
        for e in entries.flatten() {
            let Ok(ft) = e.file_type() else { continue };
            let p = e.path();
            if ft.is_dir() {
                if depth < MAX_DEPTH {
                    stack.push((p, depth + 1));
                }
            } else if ft.is_file()
                && want(&p)
                && let Ok(meta) = e.metadata()
            {
                out.push(Found::of(p, &meta));
            }
        }
    }
}

/// Whether `path`'s file name ends with `suffix`.
pub fn ends_with(path: &Path, suffix: &str) -> bool {
    path.file_name()
        .and_then(|n| n.to_str())
        .is_some_and(|n| n.ends_with(suffix))
}
