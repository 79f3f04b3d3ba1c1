//! What an agent's hook event says about its session: each agent's event names mapped to
//! an attention state (`crate::attention`), and the few fields clown keeps of an event.
//!
//! `clown hook AGENT` (run by the agent) reduces the agent's JSON to a [`HookReport`]
//! before sending it, so tool inputs and file contents never leave the agent's side.
//! - Claude Code (and Qwen Code, Droid: the same names): `UserPromptSubmit`,
//!   `PostToolUse`, `PostToolUseFailure` → working; `PermissionRequest` (shown at once),
//!   `Notification` of type `permission_prompt`, `agent_needs_input`,
//!   `worker_permission_prompt` or `elicitation_*` → needs input; `Stop` and
//!   `Notification` `idle_prompt` → turn finished; `StopFailure` → errored, or rate
//!   limited when its error says so; `SessionStart` → idle.
//! - Codex CLI: its `notify` program gets `agent-turn-complete` → turn finished.
//! - Gemini CLI: `BeforeAgent`, `BeforeTool`, `AfterTool` → working; `Notification`
//!   (`ToolPermission`) → needs input; `AfterAgent` → turn finished.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::attention::Attention;

/// The longest text kept of any field.
const MAX_FIELD: usize = 300;

/// An agent's hook event, reduced to what clown uses.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HookReport {
    /// The agent's id in the catalogue (`claude`, `codex`, `gemini`, …).
    pub agent: String,
    /// The event's name (`Stop`, `PermissionRequest`, `agent-turn-complete`, …).
    pub event: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub notification_type: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tool_name: Option<String>,
    /// The agent's own id of the conversation (what resuming it takes).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub conversation_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cwd: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

fn text(v: &Value, key: &str) -> Option<String> {
    let s = match v.get(key)? {
        Value::String(s) => s.clone(),
        Value::Null => return None,
        other => other.to_string(),
    };
    Some(s.chars().take(MAX_FIELD).collect())
}

impl HookReport {
    /// The report of `agent`'s raw event JSON (Claude-style stdin, or Codex's notify
    /// argument); None when it is not an event.
    pub fn from_raw(agent: &str, raw: &Value) -> Option<Self> {
        let event = text(raw, "hook_event_name").or_else(|| text(raw, "type"))?;
        let error = text(raw, "error")
            .or_else(|| text(raw, "error_type"))
            .or_else(|| text(raw, "reason"));
        Some(Self {
            agent: agent.chars().take(MAX_FIELD).collect(),
            event,
            notification_type: text(raw, "notification_type"),
            message: text(raw, "message"),
            tool_name: text(raw, "tool_name"),
            conversation_id: text(raw, "session_id").or_else(|| text(raw, "thread-id")),
            cwd: text(raw, "cwd"),
            error,
        })
    }

    /// Whether every field is within bounds (the API refuses larger ones).
    pub fn validate(&self) -> Result<(), String> {
        let fields = [
            ("agent", Some(&self.agent)),
            ("event", Some(&self.event)),
            ("notification_type", self.notification_type.as_ref()),
            ("message", self.message.as_ref()),
            ("tool_name", self.tool_name.as_ref()),
            ("conversation_id", self.conversation_id.as_ref()),
            ("cwd", self.cwd.as_ref()),
            ("error", self.error.as_ref()),
        ];
        for (name, value) in fields {
            if value.is_some_and(|v| v.chars().count() > MAX_FIELD * 4) {
                return Err(format!(
                    "{name} is longer than {} characters",
                    MAX_FIELD * 4
                ));
            }
        }
        if self.event.is_empty() {
            return Err("event must not be empty".into());
        }
        Ok(())
    }

    /// The state this event puts the session in, with a line saying why; None for events
    /// that say nothing about it.
    pub fn attention(&self) -> Option<(Attention, Option<String>)> {
        let kind = self.notification_type.as_deref().unwrap_or_default();
        let state = match self.event.as_str() {
            "UserPromptSubmit" | "PostToolUse" | "PostToolUseFailure" | "PostToolBatch"
            | "BeforeAgent" | "BeforeTool" | "AfterTool" => Attention::Working,
            "PermissionRequest" => {
                let what = self.tool_name.as_deref().unwrap_or("a tool");
                return Some((
                    Attention::NeedsInput,
                    Some(format!("Permission to use {what}")),
                ));
            }
            "Notification" => match kind {
                "idle_prompt" => Attention::TurnFinished,
                "permission_prompt"
                | "agent_needs_input"
                | "worker_permission_prompt"
                | "ToolPermission" => Attention::NeedsInput,
                k if k.starts_with("elicitation") => Attention::NeedsInput,
                _ => return None,
            },
            "Stop" | "AfterAgent" | "agent-turn-complete" => Attention::TurnFinished,
            "StopFailure" => {
                let why = self.error.clone().or_else(|| self.message.clone());
                let limited = why.as_deref().is_some_and(|w| {
                    let w = w.to_ascii_lowercase();
                    w.contains("rate") || w.contains("429") || w.contains("limit")
                });
                let state = if limited {
                    Attention::RateLimited
                } else {
                    Attention::Errored
                };
                return Some((state, why));
            }
            "SessionStart" => Attention::Idle,
            _ => return None,
        };
        Some((state, self.message.clone()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn of(agent: &str, raw: Value) -> Option<Attention> {
        HookReport::from_raw(agent, &raw)?
            .attention()
            .map(|(s, _)| s)
    }

    #[test]
    fn claude_events() {
        let base = |name: &str| json!({"session_id": "abc", "cwd": "/p", "hook_event_name": name});
        assert_eq!(
            of("claude", base("UserPromptSubmit")),
            Some(Attention::Working)
        );
        assert_eq!(
            of("claude", base("PermissionRequest")),
            Some(Attention::NeedsInput)
        );
        assert_eq!(of("claude", base("PostToolUse")), Some(Attention::Working));
        assert_eq!(of("claude", base("Stop")), Some(Attention::TurnFinished));
        assert_eq!(of("claude", base("SessionEnd")), None);
        let n = |t: &str| json!({"hook_event_name": "Notification", "notification_type": t, "message": "m"});
        assert_eq!(
            of("claude", n("permission_prompt")),
            Some(Attention::NeedsInput)
        );
        assert_eq!(
            of("claude", n("idle_prompt")),
            Some(Attention::TurnFinished)
        );
        assert_eq!(of("claude", n("auth_success")), None);
        let fail = json!({"hook_event_name": "StopFailure", "error": "rate_limit_error: 429"});
        assert_eq!(of("claude", fail), Some(Attention::RateLimited));
        let fail = json!({"hook_event_name": "StopFailure", "error": "overloaded"});
        assert_eq!(of("claude", fail), Some(Attention::Errored));
        let r = HookReport::from_raw(
            "claude",
            &json!({"hook_event_name": "PermissionRequest",
            "tool_name": "Bash", "session_id": "e060", "tool_input": {"command": "mkdir x"}}),
        )
        .unwrap();
        assert_eq!(r.conversation_id.as_deref(), Some("e060"));
        assert_eq!(
            r.attention().unwrap().1.as_deref(),
            Some("Permission to use Bash")
        );
        assert!(
            !serde_json::to_string(&r).unwrap().contains("mkdir"),
            "tool input is not kept"
        );
    }

    #[test]
    fn codex_and_gemini_events() {
        let notify = json!({"type": "agent-turn-complete", "thread-id": "01a2", "cwd": "/p",
                            "input-messages": ["hi"], "last-assistant-message": "done"});
        let r = HookReport::from_raw("codex", &notify).unwrap();
        assert_eq!(r.conversation_id.as_deref(), Some("01a2"));
        assert_eq!(r.attention().map(|a| a.0), Some(Attention::TurnFinished));
        assert_eq!(
            of("gemini", json!({"hook_event_name": "AfterAgent"})),
            Some(Attention::TurnFinished)
        );
        assert_eq!(
            of(
                "gemini",
                json!({"hook_event_name": "Notification", "notification_type": "ToolPermission"})
            ),
            Some(Attention::NeedsInput)
        );
        assert_eq!(HookReport::from_raw("x", &json!({"no": "event"})), None);
        assert_eq!(HookReport::from_raw("x", &json!([1])), None);
    }

    #[test]
    fn long_fields_are_cut_and_checked() {
        let r = HookReport::from_raw(
            "claude",
            &json!({"hook_event_name": "Stop", "message": "x".repeat(10_000)}),
        )
        .unwrap();
        assert_eq!(r.message.unwrap().len(), MAX_FIELD);
        let big = HookReport {
            event: "Stop".into(),
            message: Some("y".repeat(5000)),
            ..Default::default()
        };
        assert!(big.validate().unwrap_err().contains("message"));
        assert!(HookReport::default().validate().is_err());
    }
}
