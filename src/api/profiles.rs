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
    Ok(ok(state.profiles().show(&alias).await?))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LimitsQuery {
    #[serde(default)]
    history: Option<usize>,
}

/// The latest rate-limit snapshot the profile's proxy recorded, and earlier states.
pub async fn limits(
    State(state): State<AppState>,
    Path(alias): Path<String>,
    ApiQuery(q): ApiQuery<LimitsQuery>,
) -> ApiResult {
    state.profiles().row(&alias).await?;
    let history = q.history.unwrap_or(0);
    if history > 1000 {
        return Err(ApiError::bad_request("history must be at most 1000"));
    }
    Ok(ok(state.profiles().limits(&alias, history).await?))
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
    state.inspector().forget(&alias);
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

/// The launch body: `{"cwd"}`, or nothing.
fn launch_request(body: &[u8]) -> Result<Option<std::path::PathBuf>, ApiError> {
    let req: LaunchRequest = if body.iter().all(u8::is_ascii_whitespace) {
        LaunchRequest::default()
    } else {
        serde_json::from_slice(body)
            .map_err(|e| ApiError::bad_request(format!("Malformed JSON: {e}")))?
    };
    match req.cwd {
        Some(dir) => {
            let p = std::path::PathBuf::from(&dir);
            if !p.is_absolute() || !p.is_dir() {
                return Err(ApiError::bad_request(format!(
                    "cwd '{dir}' is not an existing absolute directory"
                )));
            }
            Ok(Some(p))
        }
        None => Ok(None),
    }
}

fn launch_json(launch: profiles::Launch) -> serde_json::Value {
    let spec = launch.spec;
    json!({
        "program": spec.program,
        "binary_path": launch.binary_path,
        "env": spec.env,
        "unset": spec.unset,
        "home": spec.home,
        "secret_fds": spec.secret_fds,
        "sandbox": launch.sandbox.map(|w| json!({"program": w.program, "args": w.args})),
    })
}

/// The launch spec with the credential the agent needs. This is the only response that
/// carries it; it exists because `clown profiles run` starts the agent in the caller's
/// own terminal. A subscription token is in `secret_fds` (to hand over on a
/// descriptor), never in `env`.
pub async fn launch(
    State(state): State<AppState>,
    Path(alias): Path<String>,
    body: axum::body::Bytes,
) -> ApiResult {
    let cwd = launch_request(&body)?;
    let launch = state.profiles().launch(&alias, cwd.as_deref()).await?;
    Ok(ok(launch_json(launch)))
}

/// The agent's own login for a profile with auth 'login': the launch spec (no
/// credential: there is none) and the login's arguments, for `clown profiles login`.
pub async fn login(
    State(state): State<AppState>,
    Path(alias): Path<String>,
    body: axum::body::Bytes,
) -> ApiResult {
    let cwd = launch_request(&body)?;
    let (launch, spec) = state
        .profiles()
        .login_launch(&alias, cwd.as_deref())
        .await?;
    let mut out = launch_json(launch);
    out["args"] = json!(spec.args);
    out["how"] = json!(spec.how);
    Ok(ok(out))
}
