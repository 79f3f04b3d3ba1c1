//! A profile's own login and what the provider says of its limits: starting the agent's
//! login with the profile's home (in the user's terminal, `clown profiles login`, or in a
//! terminal session), the login state its files tell, the profile shown with both, and
//! the rate-limit snapshots its proxy recorded.

use std::path::Path;

use serde_json::{Value, json};

use super::launch::Launch;
use super::{AuthMethod, ProfileError, Profiles, auth_method, detail};
use crate::agents::login::{self, LoginSpec, LoginStatus};
use crate::store::limits as limits_db;
use crate::store::profiles::ProfileRow;
use crate::usage::limits::view;

/// The agent's login for `row`, if the profile authenticates with it.
pub fn login_spec(row: &ProfileRow) -> Result<&'static LoginSpec, ProfileError> {
    let spec = login::spec(&row.agent_id).ok_or_else(|| {
        ProfileError::Invalid(format!(
            "Agent '{}' has no login of its own; its profiles use an API key",
            row.agent_id
        ))
    })?;
    if auth_method(row) != AuthMethod::Login {
        return Err(ProfileError::Conflict(format!(
            "Profile '{}' authenticates with {}, not the agent's own login; create a profile with auth 'login' (clown profiles create ALIAS --agent {} --provider {} --auth login)",
            row.alias,
            if auth_method(row) == AuthMethod::Token {
                "a subscription token"
            } else {
                "an API key"
            },
            row.agent_id,
            row.provider_id
        )));
    }
    Ok(spec)
}

impl Profiles {
    /// The agent's login for `alias`, prepared like a launch in `cwd`: the spec (home and
    /// variables, no credential), the binary, the sandbox, and the login's arguments.
    pub async fn login_launch(
        &self,
        alias: &str,
        cwd: Option<&Path>,
    ) -> Result<(Launch, &'static LoginSpec), ProfileError> {
        let spec = login_spec(&self.row(alias).await?)?;
        Ok((self.launch(alias, cwd).await?, spec))
    }

    /// What the agent's files in the profile home say about its login (`None` for an
    /// agent without one).
    pub async fn login_status(&self, row: &ProfileRow) -> Option<LoginStatus> {
        let agent = row.agent_id.clone();
        let home = std::path::PathBuf::from(&row.profile_home);
        tokio::task::spawn_blocking(move || login::status(&agent, &home))
            .await
            .ok()
            .flatten()
    }

    /// The profile's detail, with its login state and the latest limits its provider sent.
    pub async fn show(&self, alias: &str) -> Result<Value, ProfileError> {
        let (row, secret) = self.load(alias).await?;
        let credential = secret.as_ref().and_then(|s| s.api_key.as_deref());
        let mut out = detail(&row, &self.r.catalogue.get(), &self.r.home, credential);
        out["login"] = match auth_method(&row) {
            AuthMethod::Login => json!(self.login_status(&row).await),
            AuthMethod::Token => json!({
                "logged_in": credential.is_some(),
                "method": "token",
                "until": null,
                "note": "a long-lived token from `claude setup-token`: valid for a year from when it was made",
            }),
            AuthMethod::Key => Value::Null,
        };
        out["limits"] = self.limits(alias, 0).await?["latest"].take();
        Ok(out)
    }

    /// The latest rate-limit snapshot of `alias` and the `history` states before it.
    pub async fn limits(&self, alias: &str, history: usize) -> Result<Value, ProfileError> {
        let a = alias.to_string();
        let rows = self
            .r
            .store
            .read(move |c| limits_db::history(c, &a, history + 1))
            .await?;
        let mut views = rows.iter().map(view);
        Ok(json!({
            "latest": views.next(),
            "history": views.collect::<Vec<_>>(),
        }))
    }
}
