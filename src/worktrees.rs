//! Git worktrees for terminal sessions: a session may start in a worktree of its own, on
//! a new branch off the current commit of its directory's repository, so agents working
//! at once never share a checkout. Worktrees live in the repository, under
//! `.clown/worktrees/<name>` (listed in `.git/info/exclude`, so `git status` stays quiet).
//! When the session has ended, its worktree's changes (commits on its branch and
//! uncommitted work) are summarised, and it is kept, merged into the branch the
//! repository has checked out (uncommitted work committed first; then the worktree and
//! its branch go), or removed. Everything runs `git` with prompts and pagers off.

use std::path::{Path, PathBuf};
use std::process::Command;

use serde::{Deserialize, Serialize};

#[derive(Debug, thiserror::Error)]
pub enum WorktreeError {
    /// The directory is not in a repository, or the repository has no commit yet.
    #[error("{0}")]
    NotARepository(String),
    /// Git refused (a conflict, a dirty checkout); nothing was changed.
    #[error("{0}")]
    Refused(String),
    #[error("cannot run git: {0}")]
    Git(String),
}

/// A session's worktree (kept in the session's record).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Worktree {
    /// The repository's top directory.
    pub repo: PathBuf,
    pub path: PathBuf,
    pub branch: String,
    /// The commit it started from, and the branch that was checked out then (if any).
    pub base: String,
    pub base_branch: Option<String>,
    /// `kept`, `merged` or `removed` once decided.
    #[serde(default)]
    pub outcome: Option<String>,
}

/// What a worktree changed since its base.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Changes {
    /// Commits on its branch since the base.
    pub commits: u64,
    pub files_changed: u64,
    pub insertions: u64,
    pub deletions: u64,
    /// Each changed file with its status (`A`, `M`, `D`, `R`…; `??` not yet added).
    pub files: Vec<ChangedFile>,
    /// Whether some of it is not committed yet.
    pub uncommitted: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ChangedFile {
    pub path: String,
    pub status: String,
}

fn git(dir: &Path, args: &[&str]) -> Result<String, WorktreeError> {
    let out = Command::new("git")
        .arg("-C")
        .arg(dir)
        .args(args)
        .env("GIT_TERMINAL_PROMPT", "0")
        .env("GIT_PAGER", "cat")
        .env("LC_ALL", "C")
        .stdin(std::process::Stdio::null())
        .output()
        .map_err(|e| WorktreeError::Git(e.to_string()))?;
    if out.status.success() {
        Ok(String::from_utf8_lossy(&out.stdout).trim_end().to_string())
    } else {
        Err(WorktreeError::Refused(
            String::from_utf8_lossy(&out.stderr).trim().to_string(),
        ))
    }
}

/// A new worktree for session `name` off the repository that holds `dir`; also the
/// directory inside it that corresponds to `dir`.
pub fn create(dir: &Path, name: &str) -> Result<(Worktree, PathBuf), WorktreeError> {
    let not_repo = || {
        WorktreeError::NotARepository(format!(
            "'{}' is not in a git repository: a session in a worktree needs one (git init, and a first commit)",
            dir.display()
        ))
    };
    let top = git(dir, &["rev-parse", "--show-toplevel"]).map_err(|_| not_repo())?;
    let repo = PathBuf::from(top);
    let base = git(&repo, &["rev-parse", "--verify", "HEAD"]).map_err(|_| {
        WorktreeError::NotARepository(format!(
            "The repository {} has no commit yet: a worktree starts from one",
            repo.display()
        ))
    })?;
    let base_branch = git(&repo, &["symbolic-ref", "--quiet", "--short", "HEAD"]).ok();
    let branch = format!("clown/{name}");
    let path = repo.join(".clown").join("worktrees").join(name);
    exclude(&repo);
    let path_arg = path.display().to_string();
    git(
        &repo,
        &[
            "worktree", "add", "--quiet", "-b", &branch, &path_arg, &base,
        ],
    )
    .map_err(|e| match e {
        WorktreeError::Refused(m) => WorktreeError::Refused(format!("git worktree add: {m}")),
        other => other,
    })?;
    let inside = dir
        .canonicalize()
        .ok()
        .and_then(|d| {
            let top = repo.canonicalize().ok()?;
            d.strip_prefix(top).ok().map(Path::to_path_buf)
        })
        .map(|rel| path.join(rel))
        .filter(|p| p.is_dir())
        .unwrap_or_else(|| path.clone());
    Ok((
        Worktree {
            repo,
            path,
            branch,
            base,
            base_branch,
            outcome: None,
        },
        inside,
    ))
}

/// Lists `.clown/` in the repository's own excludes (not a tracked `.gitignore`).
fn exclude(repo: &Path) {
    let Ok(info) = git(repo, &["rev-parse", "--git-path", "info/exclude"]) else {
        return;
    };
    let file = repo.join(info);
    let text = std::fs::read_to_string(&file).unwrap_or_default();
    if text.lines().any(|l| l.trim() == "/.clown/") {
        return;
    }
    if let Some(dir) = file.parent() {
        let _ = std::fs::create_dir_all(dir);
    }
    let mut out = text;
    if !out.is_empty() && !out.ends_with('\n') {
        out.push('\n');
    }
    out.push_str("/.clown/\n");
    let _ = std::fs::write(&file, out);
}

impl Worktree {
    pub fn exists(&self) -> bool {
        self.path.is_dir()
    }

    /// What it changed since its base: commits on its branch and uncommitted work.
    pub fn changes(&self) -> Result<Changes, WorktreeError> {
        let mut c = Changes::default();
        if !self.exists() {
            return Ok(c);
        }
        let range = format!("{}..HEAD", self.base);
        c.commits = git(&self.path, &["rev-list", "--count", &range])?
            .parse()
            .unwrap_or(0);
        // Against the base: committed and uncommitted changes together; new files not yet
        // added are counted from the files themselves (the index is left as it is).
        for line in git(&self.path, &["diff", "--numstat", &self.base])?.lines() {
            let mut parts = line.splitn(3, '\t');
            let (added, deleted) = (parts.next(), parts.next());
            c.insertions += added.and_then(|n| n.parse::<u64>().ok()).unwrap_or(0);
            c.deletions += deleted.and_then(|n| n.parse::<u64>().ok()).unwrap_or(0);
        }
        for line in git(&self.path, &["diff", "--name-status", &self.base])?.lines() {
            let mut parts = line.split('\t');
            let status = parts.next().unwrap_or_default().chars().take(1).collect();
            if let Some(path) = parts.next_back() {
                c.files.push(ChangedFile {
                    path: path.to_string(),
                    status,
                });
            }
        }
        let untracked = git(&self.path, &["ls-files", "--others", "--exclude-standard"])?;
        for path in untracked.lines().filter(|l| !l.is_empty()) {
            let text = std::fs::read(self.path.join(path)).unwrap_or_default();
            c.insertions += memchr::memchr_iter(b'\n', &text).count() as u64;
            c.files.push(ChangedFile {
                path: path.to_string(),
                status: "??".into(),
            });
        }
        c.files_changed = c.files.len() as u64;
        c.uncommitted = !git(&self.path, &["status", "--porcelain"])?.is_empty();
        Ok(c)
    }

    /// Commits what is not committed yet on its branch (as clown, when git has no name).
    fn commit_all(&self, message: &str) -> Result<(), WorktreeError> {
        git(&self.path, &["add", "--all"])?;
        if git(&self.path, &["status", "--porcelain"])?.is_empty() {
            return Ok(());
        }
        let name = git(&self.path, &["config", "user.name"]).ok();
        let mut args = vec![];
        if name.is_none() {
            args.extend(["-c", "user.name=clown", "-c", "user.email=clown@localhost"]);
        }
        args.extend(["commit", "--quiet", "--no-verify", "-m", message]);
        git(&self.path, &args).map(|_| ())
    }

    /// Merges its branch into the branch the repository has checked out, then removes the
    /// worktree and the branch. A conflict aborts the merge and changes nothing there.
    pub fn merge(&mut self, message: &str) -> Result<(), WorktreeError> {
        if self.exists() {
            self.commit_all(message)?;
        }
        let name = git(&self.repo, &["config", "user.name"]).ok();
        let mut args = vec![];
        if name.is_none() {
            args.extend(["-c", "user.name=clown", "-c", "user.email=clown@localhost"]);
        }
        args.extend(["merge", "--no-ff", "--no-edit", &self.branch]);
        if let Err(e) = git(&self.repo, &args) {
            let _ = git(&self.repo, &["merge", "--abort"]);
            return Err(match e {
                WorktreeError::Refused(m) => WorktreeError::Refused(format!(
                    "The merge of {} did not go through, and was undone: {m}",
                    self.branch
                )),
                other => other,
            });
        }
        self.remove()?;
        self.outcome = Some("merged".into());
        Ok(())
    }

    /// Removes the worktree (whatever it holds) and its branch.
    pub fn remove(&mut self) -> Result<(), WorktreeError> {
        if self.exists() {
            let path = self.path.display().to_string();
            git(&self.repo, &["worktree", "remove", "--force", &path])?;
        }
        let _ = git(&self.repo, &["worktree", "prune"]);
        let _ = git(&self.repo, &["branch", "-D", &self.branch]);
        self.outcome = Some("removed".into());
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn repo(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("clown-wt-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(dir.join("sub")).unwrap();
        std::fs::write(dir.join("a.txt"), "one\n").unwrap();
        std::fs::write(dir.join("sub/b.txt"), "two\n").unwrap();
        for args in [
            &["init", "--quiet", "-b", "main"][..],
            &["add", "."],
            &[
                "-c",
                "user.name=t",
                "-c",
                "user.email=t@t",
                "commit",
                "--quiet",
                "-m",
                "first",
            ],
        ] {
            git(&dir, args).unwrap();
        }
        dir
    }

    #[test]
    fn worktree_changes_merge_and_remove() {
        let r = repo("merge");
        let (mut wt, inside) = create(&r.join("sub"), "s1").unwrap();
        assert_eq!(inside, wt.path.join("sub"));
        assert_eq!(wt.branch, "clown/s1");
        assert_eq!(wt.base_branch.as_deref(), Some("main"));
        assert!(
            git(&r, &["status", "--porcelain"]).unwrap().is_empty(),
            "excluded"
        );
        std::fs::write(wt.path.join("a.txt"), "one\nmore\n").unwrap();
        std::fs::write(wt.path.join("new.txt"), "x\ny\n").unwrap();
        let c = wt.changes().unwrap();
        assert_eq!(
            (c.files_changed, c.insertions, c.deletions, c.uncommitted),
            (2, 3, 0, true)
        );
        wt.merge("clown session s1").unwrap();
        assert_eq!(
            std::fs::read_to_string(r.join("new.txt")).unwrap(),
            "x\ny\n"
        );
        assert!(!wt.exists());
        assert!(
            git(&r, &["branch", "--list", "clown/s1"])
                .unwrap()
                .is_empty()
        );
        let (mut other, _) = create(&r, "s2").unwrap();
        std::fs::write(other.path.join("a.txt"), "changed\n").unwrap();
        other.remove().unwrap();
        assert_eq!(
            std::fs::read_to_string(r.join("a.txt")).unwrap(),
            "one\nmore\n"
        );
        assert!(matches!(
            create(&std::env::temp_dir(), "x"),
            Err(WorktreeError::NotARepository(_))
        ));
        std::fs::remove_dir_all(&r).unwrap();
    }

    #[test]
    fn a_conflicting_merge_changes_nothing() {
        let r = repo("conflict");
        let (mut wt, _) = create(&r, "c1").unwrap();
        std::fs::write(wt.path.join("a.txt"), "theirs\n").unwrap();
        std::fs::write(r.join("a.txt"), "ours\n").unwrap();
        git(
            &r,
            &[
                "-c",
                "user.name=t",
                "-c",
                "user.email=t@t",
                "commit",
                "--quiet",
                "-am",
                "ours",
            ],
        )
        .unwrap();
        let e = wt.merge("m").unwrap_err().to_string();
        assert!(e.contains("undone"), "{e}");
        assert_eq!(std::fs::read_to_string(r.join("a.txt")).unwrap(), "ours\n");
        assert!(wt.exists(), "the worktree stays for another try");
        std::fs::remove_dir_all(&r).unwrap();
    }
}
