//! Import of Claude Code's own records: [`transcripts`] (`projects/**/*.jsonl`, read with
//! the fast [`line`] parser, through the shared driver in `usage::import`) and [`stats`]
//! (`stats-cache.json`), which then fills in the days no transcript covers.

mod line;
mod sources;
mod stats;
mod transcripts;

use jiff::tz::TimeZone;

use crate::store::imports;
use crate::store::{Store, StoreError};
use crate::tokens::Tokens;
pub use crate::usage::import::ImportSource;
use crate::usage::import::{self, FileJob, FileRead, Format, Found, Only, Progress};
pub use sources::sources;

/// The pseudo-profile for Claude data that belongs to no clown profile (the user's own
/// `~/.claude`, `CLAUDE_CONFIG_DIR`). It cannot collide with a real alias, which must
/// start with a letter or digit.
pub const UNASSIGNED_PROFILE: &str = "@claude";
pub const SOURCE_TRANSCRIPT: &str = "claude-transcript";
pub const SOURCE_STATS: &str = "claude-stats";

/// Claude Code's transcripts as an import format.
pub struct Transcripts;

impl Format for Transcripts {
    fn agent(&self) -> &'static str {
        "claude"
    }
    fn source(&self) -> &'static str {
        SOURCE_TRANSCRIPT
    }
    fn files_noun(&self) -> &'static str {
        "JSONL files"
    }
    fn find(&self, root: &std::path::Path, out: &mut Vec<Found>) {
        transcripts::find(root, out)
    }
    fn log_of(
        &self,
        root: &std::path::Path,
        changed: &std::path::Path,
    ) -> Option<std::path::PathBuf> {
        (changed.starts_with(root.join("projects"))
            && changed.extension().is_some_and(|e| e == "jsonl"))
        .then(|| changed.to_path_buf())
    }
    /// The transcripts, and the directory itself for `stats-cache.json`.
    fn watch_dirs(&self, root: &std::path::Path) -> Vec<(std::path::PathBuf, bool)> {
        vec![(root.join("projects"), true), (root.to_path_buf(), false)]
    }
    fn read(&self, job: &FileJob, out: &mut FileRead) {
        transcripts::read(job, out)
    }
}

#[derive(Debug, Default, Clone)]
pub struct Summary {
    pub files: import::Summary,
    pub stats_days: usize,
    pub stats_tokens: Tokens,
}

impl Summary {
    /// The one-line summary the API answers, in the reference's style.
    pub fn line(&self) -> String {
        let f = &self.files;
        let t = &f.tokens;
        let mut s = format!(
            "Imported {} input tokens, {} output tokens, {} cache write and {} cache read tokens from {} JSONL files",
            t.input_tokens,
            t.output_tokens,
            t.cache_creation_input_tokens,
            t.cache_read_input_tokens,
            f.files_read
        );
        if self.stats_days > 0 {
            s.push_str(&format!(
                " and {} input tokens, {} output tokens from stats-cache.json ({} days no transcript covers)",
                self.stats_tokens.input_tokens, self.stats_tokens.output_tokens, self.stats_days
            ));
        }
        s.push_str(&format!(
            ". Found {} session entries from JSONL files; {} new messages, {} updated, {} duplicates skipped, {} files unchanged, {} malformed lines",
            f.sessions, f.events_added, f.events_replaced, f.duplicates, f.files_unchanged, f.malformed_lines
        ));
        s.push_str(&f.unreadable_note());
        s
    }

    pub fn changed(&self) -> bool {
        self.files.changed() || self.stats_days > 0
    }
}

pub(crate) fn fnv(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf29ce484222325u64, |h, b| {
        (h ^ *b as u64).wrapping_mul(0x100000001b3)
    })
}

/// Imports every source; `progress` is called after each file. Blocking: run it on a
/// blocking thread.
pub fn run(
    store: &Store,
    sources: &[ImportSource],
    tz: &TimeZone,
    only: Only,
    progress: &(dyn Fn(Progress) + Sync),
) -> Result<Summary, StoreError> {
    let mut summary = Summary {
        files: import::run(store, &Transcripts, sources, only, progress)?,
        ..Default::default()
    };
    // A live import of changed transcripts leaves stats-cache.json alone.
    if only.is_none() {
        let now = jiff::Timestamp::now().as_second();
        for source in sources {
            import_stats(store, source, tz, &mut summary, now)?;
        }
    }
    Ok(summary)
}

/// Adds the days of `stats-cache.json` on which the source's profile has no usage.
fn import_stats(
    store: &Store,
    source: &ImportSource,
    tz: &TimeZone,
    summary: &mut Summary,
    now: i64,
) -> Result<(), StoreError> {
    let path = source.dir.join("stats-cache.json");
    let Ok(text) = std::fs::read_to_string(&path) else {
        return Ok(());
    };
    let cache: stats::StatsCache = match serde_json::from_str(&text) {
        Ok(s) => s,
        Err(e) => {
            summary
                .files
                .unreadable
                .push(format!("{}: {e}", path.display()));
            return Ok(());
        }
    };
    let (days, malformed) = stats::days(&cache, &source.profile, tz);
    summary.files.malformed_lines += malformed;
    let (added_days, counted) =
        store.call_blocking(|c| imports::add_uncovered_days(c, &source.profile, &days, now))?;
    summary.stats_days += added_days;
    summary.stats_tokens.add(&counted.tokens);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::transcripts::keys;

    #[test]
    fn dedupe_keys() {
        assert_eq!(
            keys(Some(b"msg_1"), Some(b"req_1"), b"x"),
            (
                "claude:msg_1:req_1".to_string(),
                Some("claude:msg_1".to_string())
            )
        );
        assert_eq!(
            keys(Some(b"msg_1"), None, b"x"),
            ("claude:msg_1".to_string(), None)
        );
        let (a, _) = keys(None, Some(b"r"), b"line a");
        assert!(a.starts_with("claude-line:") && a != keys(None, None, b"line b").0);
        assert_eq!(a, keys(None, None, b"line a").0);
    }
}
