//! Deleting a profile: refused while its terminal sessions or proxy run unless forced
//! (then they are stopped first); the home is kept unless purged, and a purge removes
//! only the home this profile's agent and alias name, never a stored path as is.

use serde_json::json;

use super::{ProfileError, Profiles};
use crate::agents::prepare::profile_home;
use crate::store::profiles as db;

impl Profiles {
    /// Deletes `alias`; returns whether its home was removed, and that home (`~/…`).
    pub async fn delete(
        &self,
        alias: &str,
        force: bool,
        purge: bool,
    ) -> Result<(bool, String), ProfileError> {
        let row = self.row(alias).await?;
        if self.in_use(alias) {
            if !force {
                return Err(ProfileError::Conflict(format!(
                    "Profile '{alias}' has a running terminal session or proxy; stop it first or use ?force=true"
                )));
            }
            self.r.terminals.stop_profile(alias).await;
            self.r.proxies.remove(alias).await;
        }
        let a = alias.to_string();
        let deleted = self
            .r
            .store
            .call(move |c| {
                let deleted = db::delete(c, &a)?;
                if deleted {
                    crate::store::budgets::remove_scope(c, &a)?;
                }
                Ok(deleted)
            })
            .await?;
        if !deleted {
            return Err(ProfileError::NotFound(alias.to_string()));
        }
        self.count
            .fetch_sub(1, std::sync::atomic::Ordering::Relaxed);
        // The deleted key was overwritten in the file; a checkpoint also takes the pages
        // that held it out of the WAL.
        if let Err(e) = self.r.store.checkpoint().await {
            tracing::warn!("cannot checkpoint after deleting '{alias}': {e}");
        }
        let mut purged = false;
        if purge {
            let home = profile_home(&self.r.home, &row.agent_id, &row.alias);
            if home.display().to_string() == row.profile_home && home.exists() {
                std::fs::remove_dir_all(&home).map_err(|e| {
                    ProfileError::Internal(format!("cannot remove {}: {e}", home.display()))
                })?;
                purged = true;
            }
        }
        tracing::info!(
            "profile '{alias}' deleted{}",
            if purged { " (home removed)" } else { "" }
        );
        self.r
            .events
            .publish("profile_deleted", json!({"alias": alias, "purged": purged}));
        Ok((purged, super::tilde(&row.profile_home, &self.r.home)))
    }
}
