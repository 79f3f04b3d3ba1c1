//! The Chat Completions answer as read (chunks and whole completions, tolerant of what
//! providers add or leave out) and the Anthropic pieces written from it: SSE events,
//! usage, stop reasons.

use serde::{Deserialize, Deserializer, Serialize};
use serde_json::value::RawValue;

use super::chat::Str;

/// A streamed chunk or a whole completion.
#[derive(Deserialize)]
pub struct Completion<'a> {
    #[serde(borrow, default)]
    pub id: Option<Str<'a>>,
    #[serde(borrow, default)]
    pub model: Option<Str<'a>>,
    #[serde(borrow, default, deserialize_with = "null_as_empty")]
    pub choices: Vec<Choice<'a>>,
    #[serde(default)]
    pub usage: Option<Usage>,
    #[serde(borrow, default)]
    pub error: Option<&'a RawValue>,
}

#[derive(Deserialize)]
pub struct Choice<'a> {
    #[serde(borrow, default)]
    pub delta: Option<Delta<'a>>,
    #[serde(borrow, default)]
    pub message: Option<Delta<'a>>,
    #[serde(borrow, default)]
    pub finish_reason: Option<Loose<'a>>,
}

/// A stream delta, or a whole completion's message.
#[derive(Deserialize)]
pub struct Delta<'a> {
    #[serde(borrow, default)]
    pub content: Option<Loose<'a>>,
    #[serde(borrow, default)]
    pub reasoning_content: Option<Loose<'a>>,
    #[serde(borrow, default)]
    pub reasoning: Option<Loose<'a>>,
    #[serde(borrow, default, deserialize_with = "null_as_empty")]
    pub reasoning_details: Vec<&'a RawValue>,
    #[serde(borrow, default, deserialize_with = "null_as_empty")]
    pub tool_calls: Vec<CallPiece<'a>>,
}

#[derive(Deserialize)]
pub struct CallPiece<'a> {
    #[serde(default)]
    pub index: Option<u64>,
    #[serde(borrow, default)]
    pub id: Option<Loose<'a>>,
    #[serde(borrow, default)]
    pub function: Option<FunctionPiece<'a>>,
}

#[derive(Deserialize)]
pub struct FunctionPiece<'a> {
    #[serde(borrow, default)]
    pub name: Option<Loose<'a>>,
    #[serde(borrow, default)]
    pub arguments: Option<Loose<'a>>,
}

/// Any JSON value, kept only when it is a string (providers put null, or objects, where
/// others put strings).
pub struct Loose<'a>(pub Option<Str<'a>>);

impl<'de: 'a, 'a> Deserialize<'de> for Loose<'a> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let raw: &'a RawValue = Deserialize::deserialize(d)?;
        Ok(Loose(if raw.get().starts_with('"') {
            serde_json::from_str(raw.get()).ok()
        } else {
            None
        }))
    }
}

/// The string, when there is a non-empty one.
pub fn text<'s>(v: &'s Option<Loose<'_>>) -> Option<&'s str> {
    v.as_ref()
        .and_then(|l| l.0.as_ref())
        .map(Str::as_str)
        .filter(|s| !s.is_empty())
}

fn null_as_empty<'de, D, T>(d: D) -> Result<Vec<T>, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de>,
{
    Ok(Option::<Vec<T>>::deserialize(d)?.unwrap_or_default())
}

#[derive(Debug, Default, Clone, Copy, Deserialize)]
pub struct Usage {
    #[serde(default)]
    pub prompt_tokens: u64,
    #[serde(default)]
    pub completion_tokens: u64,
    #[serde(default)]
    pub prompt_tokens_details: Option<Details>,
    /// DeepSeek's name for the cached prompt tokens.
    #[serde(default)]
    pub prompt_cache_hit_tokens: Option<u64>,
}

#[derive(Debug, Default, Clone, Copy, Deserialize)]
pub struct Details {
    #[serde(default)]
    pub cached_tokens: Option<u64>,
}

/// Anthropic's usage: the prompt without its cached part, which is counted apart.
#[derive(Debug, Default, Clone, Copy, PartialEq, Serialize)]
pub struct AnthropicUsage {
    pub input_tokens: u64,
    pub cache_creation_input_tokens: u64,
    pub cache_read_input_tokens: u64,
    pub output_tokens: u64,
}

impl From<Usage> for AnthropicUsage {
    fn from(u: Usage) -> Self {
        let cached = u
            .prompt_tokens_details
            .and_then(|d| d.cached_tokens)
            .or(u.prompt_cache_hit_tokens)
            .unwrap_or(0);
        Self {
            input_tokens: u.prompt_tokens.saturating_sub(cached),
            cache_creation_input_tokens: 0,
            cache_read_input_tokens: cached,
            output_tokens: u.completion_tokens,
        }
    }
}

/// Anthropic's stop reason for a Chat finish reason; an answer with tool calls stops for
/// them whatever the provider says (some say `stop`).
pub fn stop_reason(finish: Option<&str>, calls: bool) -> &'static str {
    match finish {
        Some("length") => "max_tokens",
        Some("content_filter") => "refusal",
        _ if calls => "tool_use",
        _ => "end_turn",
    }
}

/// One `content_block_delta` event's `delta` (its type: the variant's name and `_delta`).
#[derive(Serialize)]
#[serde(tag = "type")]
pub enum BlockDelta<'a> {
    #[serde(rename = "text_delta")]
    Text { text: &'a str },
    #[serde(rename = "thinking_delta")]
    Thinking { thinking: &'a str },
    #[serde(rename = "signature_delta")]
    Signature { signature: &'a str },
    #[serde(rename = "input_json_delta")]
    InputJson { partial_json: &'a str },
}

/// Appends one SSE event.
pub fn event(out: &mut Vec<u8>, name: &str, data: &impl Serialize) {
    out.extend_from_slice(b"event: ");
    out.extend_from_slice(name.as_bytes());
    out.extend_from_slice(b"\ndata: ");
    // Serializing these plain structs to a Vec cannot fail.
    let _ = serde_json::to_writer(&mut *out, data);
    out.extend_from_slice(b"\n\n");
}

pub fn delta(out: &mut Vec<u8>, index: usize, delta: BlockDelta) {
    #[derive(Serialize)]
    struct E<'a> {
        #[serde(rename = "type")]
        kind: &'static str,
        index: usize,
        delta: BlockDelta<'a>,
    }
    event(
        out,
        "content_block_delta",
        &E {
            kind: "content_block_delta",
            index,
            delta,
        },
    );
}

pub fn block_stop(out: &mut Vec<u8>, index: usize) {
    #[derive(Serialize)]
    struct E {
        #[serde(rename = "type")]
        kind: &'static str,
        index: usize,
    }
    event(
        out,
        "content_block_stop",
        &E {
            kind: "content_block_stop",
            index,
        },
    );
}
