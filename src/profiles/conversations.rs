//! The agents' conversations across profiles (each profile's home read with
//! [`crate::conversations`]), with the tokens and cost recorded under each one's id, and
//! resuming one in a new terminal session — under its own profile, or another profile of
//! the same agent (the conversation's file is copied into that profile's home first).

use std::path::PathBuf;
use std::sync::Arc;

use serde::Serialize;

use super::{ProfileError, Profiles, SessionRequest};
use crate::agents::prepare::profile_home;
use crate::conversations::{self, Conversation};
use crate::pty::Session;
use crate::tokens::Tokens;
use crate::usage::pricing::ExactCost;

#[derive(Debug, Clone, Serialize)]
pub struct ConversationView {
    pub profile_alias: String,
    #[serde(flatten)]
    pub conversation: Conversation,
    /// Tokens recorded under this conversation's id (imports of the agent's files), if any.
    pub tokens: Option<Tokens>,
    /// Their cost in USD (models without a price count nothing).
    pub cost_usd: Option<f64>,
    /// What the agent is started with to resume it.
    pub resume_args: Option<Vec<String>>,
}

/// A request to resume a conversation.
#[derive(Debug)]
pub struct ResumeConversation {
    /// The profile whose home holds it.
    pub profile_alias: String,
    pub conversation_id: String,
    /// The profile to run it under (default: the same).
    pub target_profile: Option<String>,
    /// Where to run it (default: the directory it ran in).
    pub working_dir: Option<PathBuf>,
    pub cols: u16,
    pub rows: u16,
}

impl Profiles {
    /// The conversations of every profile (or of `profile`), newest first, those matching
    /// `query` when one is given, at most `limit`.
    pub async fn conversations(
        &self,
        profile: Option<String>,
        query: Option<String>,
        limit: usize,
    ) -> Result<Vec<ConversationView>, ProfileError> {
        let rows = match &profile {
            Some(alias) => vec![self.row(alias).await?],
            None => self.list(None).await?,
        };
        let home = self.r.home.clone();
        let found = tokio::task::spawn_blocking(move || {
            let mut all: Vec<(String, Conversation)> = Vec::new();
            for row in &rows {
                let dir = profile_home(&home, &row.agent_id, &row.alias);
                for c in conversations::scan(&row.agent_id, &dir) {
                    if query
                        .as_deref()
                        .is_none_or(|q| conversations::matches(&row.agent_id, &c, q))
                    {
                        all.push((row.alias.clone(), c));
                    }
                }
            }
            all.sort_by_key(|c| std::cmp::Reverse(c.1.last_secs));
            all.truncate(limit);
            all
        })
        .await
        .map_err(|e| ProfileError::Internal(e.to_string()))?;
        let ids: Vec<String> = found.iter().map(|(_, c)| c.id.clone()).collect();
        let usage = self
            .r
            .store
            .read(move |c| crate::store::conversations::tokens_by_session(c, &ids))
            .await?;
        let catalogue = self.r.catalogue.get();
        Ok(found
            .into_iter()
            .map(|(alias, c)| {
                let (tokens, cost_usd) = totals(usage.get(&c.id), &catalogue);
                ConversationView {
                    resume_args: conversations::resume_args(&c.agent_id, Some(&c.id)),
                    profile_alias: alias,
                    conversation: c,
                    tokens,
                    cost_usd,
                }
            })
            .collect())
    }

    /// Resumes a conversation in a new terminal session.
    pub async fn resume_conversation(
        &self,
        req: ResumeConversation,
    ) -> Result<Arc<Session>, ProfileError> {
        let source = self.row(&req.profile_alias).await?;
        let target_alias = req.target_profile.clone().unwrap_or(source.alias.clone());
        let target = self.row(&target_alias).await?;
        if target.agent_id != source.agent_id {
            return Err(ProfileError::Invalid(format!(
                "Profile '{}' runs agent '{}', but the conversation is one of '{}': resume it under a profile of that agent",
                target.alias, target.agent_id, source.agent_id
            )));
        }
        let from = profile_home(&self.r.home, &source.agent_id, &source.alias);
        let to = profile_home(&self.r.home, &target.agent_id, &target.alias);
        let (agent, id) = (source.agent_id.clone(), req.conversation_id.clone());
        let scan_home = from.clone();
        let found = tokio::task::spawn_blocking(move || {
            conversations::scan(&agent, &scan_home)
                .into_iter()
                .find(|c| c.id == id)
        })
        .await
        .map_err(|e| ProfileError::Internal(e.to_string()))?
        .ok_or_else(|| {
            ProfileError::Missing(format!(
                "Conversation '{}' of profile '{}' not found",
                req.conversation_id, source.alias
            ))
        })?;
        let args =
            conversations::resume_args(&source.agent_id, Some(&found.id)).ok_or_else(|| {
                ProfileError::Invalid(format!(
                    "Agent '{}' cannot resume a conversation",
                    source.agent_id
                ))
            })?;
        let dir = match req.working_dir.clone() {
            Some(d) => d,
            None => found
                .cwd
                .as_ref()
                .map(PathBuf::from)
                .filter(|d| d.is_dir())
                .ok_or_else(|| {
                    ProfileError::Invalid(format!(
                        "The conversation's directory {} is gone; give working_dir",
                        found.cwd.as_deref().unwrap_or("(unknown)")
                    ))
                })?,
        };
        if target.alias != source.alias {
            conversations::copy_into(&source.agent_id, &found, &from, &to).map_err(|e| {
                ProfileError::Internal(format!(
                    "cannot copy the conversation into {}: {e}",
                    to.display()
                ))
            })?;
        }
        self.start_session(SessionRequest {
            profile_alias: Some(target.alias),
            login: false,
            args,
            cols: req.cols,
            rows: req.rows,
            working_dir: Some(dir),
            search_path: None,
            worktree: false,
        })
        .await
    }
}

/// The tokens and cost of one conversation's recorded usage.
fn totals(
    by_model: Option<&Vec<(String, Tokens)>>,
    catalogue: &crate::registry::Catalogue,
) -> (Option<Tokens>, Option<f64>) {
    let Some(by_model) = by_model else {
        return (None, None);
    };
    let mut tokens = Tokens::default();
    let mut cost = ExactCost::default();
    for (model, t) in by_model {
        tokens.add(t);
        if let Some(price) = catalogue.price(model) {
            cost.add(&ExactCost::of(t, price));
        }
    }
    (Some(tokens), Some(cost.usd().total_cost))
}
