//! Profiles (DESIGN §9): the rules for one, the views the API shows, and the use cases
//! that act on them — create, delete, launch (its environment, base URL, proxy, sandbox),
//! its proxy's settings and state, its sandbox, and its agent in a terminal session.
//! Handlers call these; they never call each other.
//!
//! [`Profiles`] is the handle the use cases run on: the store, the catalogue and
//! configuration of the moment, the event bus, the proxies' supervisor, the terminal
//! sessions, agent detection, the user's home and clown's own directories. A profile
//! binds an agent to a provider, an endpoint (or an explicit `base_url`), a model and a
//! key. The alias is validated by [`valid_alias`] and only ever becomes a path through
//! [`crate::agents::prepare::profile_home`].

pub mod bindings;
mod conversations;
mod create;
mod delete;
pub mod doctor;
mod interrupted;
pub mod keys;
mod launch;
mod login;
pub mod plan;
mod proxy;
mod rules;
mod sandbox;
mod session;
mod settings;
mod view;
mod worktree;

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use crate::agents::detect::Detector;
use crate::agents::prepare::LaunchError;
use crate::agents::search::{AgentPaths, SearchDir};
use crate::config::Config;
use crate::events::EventBus;
use crate::paths::Env;
use crate::pty::{PtyError, Terminals};
use crate::registry::Catalogue;
use crate::shared::Shared;
use crate::store::profiles::{self as db, ProfileRow, Secret};
use crate::store::{Store, StoreError};
use crate::supervisor::{Supervisor, SupervisorError};

pub use conversations::{ConversationView, ResumeConversation};
pub use create::{Checked, Created};
pub use interrupted::Interrupted;
pub use launch::{Launch, STATUSLINE_ENV, agent_base_url};
pub use login::login_spec;
pub use rules::{
    CreateProfile, RESERVED_ALIASES, Validated, check_auth, clean_secret, endpoint_url,
    needs_proxy, provider_protocols, reachable, resolve, translates, valid_alias, validate,
    validate_proxy, validate_with,
};
pub use session::SessionRequest;
pub use settings::{
    AuthMethod, FallbackTarget, ProxySettings, SandboxSettings, auth_method, proxy_settings,
    sandbox_settings,
};
pub use view::{Summary, detail, key_hint, summary, tilde};
pub use worktree::{WorktreeAction, WorktreeView};

#[derive(Debug, thiserror::Error)]
pub enum ProfileError {
    #[error("{0}")]
    Invalid(String),
    #[error("Profile '{0}' not found")]
    NotFound(String),
    /// Something other than a profile is not there (the message says what).
    #[error("{0}")]
    Missing(String),
    #[error("Profile '{0}' already exists")]
    Exists(String),
    /// The request cannot be done in the present state (something runs, a proxy is down).
    #[error("{0}")]
    Conflict(String),
    #[error("The daemon is shutting down")]
    ShuttingDown,
    #[error(transparent)]
    Store(#[from] StoreError),
    /// A failure that is ours, not the request's; logged in full, answered briefly.
    #[error("{0}")]
    Internal(String),
}

impl From<SupervisorError> for ProfileError {
    fn from(e: SupervisorError) -> Self {
        match e {
            SupervisorError::AlreadyActive { .. } => Self::Conflict(e.to_string()),
            SupervisorError::ShuttingDown => Self::ShuttingDown,
        }
    }
}

impl From<PtyError> for ProfileError {
    fn from(e: PtyError) -> Self {
        match e {
            PtyError::Limit { .. } => Self::Conflict(e.to_string()),
            PtyError::ShuttingDown => Self::ShuttingDown,
            other => Self::Internal(other.to_string()),
        }
    }
}

impl From<LaunchError> for ProfileError {
    fn from(e: LaunchError) -> Self {
        match e {
            LaunchError::Unreadable { .. } => Self::Conflict(e.to_string()),
            LaunchError::Io { .. } => Self::Internal(e.to_string()),
        }
    }
}

/// What the profile use cases work with.
pub struct Resources {
    /// Makes the status-line token a launch hands the agent.
    pub status_keys: crate::auth::StatusKeys,
    /// The shared setup, projected into a home at its create and every launch.
    pub setup: Arc<crate::setup::SharedSetup>,
    pub store: Store,
    pub catalogue: Shared<Catalogue>,
    pub config: Shared<Config>,
    pub events: EventBus,
    pub proxies: Arc<Supervisor>,
    pub terminals: Terminals,
    pub detector: Arc<Detector>,
    /// Where agent programs are looked for (login shell, PATH, prefixes, clients).
    pub agent_paths: Arc<AgentPaths>,
    /// The configuration file (named in messages about `agents.extra_paths`).
    pub config_file: PathBuf,
    /// The daemon's environment (PATH for detection, the base of session environments).
    pub env: Env,
    /// The user's home: profile homes live under it.
    pub home: PathBuf,
    /// The daemon's own URL, for the agents' hooks.
    pub daemon_url: Option<String>,
    /// clown's own directories (data, state, configuration, cache): hidden from a
    /// sandboxed agent.
    pub clown_dirs: Vec<PathBuf>,
    /// Where clown installs agents (`clown agents install`); searched first.
    pub agents_bin: PathBuf,
}

pub struct Profiles {
    r: Resources,
    count: AtomicUsize,
    /// Aliases being created right now: a second create of one races nothing on disk.
    creating: std::sync::Mutex<std::collections::HashSet<String>>,
}

impl Profiles {
    pub fn new(r: Resources) -> Result<Self, StoreError> {
        let count = r.store.count_profiles()?;
        Ok(Self {
            r,
            count: AtomicUsize::new(count),
            creating: Default::default(),
        })
    }

    /// How many profiles exist.
    pub fn count(&self) -> usize {
        self.count.load(Ordering::Relaxed)
    }

    /// The profile row and its secret, or [`ProfileError::NotFound`].
    pub async fn load(&self, alias: &str) -> Result<(ProfileRow, Option<Secret>), ProfileError> {
        let a = alias.to_string();
        let found = self
            .r
            .store
            .read(move |c| Ok(db::get(c, &a)?.map(|row| (row, db::secret(c, &a)))))
            .await?;
        match found {
            Some((row, secret)) => Ok((row, secret?)),
            None => Err(ProfileError::NotFound(alias.to_string())),
        }
    }

    /// The profile row, or [`ProfileError::NotFound`].
    pub async fn row(&self, alias: &str) -> Result<ProfileRow, ProfileError> {
        let a = alias.to_string();
        self.r
            .store
            .read(move |c| db::get(c, &a))
            .await?
            .ok_or_else(|| ProfileError::NotFound(alias.to_string()))
    }

    /// Every profile, optionally of one agent.
    pub async fn list(&self, agent: Option<String>) -> Result<Vec<ProfileRow>, ProfileError> {
        Ok(self
            .r
            .store
            .read(move |c| db::list(c, agent.as_deref()))
            .await?)
    }

    /// Where agent binaries are looked for, in order, with why (`agents::search`): the
    /// agents clown installed first.
    pub async fn agent_search(&self) -> Vec<SearchDir> {
        let config = self.r.config.get();
        let mut dirs = vec![SearchDir {
            dir: self.r.agents_bin.clone(),
            source: crate::agents::search::Source::Installed,
        }];
        for d in self
            .r
            .agent_paths
            .dirs(&config.agents.extra_paths, config.agents.login_shell)
            .await
        {
            if !dirs.iter().any(|x| x.dir == d.dir) {
                dirs.push(d);
            }
        }
        dirs
    }

    /// The directories of [`Profiles::agent_search`].
    pub async fn agent_search_dirs(&self) -> Vec<PathBuf> {
        self.agent_search()
            .await
            .into_iter()
            .map(|d| d.dir)
            .collect()
    }

    /// Reads the login shell's PATH now, so the first detection does not wait for it.
    pub async fn prefetch_agent_paths(&self) {
        if self.r.config.get().agents.login_shell {
            self.r.agent_paths.login_path().await;
        }
    }

    /// Whether a terminal session or proxy runs for `alias` (deleting it then needs force).
    pub fn in_use(&self, alias: &str) -> bool {
        self.r.terminals.profile_in_use(alias) || self.r.proxies.is_active(alias)
    }
}
