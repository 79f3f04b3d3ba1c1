//! The Anthropic Messages request as read: borrowed from the agent's body where it can be
//! (strings without escapes, tool schemas and call inputs as raw JSON), every block kind
//! in one struct of optional fields (no intermediate JSON tree).

use serde::Deserialize;
use serde_json::value::RawValue;

use super::chat::Str;

#[derive(Deserialize)]
pub struct Request<'a> {
    #[serde(borrow, default)]
    pub model: Option<Str<'a>>,
    #[serde(borrow, default)]
    pub system: Option<&'a RawValue>,
    #[serde(borrow, default)]
    pub messages: Vec<InMessage<'a>>,
    #[serde(default)]
    pub max_tokens: Option<u64>,
    #[serde(default)]
    pub temperature: Option<f64>,
    #[serde(default)]
    pub top_p: Option<f64>,
    #[serde(borrow, default)]
    pub stop_sequences: Vec<Str<'a>>,
    #[serde(default)]
    pub stream: bool,
    #[serde(borrow, default)]
    pub tools: Vec<InTool<'a>>,
    #[serde(borrow, default)]
    pub tool_choice: Option<ToolChoice<'a>>,
    #[serde(default)]
    pub thinking: Option<ThinkingConfig>,
    #[serde(default)]
    pub output_config: Option<OutputConfig>,
}

#[derive(Deserialize)]
pub struct InMessage<'a> {
    #[serde(borrow)]
    pub role: Str<'a>,
    #[serde(borrow)]
    pub content: &'a RawValue,
}

/// Any content block: the fields of every kind this translation reads.
#[derive(Deserialize)]
pub struct Block<'a> {
    #[serde(rename = "type", borrow)]
    pub kind: Str<'a>,
    #[serde(borrow, default)]
    pub text: Option<&'a RawValue>,
    #[serde(borrow, default)]
    pub thinking: Option<Str<'a>>,
    #[serde(borrow, default)]
    pub signature: Option<Str<'a>>,
    #[serde(borrow, default)]
    pub id: Option<Str<'a>>,
    #[serde(borrow, default)]
    pub name: Option<Str<'a>>,
    #[serde(borrow, default)]
    pub input: Option<&'a RawValue>,
    #[serde(borrow, default)]
    pub tool_use_id: Option<Str<'a>>,
    #[serde(borrow, default)]
    pub content: Option<&'a RawValue>,
    #[serde(borrow, default)]
    pub source: Option<Source<'a>>,
    #[serde(borrow, default)]
    pub cache_control: Option<&'a RawValue>,
    #[serde(borrow, default)]
    pub tool_name: Option<Str<'a>>,
}

#[derive(Deserialize)]
pub struct Source<'a> {
    #[serde(rename = "type", borrow)]
    pub kind: Str<'a>,
    #[serde(borrow, default)]
    pub media_type: Option<Str<'a>>,
    #[serde(borrow, default)]
    pub data: Option<Str<'a>>,
    #[serde(borrow, default)]
    pub url: Option<Str<'a>>,
}

#[derive(Deserialize)]
pub struct InTool<'a> {
    #[serde(borrow)]
    pub name: Str<'a>,
    #[serde(rename = "type", borrow, default)]
    pub kind: Option<Str<'a>>,
    #[serde(borrow, default)]
    pub description: Option<&'a RawValue>,
    #[serde(borrow, default)]
    pub input_schema: Option<&'a RawValue>,
    #[serde(default)]
    pub defer_loading: bool,
}

#[derive(Deserialize)]
pub struct ToolChoice<'a> {
    #[serde(rename = "type", borrow)]
    pub kind: Str<'a>,
    #[serde(borrow, default)]
    pub name: Option<Str<'a>>,
    #[serde(default)]
    pub disable_parallel_tool_use: bool,
}

#[derive(Deserialize)]
pub struct ThinkingConfig {
    #[serde(rename = "type", default)]
    pub kind: String,
    #[serde(default)]
    pub budget_tokens: Option<u64>,
}

#[derive(Deserialize)]
pub struct OutputConfig {
    #[serde(default)]
    pub effort: Option<String>,
}
