//! Claude Code's launch: `CLAUDE_CONFIG_DIR` = the profile home, the endpoint and model,
//! the credential (`ANTHROPIC_API_KEY`, `ANTHROPIC_AUTH_TOKEN`, a subscription token on a
//! descriptor, or its own login), and `.claude.json` edited so it starts straight at its
//! prompt: onboarding done, a theme, exactly the handed key's last 20 characters
//! approved, the home and working directory trusted. Everything else in `.claude.json`
//! (projects, MCP servers, its login's account) stays.

use std::collections::BTreeMap;
use std::path::Path;

use serde_json::{Value, json};

use super::{Credential, LaunchError, LaunchInput, SecretFd, files, last_chars};
use crate::agents::login;

pub fn prepare(
    input: &LaunchInput,
    env: &mut BTreeMap<String, String>,
    secret_fds: &mut Vec<SecretFd>,
) -> Result<(), LaunchError> {
    env.insert("CLAUDE_CONFIG_DIR".into(), input.home.display().to_string());
    env.insert("ANTHROPIC_BASE_URL".into(), input.base_url.to_string());
    env.insert("ANTHROPIC_MODEL".into(), input.model.to_string());
    if input.provider.kind != "anthropic" {
        // Background and sub-agent calls ask for the family defaults; a compatible
        // provider only serves its own models.
        for family in ["OPUS", "SONNET", "HAIKU"] {
            env.insert(
                format!("ANTHROPIC_DEFAULT_{family}_MODEL"),
                input.model.to_string(),
            );
        }
        env.insert("API_TIMEOUT_MS".into(), "600000".into());
    }
    let mut approved_suffix = None;
    match input.credential {
        Credential::Key(key) => {
            env.insert("ANTHROPIC_API_KEY".into(), key.to_string());
            approved_suffix = Some(last_chars(key, 20));
        }
        Credential::Bearer(key) => {
            env.insert("ANTHROPIC_AUTH_TOKEN".into(), key.to_string());
        }
        Credential::OauthToken(token) => {
            // On a descriptor: the token stays out of the environment, which every
            // command and hook the agent runs would inherit.
            if let Some(vars) = login::spec(&input.agent.id).and_then(|s| s.token) {
                secret_fds.push(SecretFd {
                    env: vars.fd_env.into(),
                    plain_env: vars.env.into(),
                    value: token.to_string(),
                });
            }
        }
        Credential::OwnLogin | Credential::None => {}
    }
    let path = input.home.join(".claude.json");
    let mut trusted = vec![input.home.to_path_buf()];
    trusted.extend(input.cwd.map(Path::to_path_buf));
    files::edit_json(&path, |doc| {
        mark_ready(doc, approved_suffix.as_deref(), &trusted);
        (true, ())
    })
}

/// Onboarding, theme, approvals and trusted directories in `.claude.json`.
fn mark_ready(doc: &mut Value, approved_suffix: Option<&str>, trusted: &[std::path::PathBuf]) {
    doc["hasCompletedOnboarding"] = json!(true);
    if doc.get("theme").is_none() {
        doc["theme"] = json!("dark");
    }
    // The approvals name exactly the key this launch hands over: a key replaced, or
    // hidden behind the proxy or a bearer token, leaves no trace of itself here.
    let responses = files::object_at(doc, "customApiKeyResponses");
    responses.insert(
        "approved".into(),
        json!(approved_suffix.iter().collect::<Vec<_>>()),
    );
    if let (Some(suffix), Some(rejected)) = (
        approved_suffix,
        responses.get_mut("rejected").and_then(Value::as_array_mut),
    ) {
        rejected.retain(|v| v.as_str() != Some(suffix));
    }
    let projects = files::object_at(doc, "projects");
    for dir in trusted {
        let entry = projects
            .entry(dir.display().to_string())
            .or_insert_with(|| json!({}));
        if entry.is_object() {
            entry["hasTrustDialogAccepted"] = json!(true);
            if entry.get("hasCompletedProjectOnboarding").is_none() {
                entry["hasCompletedProjectOnboarding"] = json!(true);
            }
        }
    }
}
