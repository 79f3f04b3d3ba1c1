//! The sandbox a profile's agent can run in: what it may see, and the command that
//! confines it — bubblewrap (`bwrap`) on Linux, `sandbox-exec` on macOS.
//!
//! A [`Layout`] says it: the whole file system read-only, the writable paths (the profile
//! home, the working directory) read-write, the hidden paths (clown's own directories,
//! every profile home but this one, the agents' real homes in the user's home, the user's
//! runtime directory) replaced by empty ones, and, inside a hidden directory, the
//! writable paths and the agent's install put back. Networking is untouched: the agent
//! must reach its proxy on 127.0.0.1. Paths are taken as given (the caller resolves
//! them); building the command does no I/O.

use std::path::{Path, PathBuf};

/// What a sandboxed agent sees.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Layout {
    /// Read-write: the profile home and the working directory.
    pub writable: Vec<PathBuf>,
    /// Directories that appear empty (and writable, in memory only).
    pub hidden_dirs: Vec<PathBuf>,
    /// Files that appear empty.
    pub hidden_files: Vec<PathBuf>,
    /// Put back read-only inside a hidden directory (the agent's install, when it lives
    /// in one).
    pub readable: Vec<PathBuf>,
    /// Where the agent starts.
    pub cwd: PathBuf,
    /// Start the agent in a session of its own, without a controlling terminal: in the
    /// user's own terminal, where the kernel still lets a process push input into its
    /// controlling terminal (TIOCSTI), the agent could otherwise type commands into the
    /// user's shell after it exits. The price: it sees no window resizes.
    pub new_session: bool,
}

/// A command prefix: the agent's program and arguments follow `args`.
#[derive(Debug, Clone, PartialEq)]
pub struct Wrapper {
    pub program: PathBuf,
    pub args: Vec<String>,
}

impl Wrapper {
    /// The full command line: the wrapper, then the agent's program and arguments.
    pub fn command(&self, program: &Path, args: &[String]) -> (PathBuf, Vec<String>) {
        let mut all = self.args.clone();
        all.push(program.display().to_string());
        all.extend(args.iter().cloned());
        (self.program.clone(), all)
    }
}

/// Whether a process may push input into its controlling terminal (TIOCSTI): Linux
/// before 6.2, or later with `dev.tty.legacy_tiocsti` on.
pub fn terminal_injection_possible() -> bool {
    match std::fs::read_to_string("/proc/sys/dev/tty/legacy_tiocsti") {
        Ok(v) => v.trim() != "0",
        Err(_) => cfg!(target_os = "linux"),
    }
}

/// Which sandbox this platform has: the tool's name and the package that brings it.
pub fn tool() -> Option<(&'static str, &'static str)> {
    if cfg!(target_os = "linux") {
        Some(("bwrap", "bubblewrap"))
    } else if cfg!(target_os = "macos") {
        Some(("sandbox-exec", "macOS itself"))
    } else {
        None
    }
}

/// Where agents keep their own data in the user's home when run without clown (logins,
/// transcripts, settings): hidden from every sandboxed agent. An agent without a profile
/// home of its own (Qwen Code, Grok CLI, Droid) finds its directory there empty, and
/// what it writes there is gone when it exits.
pub const REAL_HOMES: &[&str] = &[
    ".claude",
    ".claude.json",
    ".codex",
    ".gemini",
    ".qwen",
    ".grok",
    ".factory",
    ".config/opencode",
    ".local/share/opencode",
];

impl Layout {
    /// The writable paths that lie inside a hidden directory (bound again after hiding).
    fn inside_hidden<'a>(&'a self, paths: &'a [PathBuf]) -> impl Iterator<Item = &'a PathBuf> {
        paths
            .iter()
            .filter(|p| self.hidden_dirs.iter().any(|h| p.starts_with(h)))
    }

    /// Whether `path` is hidden and not put back (a working directory there is refused).
    pub fn hides(&self, path: &Path) -> bool {
        let hidden = self.hidden_dirs.iter().any(|h| path.starts_with(h))
            || self.hidden_files.iter().any(|f| path == f);
        let back = self
            .writable
            .iter()
            .chain(&self.readable)
            .filter(|w| self.hidden_dirs.iter().any(|h| w.starts_with(h)))
            .any(|w| path.starts_with(w));
        hidden && !back
    }

    /// bubblewrap's arguments, up to and including `--`. Order matters: later mounts
    /// cover earlier ones, so the writable paths are bound before the hidden ones are
    /// covered (a working directory that contains a hidden one keeps it hidden), and
    /// bound again after when they lie inside one.
    pub fn bwrap_args(&self) -> Vec<String> {
        let mut a: Vec<String> = Vec::new();
        let mut push = |words: &[&str]| a.extend(words.iter().map(|w| w.to_string()));
        push(&["--ro-bind", "/", "/", "--dev", "/dev", "--proc", "/proc"]);
        push(&["--tmpfs", "/tmp"]);
        let path = |p: &PathBuf| p.display().to_string();
        for w in &self.writable {
            push(&["--bind", &path(w), &path(w)]);
        }
        for h in &self.hidden_dirs {
            push(&["--tmpfs", &path(h)]);
        }
        for f in &self.hidden_files {
            push(&["--ro-bind", "/dev/null", &path(f)]);
        }
        for w in self.inside_hidden(&self.writable) {
            push(&["--bind", &path(w), &path(w)]);
        }
        for r in self.inside_hidden(&self.readable) {
            push(&["--ro-bind", &path(r), &path(r)]);
        }
        // Its own processes only (and a /proc that shows only them), no capabilities
        // even when run by root, and nothing left behind when clown's side goes.
        push(&["--unshare-pid", "--unshare-ipc", "--unshare-uts"]);
        push(&[
            "--unshare-cgroup-try",
            "--die-with-parent",
            "--cap-drop",
            "ALL",
        ]);
        if self.new_session {
            push(&["--new-session"]);
        }
        push(&["--chdir", &path(&self.cwd), "--"]);
        a
    }

    /// A `sandbox-exec` profile with the same layout. The last matching rule wins.
    pub fn seatbelt_profile(&self) -> String {
        let q = |p: &PathBuf| {
            let s = p.display().to_string();
            format!("\"{}\"", s.replace('\\', "\\\\").replace('"', "\\\""))
        };
        let subpaths = |ps: &mut dyn Iterator<Item = &PathBuf>| {
            ps.map(|p| format!(" (subpath {})", q(p)))
                .collect::<String>()
        };
        let mut out = String::from("(version 1)\n(allow default)\n(deny file-write*)\n");
        out.push_str(
            "(allow file-write* (subpath \"/private/tmp\") (subpath \"/private/var/folders\")\n  \
             (literal \"/dev/null\") (regex #\"^/dev/tty\") (regex #\"^/dev/fd/\"))\n",
        );
        if !self.writable.is_empty() {
            let w = subpaths(&mut self.writable.iter());
            out.push_str(&format!("(allow file-write*{w})\n"));
        }
        let hidden: String = self
            .hidden_dirs
            .iter()
            .map(|p| format!(" (subpath {})", q(p)))
            .chain(
                self.hidden_files
                    .iter()
                    .map(|p| format!(" (literal {})", q(p))),
            )
            .collect();
        if !hidden.is_empty() {
            out.push_str(&format!("(deny file-read* file-write*{hidden})\n"));
        }
        let back = subpaths(&mut self.inside_hidden(&self.writable));
        if !back.is_empty() {
            out.push_str(&format!("(allow file-read* file-write*{back})\n"));
        }
        let readable = subpaths(&mut self.inside_hidden(&self.readable));
        if !readable.is_empty() {
            out.push_str(&format!("(allow file-read*{readable})\n"));
        }
        out
    }

    /// The wrapper for `tool` (found at `tool_path`).
    pub fn wrapper(&self, tool: &str, tool_path: &Path) -> Wrapper {
        let args = if tool == "sandbox-exec" {
            vec!["-p".to_string(), self.seatbelt_profile(), "--".to_string()]
        } else {
            self.bwrap_args()
        };
        Wrapper {
            program: tool_path.to_path_buf(),
            args,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn layout() -> Layout {
        Layout {
            writable: vec!["/h/.claude-profiles/w".into(), "/h/src".into()],
            hidden_dirs: vec![
                "/h/.local/share/clown".into(),
                "/h/.claude-profiles".into(),
                "/h/.claude".into(),
            ],
            hidden_files: vec!["/h/.claude.json".into()],
            readable: vec!["/h/.claude/local".into(), "/usr/lib/node".into()],
            cwd: "/h/src".into(),
            new_session: false,
        }
    }

    fn position(args: &[String], words: &[&str]) -> Vec<usize> {
        args.windows(words.len())
            .enumerate()
            .filter(|(_, w)| w.iter().zip(words).all(|(a, b)| a == b))
            .map(|(i, _)| i)
            .collect()
    }

    #[test]
    fn bwrap_hides_after_binding_and_binds_back_what_lies_inside() {
        let a = layout().bwrap_args();
        let home = position(
            &a,
            &["--bind", "/h/.claude-profiles/w", "/h/.claude-profiles/w"],
        );
        let hide = position(&a, &["--tmpfs", "/h/.claude-profiles"]);
        let src = position(&a, &["--bind", "/h/src", "/h/src"]);
        // The profile home: bound, covered, bound again; the working directory once.
        assert_eq!((home.len(), hide.len(), src.len()), (2, 1, 1), "{a:?}");
        assert!(home[0] < hide[0] && hide[0] < home[1] && src[0] < hide[0]);
        assert_eq!(
            position(&a, &["--ro-bind", "/dev/null", "/h/.claude.json"]).len(),
            1
        );
        // Put back read-only only what a hidden directory covers.
        assert_eq!(
            position(&a, &["--ro-bind", "/h/.claude/local", "/h/.claude/local"]).len(),
            1
        );
        assert!(position(&a, &["--ro-bind", "/usr/lib/node", "/usr/lib/node"]).is_empty());
        assert!(a.contains(&"--unshare-pid".to_string()) && !a.contains(&"--unshare-net".into()));
        assert!(!a.contains(&"--new-session".to_string()));
        let l = Layout {
            new_session: true,
            ..layout()
        };
        assert!(l.bwrap_args().contains(&"--new-session".to_string()));
        assert_eq!(&a[a.len() - 3..], ["--chdir", "/h/src", "--"]);
    }

    #[test]
    fn hidden_paths_and_what_is_put_back() {
        let l = layout();
        assert!(l.hides(Path::new("/h/.local/share/clown/clown.db")));
        assert!(l.hides(Path::new("/h/.claude-profiles/other")));
        assert!(l.hides(Path::new("/h/.claude.json")));
        assert!(!l.hides(Path::new("/h/.claude-profiles/w/projects")));
        assert!(!l.hides(Path::new("/h/.claude/local/bin")));
        assert!(!l.hides(Path::new("/h/src")));
        assert!(!l.hides(Path::new("/h")));
    }

    #[test]
    fn seatbelt_profile_has_the_same_layout() {
        let mut l = layout();
        l.hidden_dirs.push("/h/we\"ird".into());
        let p = l.seatbelt_profile();
        let deny = p.find("(deny file-read* file-write* (subpath \"/h/.local/share/clown\")");
        let back = p.find("(allow file-read* file-write* (subpath \"/h/.claude-profiles/w\"))");
        assert!(deny.is_some() && back.is_some() && deny < back, "{p}");
        assert!(p.contains("(literal \"/h/.claude.json\")"), "{p}");
        assert!(p.contains("(subpath \"/h/we\\\"ird\")"), "{p}");
        assert!(
            p.contains("(allow file-read* (subpath \"/h/.claude/local\"))"),
            "{p}"
        );
        assert!(p.starts_with("(version 1)\n(allow default)\n(deny file-write*)\n"));
        let w = l.wrapper("sandbox-exec", Path::new("/usr/bin/sandbox-exec"));
        assert_eq!(w.args[0], "-p");
        let (program, args) = w.command(Path::new("/bin/agent"), &["-x".into()]);
        assert_eq!(program, Path::new("/usr/bin/sandbox-exec"));
        assert_eq!(&args[2..], ["--", "/bin/agent", "-x"]);
    }
}
