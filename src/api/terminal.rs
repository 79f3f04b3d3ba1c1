//! `/api/terminal`: start, list, show and end terminal sessions (DESIGN §12).
//!
//! A session runs the profile's agent in a PTY with the profile's launch environment over
//! a small base taken from the daemon's own environment (PATH, locale, user, home, time
//! zone; `TERM=xterm-256color`). Every check that can fail runs before anything starts,
//! so a refused request leaves no session and no process behind.

use std::collections::BTreeMap;
use std::path::PathBuf;

use axum::extract::{Path as UrlPath, State};
use serde_json::{Map, Value};
use uuid::Uuid;

use super::error::{ApiError, ApiResult, ok, ok_empty};
use super::extract::ApiJson;
use crate::app::AppState;
use crate::pty::{MAX_DIMENSION, NewSession, Program, PtyError, Session};

/// Variables copied from the daemon's environment into every session.
const BASE_VARS: &[&str] = &["LANG", "SHELL", "USER", "LOGNAME", "HOME", "TMPDIR", "TZ"];

impl From<PtyError> for ApiError {
    fn from(e: PtyError) -> Self {
        match e {
            PtyError::Limit { .. } => ApiError::conflict(e.to_string()),
            PtyError::ShuttingDown => {
                ApiError::new(axum::http::StatusCode::SERVICE_UNAVAILABLE, e.to_string())
            }
            other => ApiError::internal(other),
        }
    }
}

/// The validated body of `POST /api/terminal/sessions`.
#[derive(Debug)]
struct CreateRequest {
    profile_alias: String,
    args: Vec<String>,
    cols: u16,
    rows: u16,
    working_dir: Option<PathBuf>,
}

fn parse(body: &Value) -> Result<CreateRequest, ApiError> {
    let obj = body
        .as_object()
        .ok_or_else(|| ApiError::bad_request("Expected a JSON object"))?;
    const FIELDS: &[&str] = &["profile_alias", "args", "cols", "rows", "working_dir"];
    if let Some(unknown) = obj.keys().find(|k| !FIELDS.contains(&k.as_str())) {
        return Err(ApiError::bad_request(format!(
            "Unknown field '{unknown}'; expected one of {}",
            FIELDS.join(", ")
        )));
    }
    let profile_alias = match obj.get("profile_alias") {
        Some(Value::String(s)) if !s.is_empty() => s.clone(),
        Some(_) => return Err(ApiError::bad_request("profile_alias must be a string")),
        None => return Err(ApiError::bad_request("profile_alias is required")),
    };
    let args = match obj.get("args") {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::Array(items)) => items
            .iter()
            .map(|v| v.as_str().map(String::from))
            .collect::<Option<Vec<_>>>()
            .ok_or_else(|| ApiError::bad_request("args must be a list of strings"))?,
        Some(_) => return Err(ApiError::bad_request("args must be a list of strings")),
    };
    let working_dir = match obj.get("working_dir") {
        None | Some(Value::Null) => None,
        Some(Value::String(dir)) => {
            let p = PathBuf::from(dir);
            if !p.is_absolute() || !p.is_dir() {
                return Err(ApiError::bad_request(format!(
                    "working_dir '{dir}' is not an existing directory (an absolute path is needed)"
                )));
            }
            Some(p)
        }
        Some(_) => return Err(ApiError::bad_request("working_dir must be a string")),
    };
    Ok(CreateRequest {
        profile_alias,
        args,
        cols: dimension(obj, "cols", 80)?,
        rows: dimension(obj, "rows", 24)?,
        working_dir,
    })
}

fn dimension(obj: &Map<String, Value>, name: &str, default: u16) -> Result<u16, ApiError> {
    match obj.get(name) {
        None | Some(Value::Null) => Ok(default),
        Some(v) => v
            .as_u64()
            .filter(|n| (1..=u64::from(MAX_DIMENSION)).contains(n))
            .and_then(|n| u16::try_from(n).ok())
            .ok_or_else(|| {
                ApiError::bad_request(format!(
                    "{name} must be a whole number from 1 to {MAX_DIMENSION} (got {v})"
                ))
            }),
    }
}

pub async fn create(State(state): State<AppState>, ApiJson(body): ApiJson<Value>) -> ApiResult {
    let req = parse(&body)?;
    let (row, _) = super::profiles::load(&state, &req.profile_alias).await?;
    let binary = state
        .catalogue()
        .agent(&row.agent_id)
        .map(|a| a.binary.clone())
        .ok_or_else(|| {
            ApiError::bad_request(format!(
                "Profile '{}' uses agent '{}', which the catalogue no longer has",
                row.alias, row.agent_id
            ))
        })?;
    let dirs = state.agent_search_dirs();
    let path = crate::agents::detect::find_binary(&binary, &dirs).ok_or_else(|| {
        ApiError::bad_request(format!(
            "Agent '{}' is not installed: no executable '{binary}' on PATH or in agents.extra_paths",
            row.agent_id
        ))
    })?;
    let config = state.config();
    // Checked again, atomically, when the session starts; this spares the launch files.
    if state.terminals().running() >= config.terminal.max_sessions {
        return Err(PtyError::Limit {
            limit: config.terminal.max_sessions,
        }
        .into());
    }
    let spec = super::profiles::launch_spec(&state, &req.profile_alias, req.working_dir.as_deref())
        .await?;
    let cwd = req.working_dir.unwrap_or_else(|| spec.home.clone());
    let mut env = base_env(state.env(), &dirs);
    env.extend(spec.env);
    let session = state
        .terminals()
        .create(NewSession {
            profile: req.profile_alias,
            program: Program {
                path,
                args: req.args,
                env,
                cwd,
                cols: req.cols,
                rows: req.rows,
            },
            scrollback_bytes: config.terminal.scrollback_bytes,
            max_sessions: config.terminal.max_sessions,
        })
        .await?;
    Ok(ok(serde_json::json!({
        "session_id": session.id.to_string(),
        "ws_url": format!("/ws/terminal/{}", session.id),
    })))
}

/// The daemon's basics every session gets; PATH also holds the agent directories.
fn base_env(daemon: &crate::paths::Env, dirs: &[PathBuf]) -> BTreeMap<String, String> {
    let mut env: BTreeMap<String, String> = daemon
        .iter()
        .filter(|(k, _)| BASE_VARS.contains(&k.as_str()) || k.starts_with("LC_"))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    let path = std::env::join_paths(dirs)
        .ok()
        .and_then(|p| p.into_string().ok())
        .or_else(|| daemon.get("PATH").cloned());
    if let Some(path) = path {
        env.insert("PATH".into(), path);
    }
    env.insert("TERM".into(), "xterm-256color".into());
    env
}

/// The session named by `id`, or 404.
pub fn find(state: &AppState, id: &str) -> Result<std::sync::Arc<Session>, ApiError> {
    Uuid::parse_str(id)
        .ok()
        .and_then(|uuid| state.terminals().get(uuid))
        .ok_or_else(|| ApiError::not_found(format!("Terminal session '{id}' not found")))
}

pub async fn list(State(state): State<AppState>) -> ApiResult {
    let infos: Vec<_> = state.terminals().list().iter().map(|s| s.info()).collect();
    Ok(ok(infos))
}

pub async fn get(State(state): State<AppState>, UrlPath(id): UrlPath<String>) -> ApiResult {
    Ok(ok(find(&state, &id)?.info()))
}

/// Ends the session's processes (SIGHUP, SIGTERM, SIGKILL) and answers once it has
/// terminated.
pub async fn delete(State(state): State<AppState>, UrlPath(id): UrlPath<String>) -> ApiResult {
    let session = find(&state, &id)?;
    if session.is_running() {
        tracing::info!("terminating terminal session {id}");
    }
    session.terminate().await;
    Ok(ok_empty())
}

pub async fn cleanup(State(state): State<AppState>) -> ApiResult {
    let removed = state.terminals().cleanup().await;
    if removed > 0 {
        tracing::info!("removed {removed} terminated terminal session(s)");
    }
    Ok(ok_empty())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn err(v: Value) -> String {
        parse(&v).unwrap_err().message
    }

    #[test]
    fn body_validation() {
        let ok = parse(&json!({"profile_alias": "p"})).unwrap();
        assert_eq!((ok.cols, ok.rows), (80, 24));
        assert!(ok.args.is_empty() && ok.working_dir.is_none());
        let full = parse(&json!({"profile_alias": "p", "args": ["-x"], "cols": 1000, "rows": 1, "working_dir": "/"})).unwrap();
        assert_eq!(
            (full.cols, full.rows, full.args),
            (1000, 1, vec!["-x".to_string()])
        );
        assert!(err(json!({})).contains("profile_alias"));
        assert!(err(json!({"profile_alias": 1})).contains("profile_alias"));
        for bad in [json!(0), json!(1001), json!(-1), json!(1.5), json!("80")] {
            assert!(err(json!({"profile_alias": "p", "cols": bad})).starts_with("cols"));
            assert!(err(json!({"profile_alias": "p", "rows": bad})).starts_with("rows"));
        }
        assert!(err(json!({"profile_alias": "p", "args": [1]})).contains("list of strings"));
        assert!(err(json!({"profile_alias": "p", "args": "x"})).contains("list of strings"));
        assert!(
            err(json!({"profile_alias": "p", "working_dir": "relative"})).contains("working_dir")
        );
        assert!(err(json!({"profile_alias": "p", "colour": 1})).contains("colour"));
        assert!(err(json!([1])).contains("object"));
    }

    #[test]
    fn base_environment_is_explicit() {
        let daemon: crate::paths::Env = [
            ("PATH", "/usr/bin"),
            ("HOME", "/h"),
            ("LC_ALL", "C.UTF-8"),
            ("NOTIFY_SOCKET", "/run/x"),
            ("LISTEN_FDS", "1"),
            ("TERM", "dumb"),
        ]
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
        let env = base_env(&daemon, &[PathBuf::from("/a"), PathBuf::from("/b")]);
        assert_eq!(env["PATH"], "/a:/b");
        assert_eq!(env["HOME"], "/h");
        assert_eq!(env["LC_ALL"], "C.UTF-8");
        assert_eq!(env["TERM"], "xterm-256color");
        assert!(!env.contains_key("NOTIFY_SOCKET") && !env.contains_key("LISTEN_FDS"));
    }
}
