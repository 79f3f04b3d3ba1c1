//! Creating a profile: validate against the catalogue, prepare the home and the agent's
//! files (a profile row never points at a missing home), store the row and its secrets,
//! announce it, and start its proxy when enabled.

use std::collections::HashSet;

use serde_json::json;

use super::{
    ProfileError, Profiles, auth_method, proxy_settings, resolve, tilde, validate, validate_with,
};
use crate::agents::prepare::{self, LaunchInput};
use crate::store::profiles::{self as db, Secret};

/// What the API answers after a create.
pub struct Created {
    pub alias: String,
    /// `~/…` form of the home.
    pub profile_home: String,
}

/// What a dry run of a create found: everything but the key checked, nothing written.
pub struct Checked {
    pub alias: String,
    pub profile_home: String,
    /// Whether the provider needs a key (so the client asks for one).
    pub requires_key: bool,
}

/// An alias claimed for the length of its create: a create that loses the race to
/// another of the same alias stops before touching the home or the store.
struct Claim<'a> {
    set: &'a std::sync::Mutex<HashSet<String>>,
    alias: String,
}

impl<'a> Claim<'a> {
    fn take(set: &'a std::sync::Mutex<HashSet<String>>, alias: &str) -> Option<Self> {
        let fresh = set
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(alias.to_string());
        fresh.then(|| Self {
            set,
            alias: alias.to_string(),
        })
    }
}

impl Drop for Claim<'_> {
    fn drop(&mut self) {
        self.set
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(&self.alias);
    }
}

impl Profiles {
    /// Checks a create request as [`Profiles::create`] would — catalogue, endpoint,
    /// model, URLs, proxy, and that the alias is free — except for the key's presence,
    /// and changes nothing.
    pub async fn check_create(&self, req: super::CreateProfile) -> Result<Checked, ProfileError> {
        let catalogue = self.r.catalogue.get();
        let v = validate_with(&catalogue, req, &self.r.home, false)?;
        let alias = v.row.alias.clone();
        let a = alias.clone();
        if self
            .r
            .store
            .read(move |c| Ok(db::get(c, &a)?.is_some()))
            .await?
        {
            return Err(ProfileError::Exists(alias));
        }
        // A token profile always takes its token; a login profile none.
        let requires_key = match auth_method(&v.row) {
            super::AuthMethod::Key => catalogue
                .provider(&v.row.provider_id)
                .is_some_and(|p| p.requires_key),
            super::AuthMethod::Token => true,
            super::AuthMethod::Login => false,
        };
        Ok(Checked {
            profile_home: tilde(&v.row.profile_home, &self.r.home),
            alias,
            requires_key,
        })
    }

    pub async fn create(&self, req: super::CreateProfile) -> Result<Created, ProfileError> {
        let catalogue = self.r.catalogue.get();
        let v = validate(&catalogue, req, &self.r.home)?;
        let alias = v.row.alias.clone();
        let Some(_claim) = Claim::take(&self.creating, &alias) else {
            return Err(ProfileError::Exists(alias));
        };
        let exists = {
            let a = alias.clone();
            self.r
                .store
                .call(move |c| Ok(db::get(c, &a)?.is_some()))
                .await?
        };
        if exists {
            return Err(ProfileError::Exists(alias));
        }
        let (agent, provider) = resolve(&v.row, &catalogue)?;
        let base_url = super::endpoint_url(&v.row, Some(provider)).unwrap_or_default();
        let proxy_token = crate::auth::Token::generate()
            .map_err(|e| ProfileError::Internal(e.to_string()))?
            .expose()
            .to_string();
        // A proxied profile's files never see the real key, not even its last characters.
        let proxied = proxy_settings(&v.row).enabled;
        prepare::prepare(&LaunchInput {
            agent,
            provider,
            base_url: &base_url,
            model: &v.row.model,
            credential: super::launch::credential(
                auth_method(&v.row),
                proxied.then_some(proxy_token.as_str()),
                v.api_key.as_deref(),
                provider,
            ),
            home: &v.home,
            cwd: None,
        })?;
        let secret = Secret {
            api_key: v.api_key,
            proxy_token,
        };
        let row = v.row.clone();
        let added = self
            .r
            .store
            .call(move |c| db::insert(c, &row, &secret))
            .await?;
        if !added {
            return Err(ProfileError::Exists(alias));
        }
        self.count
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        self.r.setup.before_launch(&alias).await;
        tracing::info!(
            "profile '{alias}' created ({} on {})",
            v.row.agent_id,
            v.row.provider_id
        );
        self.r.events.publish(
            "profile_created",
            json!({"alias": alias, "agent_id": v.row.agent_id, "provider_id": v.row.provider_id, "model": v.row.model, "auth": v.row.auth}),
        );
        if proxied {
            self.start_proxy_in_background(&alias);
        }
        Ok(Created {
            profile_home: tilde(&v.row.profile_home, &self.r.home),
            alias,
        })
    }
}
