//! What a request is, read from its JSON body (only when the profile has routing rules
//! or a key pool, so the plain path never parses more than the model): the scenarios a
//! routing rule matches, the first rule that matches, and the conversation the request
//! belongs to (which keeps it on one key).
//!
//! - `background`: Claude Code's small fast model (a model named `…haiku…`);
//! - `thinking`: Anthropic's `thinking` (not `disabled`), OpenAI's `reasoning` or
//!   `reasoning_effort` (not `none`);
//! - `long_context`: the body's size over four bytes a token above the threshold;
//! - `web_search`: a tool whose `type` starts with `web_search`;
//! - `subagent`: `<clown-route>TAG</clown-route>` in the system prompt (or Codex's
//!   instructions), put there by the sub-agent's definition.
//!
//! The conversation: Claude Code's `metadata.user_id` (its `session_id` when the value
//! is JSON, the part after `_session_` in the older form), Codex's `prompt_cache_key`,
//! else the `previous_response_id`.

use std::borrow::Cow;

use serde::Deserialize;
use serde_json::value::RawValue;

use super::plan::{LONG_CONTEXT_TOKENS, RouteRule, Scenario};

const TAG_OPEN: &str = "<clown-route>";
const TAG_CLOSE: &str = "</clown-route>";

#[derive(Deserialize)]
struct Probe<'a> {
    #[serde(default, borrow)]
    model: Option<Cow<'a, str>>,
    #[serde(default, borrow)]
    thinking: Option<&'a RawValue>,
    #[serde(default, borrow)]
    reasoning: Option<&'a RawValue>,
    #[serde(default, borrow)]
    reasoning_effort: Option<Cow<'a, str>>,
    #[serde(default, borrow)]
    tools: Option<Vec<Tool<'a>>>,
    #[serde(default, borrow)]
    system: Option<&'a RawValue>,
    #[serde(default, borrow)]
    instructions: Option<&'a RawValue>,
    #[serde(default, borrow)]
    metadata: Option<Metadata<'a>>,
    #[serde(default, borrow)]
    prompt_cache_key: Option<Cow<'a, str>>,
    #[serde(default, borrow)]
    previous_response_id: Option<Cow<'a, str>>,
}

#[derive(Deserialize)]
struct Tool<'a> {
    #[serde(default, borrow, rename = "type")]
    kind: Option<Cow<'a, str>>,
}

#[derive(Deserialize)]
struct Metadata<'a> {
    #[serde(default, borrow)]
    user_id: Option<Cow<'a, str>>,
}

/// What the rules and the pool need to know of a request.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct Facts {
    pub model: Option<String>,
    pub thinking: bool,
    pub web_search: bool,
    pub tokens: u64,
    pub tag: Option<String>,
    pub conversation: Option<String>,
}

/// The facts of `body` (all false when it is not a JSON object).
pub fn facts(body: &[u8]) -> Facts {
    let tokens = body.len() as u64 / 4;
    let Ok(p) = serde_json::from_slice::<Probe>(body) else {
        return Facts {
            tokens,
            ..Facts::default()
        };
    };
    let not_null = |r: &Option<&RawValue>| r.is_some_and(|r| r.get() != "null");
    let thinking = (not_null(&p.thinking)
        && !p.thinking.is_some_and(|r| r.get().contains("\"disabled\"")))
        || (not_null(&p.reasoning) && !p.reasoning.is_some_and(|r| r.get().contains("\"none\"")))
        || p.reasoning_effort.is_some_and(|e| e != "none");
    let web_search = p.tools.as_deref().unwrap_or_default().iter().any(|t| {
        t.kind
            .as_deref()
            .is_some_and(|k| k.starts_with("web_search"))
    });
    let tag = [p.system, p.instructions]
        .into_iter()
        .flatten()
        .find_map(|raw| tag_in(raw.get()));
    let conversation = p
        .metadata
        .and_then(|m| m.user_id)
        .map(|u| session_of(&u))
        .or_else(|| p.prompt_cache_key.map(|k| format!("cache:{k}")))
        .or_else(|| p.previous_response_id.map(|r| format!("prev:{r}")));
    Facts {
        model: p.model.map(Cow::into_owned),
        thinking,
        web_search,
        tokens,
        tag,
        conversation,
    }
}

fn tag_in(text: &str) -> Option<String> {
    let start = text.find(TAG_OPEN)? + TAG_OPEN.len();
    let len = text[start..].find(TAG_CLOSE)?;
    let tag = text[start..start + len].trim();
    (!tag.is_empty() && tag.len() <= 128).then(|| tag.to_string())
}

/// The session part of Claude Code's `metadata.user_id`.
fn session_of(user_id: &str) -> String {
    if user_id.starts_with('{')
        && let Ok(v) = serde_json::from_str::<serde_json::Value>(user_id)
        && let Some(s) = v["session_id"].as_str()
    {
        return format!("session:{s}");
    }
    match user_id.rsplit_once("_session_") {
        Some((_, s)) if !s.is_empty() => format!("session:{s}"),
        _ => format!("user:{user_id}"),
    }
}

/// Whether `rule` matches a request with `facts`.
pub fn matches(rule: &RouteRule, facts: &Facts) -> bool {
    match rule.when {
        Scenario::Background => facts
            .model
            .as_deref()
            .is_some_and(|m| m.to_ascii_lowercase().contains("haiku")),
        Scenario::Thinking => facts.thinking,
        Scenario::LongContext => {
            facts.tokens > rule.threshold_tokens.unwrap_or(LONG_CONTEXT_TOKENS)
        }
        Scenario::WebSearch => facts.web_search,
        Scenario::Subagent => match (&rule.tag, &facts.tag) {
            (_, None) => false,
            (None, Some(_)) => true,
            (Some(want), Some(have)) => want == have,
        },
    }
}

/// The first rule `facts` match, with its index.
pub fn choose<'a>(rules: &'a [RouteRule], facts: &Facts) -> Option<(usize, &'a RouteRule)> {
    rules.iter().enumerate().find(|(_, r)| matches(r, facts))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rule(when: Scenario) -> RouteRule {
        RouteRule {
            when,
            threshold_tokens: None,
            tag: None,
            provider_id: None,
            model: Some("m".into()),
        }
    }

    #[test]
    fn each_scenario_is_recognised() {
        let f = facts(br#"{"model":"claude-3-5-haiku-20241022","messages":[]}"#);
        assert!(matches(&rule(Scenario::Background), &f));
        assert!(!matches(&rule(Scenario::Thinking), &f));
        let f = facts(br#"{"model":"x","thinking":{"type":"enabled","budget_tokens":1024}}"#);
        assert!(matches(&rule(Scenario::Thinking), &f));
        let f = facts(br#"{"model":"x","thinking":{"type":"disabled"}}"#);
        assert!(!matches(&rule(Scenario::Thinking), &f));
        let f = facts(br#"{"model":"x","reasoning":{"effort":"high"}}"#);
        assert!(matches(&rule(Scenario::Thinking), &f));
        let f = facts(
            br#"{"tools":[{"name":"a"},{"type":"web_search_20250305","name":"web_search"}]}"#,
        );
        assert!(matches(&rule(Scenario::WebSearch), &f));
        let mut long = rule(Scenario::LongContext);
        long.threshold_tokens = Some(10);
        assert!(!matches(&long, &facts(br#"{"model":"x"}"#)));
        assert!(matches(&long, &facts(&[b' '; 100])));
        let f = facts(
            br#"{"system":[{"type":"text","text":"You review code. <clown-route>review</clown-route>"}]}"#,
        );
        assert_eq!(f.tag.as_deref(), Some("review"));
        let mut sub = rule(Scenario::Subagent);
        assert!(matches(&sub, &f));
        sub.tag = Some("other".into());
        assert!(!matches(&sub, &f));
    }

    #[test]
    fn the_first_matching_rule_wins() {
        let rules = [
            rule(Scenario::WebSearch),
            rule(Scenario::Background),
            rule(Scenario::Thinking),
        ];
        let f = facts(br#"{"model":"claude-haiku-4-5","thinking":{"type":"enabled"}}"#);
        assert_eq!(choose(&rules, &f).map(|(i, _)| i), Some(1));
        assert!(choose(&rules, &facts(br#"{"model":"claude-sonnet-4"}"#)).is_none());
    }

    #[test]
    fn conversations_from_claude_code_and_codex() {
        let f = facts(br#"{"metadata":{"user_id":"user_ab12_account_x_session_5f6e"}}"#);
        assert_eq!(f.conversation.as_deref(), Some("session:5f6e"));
        let f =
            facts(br#"{"metadata":{"user_id":"{\"device_id\":\"d\",\"session_id\":\"s-1\"}"}}"#);
        assert_eq!(f.conversation.as_deref(), Some("session:s-1"));
        let f = facts(br#"{"prompt_cache_key":"019a-conv"}"#);
        assert_eq!(f.conversation.as_deref(), Some("cache:019a-conv"));
        assert_eq!(facts(b"not json").conversation, None);
    }
}
