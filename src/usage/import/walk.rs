//! Finding log files: a bounded recursive walk of a directory, on a few threads (tens of
//! thousands of small files, Droid's sessions, made reading the directories and a `stat`
//! per file a tenth of an import, before any file was read).

use std::path::{Path, PathBuf};
use std::sync::{Condvar, Mutex};

use super::Found;

/// Deepest directory level a walk descends to (agents nest a few levels at most; a link
/// loop or a huge tree stops here).
const MAX_DEPTH: usize = 12;

/// The directories left to read, and how many threads are reading one (and may add more).
struct Pending {
    dirs: Vec<(PathBuf, usize)>,
    busy: usize,
}

/// Every regular file under `dir` (not following links to directories) for which
/// `want(path)` holds, in no particular order.
pub fn walk(dir: &Path, want: &(dyn Fn(&Path) -> bool + Sync), out: &mut Vec<Found>) {
    walk_with(dir, want, true, out);
}

/// [`walk`] without a `stat` of each file (`Found::unstated`): for a first import, whose
/// readers stat the files they read, in parallel, instead of the walk before any is read.
pub fn walk_names(dir: &Path, want: &(dyn Fn(&Path) -> bool + Sync), out: &mut Vec<Found>) {
    walk_with(dir, want, false, out);
}

fn walk_with(dir: &Path, want: &(dyn Fn(&Path) -> bool + Sync), stat: bool, out: &mut Vec<Found>) {
    let pending = Mutex::new(Pending {
        dirs: vec![(dir.to_path_buf(), 0)],
        busy: 0,
    });
    let changed = Condvar::new();
    let threads = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1)
        .clamp(1, 4);
    let work = || {
        let mut found = Vec::new();
        while let Some((d, depth)) = next_dir(&pending, &changed) {
            let subdirs = read_one_dir(&d, depth, want, stat, &mut found);
            let mut p = pending.lock().unwrap_or_else(|e| e.into_inner());
            p.dirs.extend(subdirs);
            p.busy -= 1;
            changed.notify_all();
        }
        found
    };
    std::thread::scope(|s| {
        let others: Vec<_> = (1..threads).map(|_| s.spawn(work)).collect();
        out.extend(work());
        for h in others {
            match h.join() {
                Ok(found) => out.extend(found),
                Err(panic) => std::panic::resume_unwind(panic),
            }
        }
    });
}

/// The next directory to read; `None` once none is left and no thread can add one.
fn next_dir(pending: &Mutex<Pending>, changed: &Condvar) -> Option<(PathBuf, usize)> {
    let mut p = pending.lock().unwrap_or_else(|e| e.into_inner());
    loop {
        if let Some(d) = p.dirs.pop() {
            p.busy += 1;
            return Some(d);
        }
        if p.busy == 0 {
            return None;
        }
        p = changed.wait(p).unwrap_or_else(|e| e.into_inner());
    }
}

/// Reads one directory: its wanted files (a `stat` each, relative to the directory) into
/// `found`; returns its subdirectories.
fn read_one_dir(
    d: &Path,
    depth: usize,
    want: &(dyn Fn(&Path) -> bool + Sync),
    stat: bool,
    found: &mut Vec<Found>,
) -> Vec<(PathBuf, usize)> {
    let mut subdirs = Vec::new();
    let Ok(entries) = std::fs::read_dir(d) else {
        return subdirs;
    };
    for e in entries.flatten() {
        let Ok(ft) = e.file_type() else { continue };
        let p = e.path();
        if ft.is_dir() {
            if depth < MAX_DEPTH {
                subdirs.push((p, depth + 1));
            }
        } else if ft.is_file() && want(&p) {
            if !stat {
                found.push(Found::unstated(p));
            } else if let Ok(meta) = e.metadata() {
                found.push(Found::of(p, &meta));
            }
        }
    }
    subdirs
}

/// Whether `path`'s file name ends with `suffix`.
pub fn ends_with(path: &Path, suffix: &str) -> bool {
    path.file_name()
        .and_then(|n| n.to_str())
        .is_some_and(|n| n.ends_with(suffix))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_every_wanted_file_at_every_level_once() {
        let root = std::env::temp_dir().join(format!("clown-walk-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&root);
        let mut want = Vec::new();
        for d in 0..30 {
            let dir = root.join(format!("p{d}")).join(format!("s{}", d % 3));
            std::fs::create_dir_all(&dir).unwrap();
            for f in 0..40 {
                let path = dir.join(format!("{f}.settings.json"));
                std::fs::write(&path, vec![b'x'; f]).unwrap();
                want.push((path, f as u64));
                std::fs::write(dir.join(format!("{f}.jsonl")), "").unwrap();
            }
        }
        std::fs::write(root.join("top.settings.json"), "1").unwrap();
        want.push((root.join("top.settings.json"), 1));
        // Deeper than a walk goes: not found.
        let deep = (0..=MAX_DEPTH).fold(root.join("deep"), |p, i| p.join(i.to_string()));
        std::fs::create_dir_all(&deep).unwrap();
        std::fs::write(deep.join("far.settings.json"), "").unwrap();
        let mut found = Vec::new();
        walk(&root, &|p| ends_with(p, ".settings.json"), &mut found);
        let mut got: Vec<_> = found.into_iter().map(|f| (f.path, f.size)).collect();
        got.sort();
        want.sort();
        assert_eq!(got, want);
        // By name only: the same files, none stated.
        let mut names = Vec::new();
        walk_names(&root, &|p| ends_with(p, ".settings.json"), &mut names);
        assert!(names.iter().all(|f| !f.stated && f.size == 0));
        let mut names: Vec<_> = names.into_iter().map(|f| f.path).collect();
        names.sort();
        assert_eq!(names, want.iter().map(|w| w.0.clone()).collect::<Vec<_>>());
        std::fs::remove_dir_all(&root).unwrap();
    }
}
