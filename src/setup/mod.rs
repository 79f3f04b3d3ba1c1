//! One shared setup projected into every profile home: MCP servers, permissions and
//! settings, hooks, the status line, instructions (`CLAUDE.md`, `AGENTS.md`, `GEMINI.md`,
//! `QWEN.md`) and the skills, commands and agents folders.
//!
//! [`model`] is the setup in no agent's format, [`formats`] the files and keys of each
//! agent, [`engine`] the merge into one file and the drift seen since, [`folders`] the
//! folders under `<data>/setup/`, [`import`] what the user already has (read only).
//! [`SharedSetup`] is the use cases: change the setup (each change is projected into
//! every profile at once), project it (also at every create and launch, so a home is
//! never behind), show each home's drift, adopt drift into the setup.
//!
//! The setup lives in the `shared_setup` table; per profile and file, what the last
//! projection wrote is in `setup_projections`. Changes and projections run one at a time;
//! file edits take the per-file lock launches take.

mod adopt;
mod doc;
pub mod engine;
pub mod folders;
pub mod formats;
pub mod import;
pub mod model;
mod project;

use std::path::PathBuf;

use serde::Serialize;
use serde_json::{Value, json};

use crate::events::EventBus;
use crate::paths::Env;
use crate::store::setup as db;
use crate::store::{Store, StoreError};

pub use engine::{Change, Drift};
pub use model::{McpServer, ProfileScope, Setup};
pub use project::ProfileReport;

#[derive(Debug, thiserror::Error)]
pub enum SetupError {
    #[error("{0}")]
    Invalid(String),
    #[error("{0}")]
    NotFound(String),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    File(#[from] crate::agents::prepare::files::FileError),
    #[error("{0}")]
    Internal(String),
}

/// What a change of the setup did: the projection into each profile.
#[derive(Debug, Serialize)]
pub struct Applied {
    pub profiles: Vec<ProfileReport>,
}

/// What an import read and took.
#[derive(Debug, Serialize)]
pub struct Imported {
    pub read: Vec<import::ReadFile>,
    /// Items added (or replaced) in the setup.
    pub imported: Vec<String>,
    /// Items left as the setup already had them.
    pub kept: Vec<String>,
    pub folders_copied: usize,
    pub applied: Vec<ProfileReport>,
}

pub struct SharedSetup {
    store: Store,
    events: EventBus,
    /// The user's home (profile homes, and the files an import reads).
    home: PathBuf,
    /// `<data>/setup`: the folders.
    dir: PathBuf,
    env: Env,
    lock: tokio::sync::Mutex<()>,
}

impl SharedSetup {
    pub fn new(store: Store, events: EventBus, home: PathBuf, data_dir: PathBuf, env: Env) -> Self {
        Self {
            store,
            events,
            home,
            dir: data_dir.join("setup"),
            env,
            lock: tokio::sync::Mutex::new(()),
        }
    }

    /// The stored setup (empty when none was saved).
    pub async fn get(&self) -> Result<Setup, SetupError> {
        let doc = self.store.read(db::get).await?;
        match doc {
            Some(text) => serde_json::from_str(&text)
                .map_err(|e| SetupError::Internal(format!("stored setup unreadable: {e}"))),
            None => Ok(Setup::default()),
        }
    }

    /// The setup as the API shows it: secrets as hints, the folders' files.
    pub async fn view(&self) -> Result<Value, SetupError> {
        let setup = self.get().await?;
        let dir = self.dir.clone();
        let listing = tokio::task::spawn_blocking(move || folders::listing(&dir))
            .await
            .map_err(|e| SetupError::Internal(e.to_string()))?;
        Ok(json!({"setup": setup.redacted(), "folders": listing, "folders_dir": self.dir}))
    }

    async fn save(&self, setup: &Setup) -> Result<(), SetupError> {
        setup.validate().map_err(SetupError::Invalid)?;
        let text = serde_json::to_string(setup).map_err(|e| SetupError::Internal(e.to_string()))?;
        let now = crate::time::now_rfc3339();
        self.store.call(move |c| db::put(c, &text, &now)).await?;
        Ok(())
    }

    /// Changes the setup with `f` (refused whole when the result is invalid), then
    /// projects it into every profile.
    pub async fn modify(
        &self,
        what: &str,
        f: impl FnOnce(&mut Setup) -> Result<(), SetupError>,
    ) -> Result<Applied, SetupError> {
        let _one = self.lock.lock().await;
        let mut setup = self.get().await?;
        f(&mut setup)?;
        self.save(&setup).await?;
        let profiles = self
            .project_and_announce(&setup, json!({"what": what}))
            .await?;
        Ok(Applied { profiles })
    }

    /// Replaces the whole setup; hints sent back unchanged keep the stored secrets.
    pub async fn replace(&self, mut new: Setup) -> Result<Applied, SetupError> {
        self.modify("replaced", |old| {
            new.keep_hidden(old);
            *old = new;
            Ok(())
        })
        .await
    }

    /// Reads the user's own setup of the agents in `from` (all when empty) into the
    /// shared one: what the setup already has stays unless `replace`.
    pub async fn import(&self, from: Vec<String>, replace: bool) -> Result<Imported, SetupError> {
        let from: Vec<&str> = if from.is_empty() {
            import::SOURCES.to_vec()
        } else {
            let mut v = Vec::new();
            for s in &from {
                let known = import::SOURCES.iter().find(|k| *k == s).ok_or_else(|| {
                    SetupError::Invalid(format!(
                        "cannot import from '{s}': use {}",
                        import::SOURCES.join(", ")
                    ))
                })?;
                v.push(*known);
            }
            v
        };
        let (home, env) = (self.home.clone(), self.env.clone());
        let found = tokio::task::spawn_blocking(move || import::read(&home, &env, &from))
            .await
            .map_err(|e| SetupError::Internal(e.to_string()))?;
        let _one = self.lock.lock().await;
        let mut setup = self.get().await?;
        let (imported, kept) = adopt::merge_found(&mut setup, &found.setup, replace);
        self.save(&setup).await?;
        let dir = self.dir.clone();
        let sources = found.folders.clone();
        let copied = tokio::task::spawn_blocking(move || {
            sources
                .iter()
                .map(|(name, src)| folders::copy(src, &dir.join(name), replace))
                .sum::<std::io::Result<usize>>()
        })
        .await
        .map_err(|e| SetupError::Internal(e.to_string()))?
        .map_err(|e| SetupError::Internal(format!("cannot copy the folders: {e}")))?;
        let applied = self
            .project_and_announce(&setup, json!({"what": "imported"}))
            .await?;
        Ok(Imported {
            read: found.read,
            imported,
            kept,
            folders_copied: copied,
            applied,
        })
    }

    /// Projects the setup into `profiles` (every profile when `None`).
    pub async fn apply(
        &self,
        profiles: Option<Vec<String>>,
        overwrite: bool,
    ) -> Result<Vec<ProfileReport>, SetupError> {
        let _one = self.lock.lock().await;
        let setup = self.get().await?;
        self.project_all(&setup, profiles, overwrite).await
    }

    /// Projects the setup into one profile before a launch; a failure is logged, never
    /// fatal to the launch.
    pub async fn before_launch(&self, alias: &str) {
        if let Err(e) = self.apply(Some(vec![alias.to_string()]), false).await {
            tracing::warn!("the shared setup could not be projected into '{alias}': {e}");
        }
    }
}
