//! `/api/profiles`: list, show, create, delete, the sandbox setting, and the launch of a
//! profile's agent.

use axum::extract::{Path, State};
use serde::Deserialize;
use serde_json::json;

use super::error::{ApiError, ApiResult, ok};
use super::extract::{ApiJson, ApiQuery};
use crate::app::AppState;
use crate::profiles::{self, CreateProfile, SandboxSettings};

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ListQuery {
    agent: Option<String>,
}

pub async fn list(State(state): State<AppState>, ApiQuery(q): ApiQuery<ListQuery>) -> ApiResult {
    let rows = state.profiles().list(q.agent).await?;
    Ok(ok(rows.iter().map(profiles::summary).collect::<Vec<_>>()))
}

pub async fn get(State(state): State<AppState>, Path(alias): Path<String>) -> ApiResult {
    let (row, secret) = state.profiles().load(&alias).await?;
    let key = secret.as_ref().and_then(|s| s.api_key.as_deref());
    Ok(ok(profiles::detail(
        &row,
        &state.catalogue(),
        &state.paths().home,
        key,
    )))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CreateQuery {
    #[serde(default)]
    dry_run: bool,
}

pub async fn create(
    State(state): State<AppState>,
    ApiQuery(q): ApiQuery<CreateQuery>,
    ApiJson(req): ApiJson<CreateProfile>,
) -> ApiResult {
    if q.dry_run {
        let checked = state.profiles().check_create(req).await?;
        return Ok(ok(json!({
            "alias": checked.alias,
            "message": "Profile can be created",
            "profile_home": checked.profile_home,
            "requires_key": checked.requires_key,
            "dry_run": true,
        })));
    }
    let created = state.profiles().create(req).await?;
    Ok(ok(json!({
        "alias": created.alias,
        "message": "Profile created successfully",
        "profile_home": created.profile_home,
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
    let (purged, home) = state.profiles().delete(&alias, q.force, q.purge).await?;
    // The reference's message; beside it, whether the home went and where it is.
    Ok(ok(
        json!({"message": "Profile deleted", "purged": purged, "profile_home": home}),
    ))
}

pub async fn set_sandbox(
    State(state): State<AppState>,
    Path(alias): Path<String>,
    ApiJson(settings): ApiJson<SandboxSettings>,
) -> ApiResult {
    let settings = state.profiles().set_sandbox(&alias, settings).await?;
    Ok(ok(json!({
        "enabled": settings.enabled,
        "tool": state.profiles().sandbox_tool(),
    })))
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LaunchRequest {
    /// The directory the agent will run in (trusted in Claude Code's config).
    #[serde(default)]
    cwd: Option<String>,
}

/// The launch spec with the credential the agent needs. This is the only response that
/// carries it; it exists because `clown profiles run` starts the agent in the caller's
/// own terminal.
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
    let launch = state.profiles().launch(&alias, cwd.as_deref()).await?;
    let spec = launch.spec;
    Ok(ok(json!({
        "program": spec.program,
        "binary_path": launch.binary_path,
        "env": spec.env,
        "unset": spec.unset,
        "home": spec.home,
        "sandbox": launch.sandbox.map(|w| json!({"program": w.program, "args": w.args})),
    })))
}
