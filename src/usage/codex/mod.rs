//! Codex CLI's session rollouts: `$CODEX_HOME/sessions/YYYY/MM/DD/rollout-*.jsonl` and
//! `archived_sessions/`, appended to as a session goes on (a resumed session appends to
//! its file). One `token_count` event per model request; the model comes from the last
//! `turn_context`. See [`rollout`] for the rules, which are ccusage's.

mod rollout;

use std::path::Path;

use crate::usage::import::walk::{ends_with, walk};
use crate::usage::import::{FileJob, FileRead, Format, Found, read_lines};

pub const SOURCE: &str = "codex-log";

pub struct Rollouts;

impl Format for Rollouts {
    fn agent(&self) -> &'static str {
        "codex"
    }
    fn source(&self) -> &'static str {
        SOURCE
    }
    fn files_noun(&self) -> &'static str {
        "rollout files"
    }
    /// `sessions/` and `archived_sessions/` of a Codex home, recursively.
    fn find(&self, root: &Path, out: &mut Vec<Found>) {
        for sub in ["sessions", "archived_sessions"] {
            walk(&root.join(sub), &|p| ends_with(p, ".jsonl"), out);
        }
    }
    fn log_of(&self, root: &Path, changed: &Path) -> Option<std::path::PathBuf> {
        let under = ["sessions", "archived_sessions"]
            .iter()
            .any(|s| changed.starts_with(root.join(s)));
        (under && ends_with(changed, ".jsonl")).then(|| changed.to_path_buf())
    }
    fn watch_dirs(&self, root: &Path) -> Vec<(std::path::PathBuf, bool)> {
        vec![
            (root.join("sessions"), true),
            (root.join("archived_sessions"), true),
        ]
    }
    fn read(&self, job: &FileJob, out: &mut FileRead) {
        let mut state = rollout::State::load(job.state.as_deref(), &job.path);
        // Only token counts and turn contexts matter; both contain "_co".
        read_lines(&job.path, out, b"_co", |r, line| state.line(r, line));
        out.file.state = Some(state.save());
    }
}
