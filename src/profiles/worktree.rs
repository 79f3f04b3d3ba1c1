//! A session's git worktree once the session is running or over: what it changed, and
//! keeping, merging or removing it (`crate::worktrees` does the git work). The worktree is
//! named in the session's record, so this works for ended and interrupted sessions too,
//! after a restart of the daemon.

use serde::Serialize;

use super::{ProfileError, Profiles};
use crate::store::sessions as records;
use crate::worktrees::{Changes, Worktree, WorktreeError};

#[derive(Debug, Clone, Serialize)]
pub struct WorktreeView {
    pub session_id: String,
    #[serde(flatten)]
    pub worktree: Worktree,
    pub exists: bool,
    /// Whether the session still runs (merge and remove wait for its end).
    pub running: bool,
    pub changes: Changes,
}

/// What to do with a worktree.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WorktreeAction {
    Keep,
    Merge,
    Remove,
}

impl WorktreeAction {
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "keep" => Some(Self::Keep),
            "merge" => Some(Self::Merge),
            "remove" => Some(Self::Remove),
            _ => None,
        }
    }
}

fn git_error(e: WorktreeError) -> ProfileError {
    match e {
        WorktreeError::NotARepository(m) => ProfileError::Invalid(m),
        WorktreeError::Refused(m) => ProfileError::Conflict(m),
        WorktreeError::Git(m) => ProfileError::Internal(m),
    }
}

impl Profiles {
    async fn worktree_of(&self, id: &str) -> Result<Worktree, ProfileError> {
        let key = id.to_string();
        let row = self
            .r
            .store
            .read(move |c| records::get(c, &key))
            .await?
            .ok_or_else(|| ProfileError::Missing(format!("Terminal session '{id}' not found")))?;
        row.worktree
            .as_deref()
            .and_then(|w| serde_json::from_str(w).ok())
            .ok_or_else(|| {
                ProfileError::Missing(format!("Terminal session '{id}' has no worktree"))
            })
    }

    fn session_running(&self, id: &str) -> bool {
        uuid::Uuid::parse_str(id)
            .ok()
            .and_then(|u| self.r.terminals.get(u))
            .is_some_and(|s| s.is_running())
    }

    /// Session `id`'s worktree and what it changed.
    pub async fn worktree(&self, id: &str) -> Result<WorktreeView, ProfileError> {
        let wt = self.worktree_of(id).await?;
        let running = self.session_running(id);
        let (wt, changes) = tokio::task::spawn_blocking(move || {
            let changes = wt.changes();
            (wt, changes)
        })
        .await
        .map_err(|e| ProfileError::Internal(e.to_string()))?;
        Ok(WorktreeView {
            session_id: id.to_string(),
            exists: wt.exists(),
            worktree: wt,
            running,
            changes: changes.map_err(git_error)?,
        })
    }

    /// Keeps, merges or removes session `id`'s worktree; merging and removing wait for
    /// the session's end (409 before).
    pub async fn worktree_action(
        &self,
        id: &str,
        action: WorktreeAction,
    ) -> Result<WorktreeView, ProfileError> {
        let mut wt = self.worktree_of(id).await?;
        if action != WorktreeAction::Keep && self.session_running(id) {
            return Err(ProfileError::Conflict(format!(
                "Terminal session '{id}' still runs in its worktree: end it first"
            )));
        }
        if wt.outcome.as_deref().is_some_and(|o| o != "kept") && action != WorktreeAction::Keep {
            return Err(ProfileError::Conflict(format!(
                "The worktree of session '{id}' was already {}",
                wt.outcome.as_deref().unwrap_or_default()
            )));
        }
        let message = format!("clown: changes of session {}", &id[..id.len().min(8)]);
        wt = tokio::task::spawn_blocking(move || {
            match action {
                WorktreeAction::Keep => wt.outcome = Some("kept".into()),
                WorktreeAction::Merge => wt.merge(&message)?,
                WorktreeAction::Remove => wt.remove()?,
            }
            Ok::<_, WorktreeError>(wt)
        })
        .await
        .map_err(|e| ProfileError::Internal(e.to_string()))?
        .map_err(git_error)?;
        let (key, json) = (
            id.to_string(),
            serde_json::to_string(&wt).unwrap_or_default(),
        );
        self.r
            .store
            .call(move |c| records::set_worktree(c, &key, Some(&json)))
            .await?;
        self.worktree(id).await
    }
}
