//! `/api/terminal`: start, list, show and end terminal sessions (DESIGN §12). Starting
//! one is the profile's use case (`Profiles::start_session`); this file checks the
//! request's shape.

use std::path::PathBuf;

use axum::Extension;
use axum::extract::{Path as UrlPath, State};
use serde::Deserialize;
use serde_json::{Map, Value, json};
use uuid::Uuid;

use super::error::{ApiError, ApiResult, ok, ok_empty};
use super::extract::{ApiJson, ApiQuery, SizeBody, terminal_size};
use crate::agents::hook_events::HookReport;
use crate::app::AppState;
use crate::auth::Caller;
use crate::profiles::SessionRequest;
use crate::pty::Session;

/// The longest `search_path` accepted (a PATH is rarely over a few KiB).
const MAX_SEARCH_PATH: usize = 32 * 1024;

fn parse(body: &Value) -> Result<SessionRequest, ApiError> {
    let obj = body
        .as_object()
        .ok_or_else(|| ApiError::bad_request("Expected a JSON object"))?;
    const FIELDS: &[&str] = &[
        "profile_alias",
        "args",
        "cols",
        "rows",
        "working_dir",
        "search_path",
        "login",
        "worktree",
    ];
    if let Some(unknown) = obj.keys().find(|k| !FIELDS.contains(&k.as_str())) {
        return Err(ApiError::bad_request(format!(
            "Unknown field '{unknown}'; expected one of {}",
            FIELDS.join(", ")
        )));
    }
    let profile_alias = match obj.get("profile_alias") {
        Some(Value::String(s)) if !s.is_empty() => Some(s.clone()),
        None | Some(Value::Null) => None,
        Some(_) => return Err(ApiError::bad_request("profile_alias must be a string")),
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
    let search_path = match obj.get("search_path") {
        None | Some(Value::Null) => None,
        Some(Value::String(p)) if p.len() <= MAX_SEARCH_PATH => Some(p.clone()),
        Some(_) => {
            return Err(ApiError::bad_request(format!(
                "search_path must be a PATH-like string of at most {MAX_SEARCH_PATH} bytes"
            )));
        }
    };
    let login = match obj.get("login") {
        None | Some(Value::Null) => false,
        Some(Value::Bool(b)) => *b,
        Some(_) => return Err(ApiError::bad_request("login must be true or false")),
    };
    if profile_alias.is_none() && working_dir.is_none() {
        return Err(ApiError::bad_request(
            "profile_alias is required (or a working_dir bound to a profile with 'clown bind')",
        ));
    }
    let worktree = match obj.get("worktree") {
        None | Some(Value::Null) => false,
        Some(Value::Bool(b)) => *b,
        Some(_) => return Err(ApiError::bad_request("worktree must be true or false")),
    };
    Ok(SessionRequest {
        worktree,
        search_path,
        profile_alias,
        args,
        login,
        cols: dimension(obj, "cols", 80)?,
        rows: dimension(obj, "rows", 24)?,
        working_dir,
    })
}

fn dimension(obj: &Map<String, Value>, name: &str, default: u16) -> Result<u16, ApiError> {
    super::extract::dimension(obj.get(name), name, default)
}

pub async fn create(State(state): State<AppState>, ApiJson(body): ApiJson<Value>) -> ApiResult {
    let session = state.profiles().start_session(parse(&body)?).await?;
    Ok(ok(serde_json::json!({
        "session_id": session.id.to_string(),
        "ws_url": format!("/ws/terminal/{}", session.id),
    })))
}

/// The session named by `id`, or 404.
pub fn find(state: &AppState, id: &str) -> Result<std::sync::Arc<Session>, ApiError> {
    Uuid::parse_str(id)
        .ok()
        .and_then(|uuid| state.terminals().get(uuid))
        .ok_or_else(|| ApiError::not_found(format!("Terminal session '{id}' not found")))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ListQuery {
    #[serde(default)]
    waiting: bool,
}

/// Every session, oldest first; with `waiting=true` only those waiting for their user,
/// the longest waiting first.
pub async fn list(State(state): State<AppState>, ApiQuery(q): ApiQuery<ListQuery>) -> ApiResult {
    let mut sessions = state.terminals().list();
    if q.waiting {
        sessions.retain(|s| s.attention().waiting());
        sessions.sort_by_key(|s| s.attention_since_ms());
    }
    let infos: Vec<_> = sessions.iter().map(|s| s.info()).collect();
    Ok(ok(infos))
}

/// An agent's hook event for its session (from `clown hook`, with the session's token).
pub async fn hook(
    State(state): State<AppState>,
    Extension(who): Extension<Caller>,
    UrlPath(id): UrlPath<String>,
    ApiJson(report): ApiJson<HookReport>,
) -> ApiResult {
    report.validate().map_err(ApiError::bad_request)?;
    let session = find(&state, &id)?;
    debug_assert!(
        matches!(&who, Caller::Owner)
            || who
                == Caller::Hook {
                    session: id.clone()
                }
    );
    session.hook(&report);
    session.save().await?;
    Ok(ok(json!({"attention": session.attention()})))
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
    // Its end recorded (and its hook token revoked) before the answer.
    session.wait_done().await;
    Ok(ok_empty())
}

/// The sessions a stop, a reboot or a lost holder ended, with how to resume each.
pub async fn interrupted(State(state): State<AppState>) -> ApiResult {
    Ok(ok(state.profiles().interrupted().await?))
}

/// Resumes an interrupted session in a new one; answers it as a create does.
pub async fn resume(
    State(state): State<AppState>,
    UrlPath(id): UrlPath<String>,
    body: axum::body::Bytes,
) -> ApiResult {
    // The body is optional: none (or empty) means the default size.
    let b: SizeBody = if body.iter().all(u8::is_ascii_whitespace) {
        SizeBody::default()
    } else {
        serde_json::from_slice(&body)
            .map_err(|e| ApiError::bad_request(format!("Invalid request body: {e}")))?
    };
    let (cols, rows) = terminal_size(b.cols.as_ref(), b.rows.as_ref())?;
    let session = state.profiles().resume_interrupted(&id, cols, rows).await?;
    Ok(ok(json!({
        "session_id": session.id.to_string(),
        "ws_url": format!("/ws/terminal/{}", session.id),
    })))
}

/// Forgets an interrupted session.
pub async fn dismiss(State(state): State<AppState>, UrlPath(id): UrlPath<String>) -> ApiResult {
    state.profiles().dismiss_interrupted(&id).await?;
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
        let p = parse(&json!({"profile_alias": "p", "search_path": "/a:/b"})).unwrap();
        assert_eq!(p.search_path.as_deref(), Some("/a:/b"));
        assert!(err(json!({"profile_alias": "p", "search_path": ["/a"]})).contains("search_path"));
        let long = "/a:".repeat(20_000);
        assert!(err(json!({"profile_alias": "p", "search_path": long})).contains("search_path"));
        assert!(err(json!([1])).contains("object"));
    }
}
