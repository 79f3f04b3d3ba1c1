//! Interrupted sessions: those a stop of the daemon or the service, a reboot or a lost
//! holder ended. Each is listed with its profile, directory and the agent's id of its
//! conversation (from its hooks, else read from the agent's own files: the conversation
//! last written in that directory while the session ran), and resumes with one request:
//! a new session of the same profile in the same directory, running the agent's resume
//! command (`claude --resume ID`, `codex resume ID`, …; without an id, the latest one in
//! the directory).

use std::path::PathBuf;
use std::sync::Arc;

use serde::Serialize;

use super::{ProfileError, Profiles, SessionRequest};
use crate::agents::prepare::profile_home;
use crate::conversations;
use crate::pty::Session;
use crate::store::sessions::{self as records, SessionRow};

#[derive(Debug, Clone, Serialize)]
pub struct Interrupted {
    pub id: String,
    pub profile_alias: String,
    pub agent_id: String,
    pub working_dir: String,
    pub conversation_id: Option<String>,
    pub created_at: String,
    pub ended_at: Option<String>,
    pub exit_code: Option<i32>,
    /// What the agent is started with to resume it; null when it cannot.
    pub resume_args: Option<Vec<String>>,
}

impl Profiles {
    /// The interrupted sessions, oldest first; conversation ids found in the agents'
    /// files are kept in the records.
    pub async fn interrupted(&self) -> Result<Vec<Interrupted>, ProfileError> {
        let rows = self
            .r
            .store
            .read(|c| records::in_state(c, "interrupted"))
            .await?;
        let mut out = Vec::with_capacity(rows.len());
        for mut row in rows {
            if row.conversation_id.is_none()
                && let Some(found) = self.find_conversation(&row).await
            {
                let (id, conv) = (row.id.clone(), found.clone());
                self.r
                    .store
                    .call(move |c| records::set_conversation(c, &id, &conv))
                    .await?;
                row.conversation_id = Some(found);
            }
            out.push(view(&row));
        }
        Ok(out)
    }

    async fn find_conversation(&self, row: &SessionRow) -> Option<String> {
        let home = profile_home(&self.r.home, &row.agent_id, &row.profile);
        let (agent, cwd, from) = (row.agent_id.clone(), row.cwd.clone(), row.started_at);
        let to = row
            .ended_at
            .unwrap_or_else(|| jiff::Timestamp::now().as_second());
        tokio::task::spawn_blocking(move || {
            conversations::of_session(&agent, &home, &cwd, from, to).map(|c| c.id)
        })
        .await
        .ok()
        .flatten()
    }

    async fn interrupted_row(&self, id: &str) -> Result<SessionRow, ProfileError> {
        let key = id.to_string();
        self.r
            .store
            .read(move |c| records::get(c, &key))
            .await?
            .filter(|r| r.state == "interrupted")
            .ok_or_else(|| ProfileError::Missing(format!("Interrupted session '{id}' not found")))
    }

    /// Resumes interrupted session `id` in a new session (`cols`×`rows`); the interrupted
    /// one is forgotten.
    pub async fn resume_interrupted(
        &self,
        id: &str,
        cols: u16,
        rows: u16,
    ) -> Result<Arc<Session>, ProfileError> {
        let row = self.interrupted_row(id).await?;
        let conversation = match &row.conversation_id {
            Some(c) => Some(c.clone()),
            None => self.find_conversation(&row).await,
        };
        let args = conversations::resume_args(&row.agent_id, conversation.as_deref()).ok_or_else(
            || {
                ProfileError::Invalid(format!(
                    "Agent '{}' cannot resume a conversation; start a new session instead",
                    row.agent_id
                ))
            },
        )?;
        let dir = PathBuf::from(&row.cwd);
        if !dir.is_dir() {
            return Err(ProfileError::Invalid(format!(
                "The session's directory {} is gone; resume its conversation from another one with 'clown conversations resume'",
                row.cwd
            )));
        }
        let session = self
            .start_session(SessionRequest {
                profile_alias: Some(row.profile.clone()),
                login: false,
                args,
                cols,
                rows,
                working_dir: Some(dir),
                search_path: None,
                worktree: false,
            })
            .await?;
        self.r.terminals.forget(&row.id).await?;
        Ok(session)
    }

    /// Forgets interrupted session `id`.
    pub async fn dismiss_interrupted(&self, id: &str) -> Result<(), ProfileError> {
        self.interrupted_row(id).await?;
        self.r.terminals.forget(id).await?;
        Ok(())
    }
}

fn view(row: &SessionRow) -> Interrupted {
    Interrupted {
        id: row.id.clone(),
        profile_alias: row.profile.clone(),
        agent_id: row.agent_id.clone(),
        working_dir: row.cwd.clone(),
        conversation_id: row.conversation_id.clone(),
        created_at: row.created_at.clone(),
        ended_at: row
            .ended_at
            .and_then(|s| jiff::Timestamp::from_second(s).ok())
            .map(crate::time::rfc3339),
        exit_code: row.exit_code,
        resume_args: conversations::resume_args(&row.agent_id, row.conversation_id.as_deref()),
    }
}
