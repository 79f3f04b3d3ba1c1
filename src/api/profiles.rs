//! `/api/profiles`: list, show, create, delete, and the launch of a profile's agent.

use axum::extract::{Path, State};
use serde::Deserialize;
use serde_json::json;

use super::error::{ApiError, ApiResult, ok};
use super::extract::{ApiJson, ApiQuery};
use crate::agents::launch::{self, LaunchInput, LaunchSpec};
use crate::app::AppState;
use crate::profiles::{self, CreateProfile, ProfileError};
use crate::store::profiles as db;
use crate::store::profiles::Secret;

impl From<ProfileError> for ApiError {
    fn from(e: ProfileError) -> Self {
        match e {
            ProfileError::Invalid(m) => ApiError::bad_request(m),
            ProfileError::NotFound(_) => ApiError::not_found(e.to_string()),
            ProfileError::Exists(_) => ApiError::conflict(e.to_string()),
        }
    }
}

impl From<launch::LaunchError> for ApiError {
    fn from(e: launch::LaunchError) -> Self {
        ApiError::internal(e)
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ListQuery {
    agent: Option<String>,
}

pub async fn list(State(state): State<AppState>, ApiQuery(q): ApiQuery<ListQuery>) -> ApiResult {
    let rows = state
        .store()
        .call(move |c| db::list(c, q.agent.as_deref()))
        .await?;
    Ok(ok(rows.iter().map(profiles::summary).collect::<Vec<_>>()))
}

/// The profile row and its secret, or 404.
pub async fn load(
    state: &AppState,
    alias: &str,
) -> Result<(db::ProfileRow, Option<Secret>), ApiError> {
    let a = alias.to_string();
    let found = state
        .store()
        .call(move |c| Ok(db::get(c, &a)?.map(|row| (row, db::secret(c, &a)))))
        .await?;
    match found {
        Some((row, secret)) => Ok((row, secret?)),
        None => Err(ProfileError::NotFound(alias.to_string()).into()),
    }
}

pub async fn get(State(state): State<AppState>, Path(alias): Path<String>) -> ApiResult {
    let (row, secret) = load(&state, &alias).await?;
    let key = secret.as_ref().and_then(|s| s.api_key.as_deref());
    Ok(ok(profiles::detail(
        &row,
        &state.catalogue(),
        &state.paths().home,
        key,
    )))
}

pub async fn create(
    State(state): State<AppState>,
    ApiJson(req): ApiJson<CreateProfile>,
) -> ApiResult {
    let catalogue = state.catalogue();
    let v = profiles::validate(&catalogue, req, &state.paths().home)?;
    let alias = v.row.alias.clone();
    let exists = {
        let a = alias.clone();
        state
            .store()
            .call(move |c| Ok(db::get(c, &a)?.is_some()))
            .await?
    };
    if exists {
        return Err(ProfileError::Exists(alias).into());
    }
    // The home and the agent's files first: a profile row never points at a missing home.
    let (agent, provider) = profiles::resolve(&v.row, &catalogue)?;
    let base_url = profiles::endpoint_url(&v.row, Some(provider)).unwrap_or_default();
    let proxy_token = crate::auth::Token::generate()
        .map_err(ApiError::internal)?
        .expose()
        .to_string();
    // A proxied profile's files never see the real key, not even its last characters.
    let proxied = profiles::proxy_settings(&v.row).enabled;
    launch::prepare(&LaunchInput {
        agent,
        provider,
        base_url: &base_url,
        model: &v.row.model,
        key: if proxied {
            Some(proxy_token.as_str())
        } else {
            v.api_key.as_deref()
        },
        bearer: !proxied && provider.auth_scheme == "bearer",
        home: &v.home,
        cwd: None,
    })?;
    let secret = Secret {
        api_key: v.api_key,
        proxy_token,
    };
    let row = v.row.clone();
    let added = state
        .store()
        .call(move |c| db::insert(c, &row, &secret))
        .await?;
    if !added {
        return Err(ProfileError::Exists(alias).into());
    }
    state.adjust_profiles_count(1);
    tracing::info!(
        "profile '{alias}' created ({} on {})",
        v.row.agent_id,
        v.row.provider_id
    );
    state.events().publish(
        "profile_created",
        json!({"alias": alias, "agent_id": v.row.agent_id, "provider_id": v.row.provider_id, "model": v.row.model}),
    );
    if proxied {
        super::proxy::start_in_background(&state, &alias);
    }
    Ok(ok(json!({
        "alias": alias,
        "message": "Profile created successfully",
        "profile_home": profiles::tilde(&v.row.profile_home, &state.paths().home),
    })))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DeleteQuery {
    #[serde(default)]
    force: bool,
    #[serde(default)]
    purge: bool,
}

pub async fn delete(
    State(state): State<AppState>,
    Path(alias): Path<String>,
    ApiQuery(q): ApiQuery<DeleteQuery>,
) -> ApiResult {
    let (row, _) = load(&state, &alias).await?;
    if state.profile_in_use(&alias) {
        if !q.force {
            return Err(ApiError::conflict(format!(
                "Profile '{alias}' has a running terminal session or proxy; stop it first or use ?force=true"
            )));
        }
        state.stop_profile_work(&alias).await;
    }
    let a = alias.clone();
    let deleted = state.store().call(move |c| db::delete(c, &a)).await?;
    if !deleted {
        return Err(ProfileError::NotFound(alias).into());
    }
    state.adjust_profiles_count(-1);
    let mut purged = false;
    if q.purge {
        // Only ever the home this profile's agent and alias name, never a stored path as is.
        let home = launch::profile_home(&state.paths().home, &row.agent_id, &row.alias);
        if home.display().to_string() == row.profile_home && home.exists() {
            std::fs::remove_dir_all(&home).map_err(ApiError::internal)?;
            purged = true;
        }
    }
    tracing::info!(
        "profile '{alias}' deleted{}",
        if purged { " (home removed)" } else { "" }
    );
    state
        .events()
        .publish("profile_deleted", json!({"alias": alias, "purged": purged}));
    Ok(ok(json!({"message": "Profile deleted", "purged": purged})))
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LaunchRequest {
    /// The directory the agent will run in (trusted in Claude Code's config).
    #[serde(default)]
    cwd: Option<String>,
}

/// Prepares `alias` for a launch and returns the spec, with the credential the agent
/// needs. This is the only response that carries it; it exists because `clown profiles
/// run` starts the agent in the caller's own terminal.
pub async fn launch_spec(
    state: &AppState,
    alias: &str,
    cwd: Option<&std::path::Path>,
) -> Result<LaunchSpec, ApiError> {
    let (row, secret) = load(state, alias).await?;
    let catalogue = state.catalogue();
    let (agent, provider) = profiles::resolve(&row, &catalogue)?;
    let base_url = profiles::endpoint_url(&row, Some(provider)).ok_or_else(|| {
        ApiError::bad_request(format!(
            "Provider '{}' has no endpoint '{}'",
            provider.id, row.endpoint_id
        ))
    })?;
    let home = launch::profile_home(&state.paths().home, &row.agent_id, &row.alias);
    // Through the proxy (when enabled or running): its URL and the local token only.
    let proxy_url = super::proxy::launch_url(state, alias, &profiles::proxy_settings(&row)).await?;
    let (base_url, key, bearer) = match (&proxy_url, &secret) {
        (Some(url), Some(s)) => (
            super::proxy::agent_base_url(url, provider),
            Some(s.proxy_token.as_str()),
            false,
        ),
        (Some(_), None) => return Err(ApiError::internal("proxied profile without secrets")),
        (None, s) => (
            base_url,
            s.as_ref().and_then(|s| s.api_key.as_deref()),
            provider.auth_scheme == "bearer",
        ),
    };
    let spec = launch::prepare(&LaunchInput {
        agent,
        provider,
        base_url: &base_url,
        model: &row.model,
        key,
        bearer,
        home: &home,
        cwd,
    })?;
    let a = alias.to_string();
    let now = crate::time::now_rfc3339();
    state.store().call(move |c| db::touch(c, &a, &now)).await?;
    Ok(spec)
}

pub async fn launch(
    State(state): State<AppState>,
    Path(alias): Path<String>,
    body: axum::body::Bytes,
) -> ApiResult {
    let req: LaunchRequest = if body.iter().all(u8::is_ascii_whitespace) {
        LaunchRequest::default()
    } else {
        serde_json::from_slice(&body)
            .map_err(|e| ApiError::bad_request(format!("Malformed JSON: {e}")))?
    };
    let cwd = match req.cwd {
        Some(dir) => {
            let p = std::path::PathBuf::from(&dir);
            if !p.is_absolute() || !p.is_dir() {
                return Err(ApiError::bad_request(format!(
                    "cwd '{dir}' is not an existing absolute directory"
                )));
            }
            Some(p)
        }
        None => None,
    };
    let spec = launch_spec(&state, &alias, cwd.as_deref()).await?;
    let catalogue = state.catalogue();
    let binary_path = match catalogue.agents.iter().find(|a| a.binary == spec.program) {
        Some(agent) => {
            state
                .detector()
                .detect(agent, &state.agent_search_dirs())
                .await
                .binary_path
        }
        None => None,
    };
    Ok(ok(json!({
        "program": spec.program,
        "binary_path": binary_path,
        "env": spec.env,
        "unset": spec.unset,
        "home": spec.home,
    })))
}
