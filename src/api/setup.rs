//! `/api/setup`: the shared setup projected into every profile home — show it, replace
//! it, import the user's own, add and remove MCP servers, scope it per profile, project
//! it, see what changed in homes since (drift) and adopt that.

use axum::extract::{Path, State};
use serde::Deserialize;
use serde_json::json;

use super::error::{ApiError, ApiResult, ok};
use super::extract::{ApiJson, ApiQuery};
use crate::app::AppState;
use crate::setup::{McpServer, ProfileScope, Setup, SetupError};

pub async fn get(State(state): State<AppState>) -> ApiResult {
    Ok(ok(state.setup().view().await?))
}

pub async fn replace(State(state): State<AppState>, ApiJson(setup): ApiJson<Setup>) -> ApiResult {
    Ok(ok(state.setup().replace(setup).await?))
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ImportRequest {
    #[serde(default)]
    from: Vec<String>,
    #[serde(default)]
    replace: bool,
}

pub async fn import(
    State(state): State<AppState>,
    ApiJson(req): ApiJson<ImportRequest>,
) -> ApiResult {
    Ok(ok(state.setup().import(req.from, req.replace).await?))
}

pub async fn put_mcp(
    State(state): State<AppState>,
    Path(name): Path<String>,
    ApiJson(server): ApiJson<McpServer>,
) -> ApiResult {
    server.validate(&name).map_err(ApiError::bad_request)?;
    let applied = state
        .setup()
        .modify(&format!("mcp:{name}"), |s| {
            s.mcp_servers.insert(name.clone(), server);
            Ok(())
        })
        .await?;
    Ok(ok(applied))
}

pub async fn delete_mcp(State(state): State<AppState>, Path(name): Path<String>) -> ApiResult {
    let applied = state
        .setup()
        .modify(&format!("mcp:{name}"), |s| {
            s.mcp_servers
                .remove(&name)
                .map(|_| ())
                .ok_or_else(|| SetupError::NotFound(format!("MCP server '{name}' not found")))
        })
        .await?;
    Ok(ok(applied))
}

pub async fn put_scope(
    State(state): State<AppState>,
    Path(alias): Path<String>,
    ApiJson(scope): ApiJson<ProfileScope>,
) -> ApiResult {
    state.profiles().row(&alias).await?;
    let applied = state
        .setup()
        .modify(&format!("profiles.{alias}"), |s| {
            if scope == ProfileScope::default() {
                s.profiles.remove(&alias);
            } else {
                s.profiles.insert(alias.clone(), scope);
            }
            Ok(())
        })
        .await?;
    Ok(ok(applied))
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ApplyRequest {
    #[serde(default)]
    profiles: Option<Vec<String>>,
    /// Also overwrite what the agents changed since the last projection.
    #[serde(default)]
    overwrite: bool,
}

pub async fn apply(
    State(state): State<AppState>,
    ApiJson(req): ApiJson<ApplyRequest>,
) -> ApiResult {
    let profiles = state.setup().apply(req.profiles, req.overwrite).await?;
    Ok(ok(json!({"profiles": profiles})))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DriftQuery {
    #[serde(default)]
    profile: Option<String>,
}

pub async fn drift(State(state): State<AppState>, ApiQuery(q): ApiQuery<DriftQuery>) -> ApiResult {
    Ok(ok(state.setup().drift(q.profile.map(|p| vec![p])).await?))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AdoptRequest {
    profile: String,
    #[serde(default)]
    ids: Option<Vec<String>>,
}

pub async fn adopt(
    State(state): State<AppState>,
    ApiJson(req): ApiJson<AdoptRequest>,
) -> ApiResult {
    let (adopted, profiles) = state.setup().adopt(&req.profile, req.ids).await?;
    Ok(ok(json!({"adopted": adopted, "profiles": profiles})))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StatusLineRequest {
    enabled: bool,
}

/// A path as a POSIX shell word (Claude Code runs the status line with a shell).
fn quoted(path: &str) -> String {
    if path
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b"/._-+".contains(&b))
    {
        path.to_string()
    } else {
        format!("'{}'", path.replace('\'', r"'\''"))
    }
}

/// Whether a status line is clown's own (`<clown> statusline`).
fn is_clowns(line: &serde_json::Value) -> bool {
    line["command"]
        .as_str()
        .is_some_and(|c| c.ends_with(" statusline"))
}

/// Turns clown's status line (`<this clown> statusline`) on or off in the shared setup:
/// every profile of an agent with a status line (Claude Code) gets it at its next
/// projection, without editing a file. Off removes it only when it is clown's.
pub async fn status_line(
    State(state): State<AppState>,
    ApiJson(req): ApiJson<StatusLineRequest>,
) -> ApiResult {
    let exe = std::env::current_exe().map_err(ApiError::internal)?;
    let command = format!("{} statusline", quoted(&exe.display().to_string()));
    let applied = state
        .setup()
        .modify("status_line", |s| {
            if req.enabled {
                s.status_line = Some(json!({"type": "command", "command": command, "padding": 0}));
            } else if s.status_line.as_ref().is_some_and(is_clowns) {
                s.status_line = None;
            }
            Ok(())
        })
        .await?;
    Ok(ok(applied))
}
