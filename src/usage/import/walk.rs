//! Finding log files: a bounded recursive walk of a directory.

use std::fs::DirEntry;
use std::path::{Path, PathBuf};

use super::Found;

/// Deepest directory level a walk descends to (agents nest a few levels at most; a link
/// loop or a huge tree stops here).
const MAX_DEPTH: usize = 12;

/// Below this many files one thread stats them all; above, each thread takes a share.
const STAT_PER_THREAD: usize = 1024;

/// A file found keeps its directory open until it is stat'ed: at most this many
/// directories are held at once.
const DIRS_HELD: usize = 64;

/// Every regular file under `dir` (not following links to directories) for which
/// `want(path)` holds.
pub fn walk(dir: &Path, want: &dyn Fn(&Path) -> bool, out: &mut Vec<Found>) {
    let mut stack = vec![(dir.to_path_buf(), 0usize)];
    let mut files = Vec::new();
    let mut dirs_held = 0;
    while let Some((d, depth)) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&d) else {
            continue;
        };
        if dirs_held == DIRS_HELD {
            stat_all(std::mem::take(&mut files), out);
            dirs_held = 0;
        }
        let before = files.len();
        for e in entries.flatten() {
            let Ok(ft) = e.file_type() else { continue };
            let p = e.path();
            if ft.is_dir() {
                if depth < MAX_DEPTH {
                    stack.push((p, depth + 1));
                }
            } else if ft.is_file() && want(&p) {
                files.push((e, p));
            }
        }
        dirs_held += usize::from(files.len() > before);
    }
    stat_all(files, out);
}

/// The size, time and inode of each file: a `stat` each (relative to its directory), on
/// a few threads when there are many (tens of thousands of small files: Droid's sessions).
fn stat_all(files: Vec<(DirEntry, PathBuf)>, out: &mut Vec<Found>) {
    let stat = |(e, p): (DirEntry, PathBuf)| e.metadata().ok().map(|m| Found::of(p, &m));
    let threads = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1)
        .clamp(1, 4)
        .min(files.len() / STAT_PER_THREAD);
    if threads <= 1 {
        out.extend(files.into_iter().filter_map(stat));
        return;
    }
    let share = files.len().div_ceil(threads);
    let mut files = files.into_iter();
    let shares: Vec<Vec<_>> = (0..threads)
        .map(|_| files.by_ref().take(share).collect())
        .collect();
    std::thread::scope(|s| {
        let handles: Vec<_> = shares
            .into_iter()
            .map(|share| s.spawn(move || share.into_iter().filter_map(stat).collect::<Vec<_>>()))
            .collect();
        for h in handles {
            match h.join() {
                Ok(found) => out.extend(found),
                Err(panic) => std::panic::resume_unwind(panic),
            }
        }
    });
}

/// Whether `path`'s file name ends with `suffix`.
pub fn ends_with(path: &Path, suffix: &str) -> bool {
    path.file_name()
        .and_then(|n| n.to_str())
        .is_some_and(|n| n.ends_with(suffix))
}
