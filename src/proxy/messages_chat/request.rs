//! The request: an Anthropic Messages body as a Chat Completions one.
//!
//! `system` → the first system message; a mid-conversation system turn → a system message
//! in place (folded into the user turn before it for local servers); user text and images
//! → content (parts when there are images or kept `cache_control`); `tool_result` blocks →
//! `tool` messages right after the assistant's calls, their images in a user message after
//! them; assistant text → content, `tool_use` → `tool_calls` (the input passes as the
//! arguments string, untouched), thinking this translation made → the reasoning field it
//! came in; `tools` → functions (Anthropic's server tools and deferred tools nobody loaded
//! are left out); `tool_choice`, `max_tokens`, `temperature`, `top_p`, `stop_sequences`,
//! `stream` (with usage asked for); `thinking` and `output_config.effort` → the provider's
//! reasoning request (see `dialect`). `metadata`, `top_k`, `context_management` and
//! `cache_control` (except where kept) go nowhere.

use std::borrow::Cow;
use std::collections::HashSet;

use serde::ser::{SerializeMap, Serializer};
use serde_json::value::RawValue;

use super::chat::{self, Call, Content, Message, Parameters, Part, Str, Text};
use super::dialect::{Dialect, Effort};
use super::input::{Block, InTool, Request, Source};
use super::thinking;

/// A translated request and what the answer's translation needs to know.
pub struct Translated {
    pub body: Vec<u8>,
    /// The model asked for (named in the answer when the provider names none).
    pub model: String,
    pub stream: bool,
}

/// Turns a Messages request body into a Chat Completions one for `provider`.
pub fn request(body: &[u8], provider: &str) -> Result<Translated, String> {
    if !body.trim_ascii_start().starts_with(b"{") {
        return Err("the request body is not a JSON object".into());
    }
    let req: Request = serde_json::from_slice(body)
        .map_err(|e| format!("the request is not a Messages body: {e}"))?;
    let model = req.model.as_ref().map(Str::as_str).unwrap_or_default();
    let d = Dialect::of(provider, model);
    let mut referenced = HashSet::new();
    let mut messages = Vec::with_capacity(req.messages.len() + 1);
    if let Some(raw) = req.system {
        let content = Content::from_parts(parts(raw, &d)?, false);
        if !content.is_empty() {
            messages.push(Message::new("system", content));
        }
    }
    for m in &req.messages {
        match m.role.as_str() {
            "assistant" => assistant(m.content, &mut messages)?,
            "system" => {
                let content = Content::from_parts(parts(m.content, &d)?, false);
                if d.system_first_only && messages.iter().any(|m| m.role != "system") {
                    fold_system(&mut messages, content);
                } else {
                    messages.push(Message::new("system", content));
                }
            }
            _ => user(m.content, &d, &mut messages, &mut referenced)?,
        }
    }
    if !d.send_back_reasoning {
        for m in &mut messages {
            m.reasoning = None;
            m.reasoning_details.clear();
        }
    }
    let tools: Vec<chat::Tool> = req
        .tools
        .iter()
        .filter(|t| t.kind.as_ref().is_none_or(|k| k.as_str() == "custom"))
        .filter(|t| !t.defer_loading || referenced.contains(t.name.as_str()))
        .map(|t| tool(t, provider))
        .collect();
    let out = Out {
        req: &req,
        d: &d,
        model,
        messages,
        tools,
    };
    let body = serde_json::to_vec(&out).map_err(|e| e.to_string())?;
    Ok(Translated {
        body,
        model: model.to_string(),
        stream: req.stream,
    })
}

/// A string or a list of blocks, as the blocks.
fn blocks(raw: &RawValue) -> Result<Vec<Block<'_>>, String> {
    let text = raw.get();
    if text.starts_with('"') {
        return Ok(vec![Block {
            kind: Str(Cow::Borrowed("text")),
            text: Some(raw),
            thinking: None,
            signature: None,
            id: None,
            name: None,
            input: None,
            tool_use_id: None,
            content: None,
            source: None,
            cache_control: None,
            tool_name: None,
        }]);
    }
    if text == "null" {
        return Ok(Vec::new());
    }
    serde_json::from_str(text).map_err(|e| format!("bad content: {e}"))
}

/// A text block's text (empty when it has none, or something else than a string).
fn text_of<'a>(b: &Block<'a>) -> Text<'a> {
    b.text
        .and_then(Text::raw)
        .unwrap_or_else(|| Text::plain(""))
}

/// The user-visible parts of system or user content (text, images, documents).
fn parts<'a>(raw: &'a RawValue, d: &Dialect) -> Result<Vec<Part<'a>>, String> {
    let mut out = Vec::new();
    for b in blocks(raw)? {
        push_part(b, d, &mut out);
    }
    Ok(out)
}

fn push_part<'a>(b: Block<'a>, d: &Dialect, out: &mut Vec<Part<'a>>) {
    let cache_control = b.cache_control.filter(|_| d.cache_control);
    match b.kind.as_str() {
        "text" => out.push(Part::Text {
            text: text_of(&b),
            cache_control,
        }),
        "image" => {
            if let Some(url) = b.source.as_ref().and_then(image_url) {
                out.push(Part::Image(url));
            }
        }
        "document" => {
            let text = match &b.source {
                Some(s) if s.kind.as_str() == "text" => {
                    Text::plain(s.data.clone().unwrap_or_default().0)
                }
                Some(s) => Text::plain(format!(
                    "(a {} document was attached here; it cannot be passed to this provider)",
                    s.media_type.as_ref().map_or("binary", Str::as_str)
                )),
                None => return,
            };
            out.push(Part::Text {
                text,
                cache_control,
            });
        }
        _ => {}
    }
}

fn image_url(s: &Source) -> Option<String> {
    match s.kind.as_str() {
        "base64" => Some(format!(
            "data:{};base64,{}",
            s.media_type.as_ref().map_or("image/png", Str::as_str),
            s.data.as_ref()?.as_str()
        )),
        "url" => Some(s.url.as_ref()?.as_str().to_string()),
        _ => None,
    }
}

fn user<'a>(
    raw: &'a RawValue,
    d: &Dialect,
    out: &mut Vec<Message<'a>>,
    referenced: &mut HashSet<String>,
) -> Result<(), String> {
    let mut rest = Vec::new();
    let mut results_images = Vec::new();
    let first_result = out.len();
    for b in blocks(raw)? {
        if b.kind.as_str() != "tool_result" {
            push_part(b, d, &mut rest);
            continue;
        }
        let mut texts = Vec::new();
        if let Some(c) = b.content {
            for inner in blocks(c)? {
                let piece = match inner.kind.as_str() {
                    "text" => text_of(&inner),
                    "image" => {
                        if let Some(url) = inner.source.as_ref().and_then(image_url) {
                            results_images.push(Part::Image(url));
                        }
                        continue;
                    }
                    "tool_reference" => {
                        let name = inner.tool_name.unwrap_or_default().0;
                        let line = format!("Tool {name} loaded.");
                        referenced.insert(name.into_owned());
                        Text::plain(line)
                    }
                    _ => continue,
                };
                texts.push(piece);
            }
        }
        let mut m = Message::new("tool", Content::Text(Text::join(texts, "\n")));
        m.tool_call_id = Some(b.tool_use_id.unwrap_or_default().0);
        out.push(m);
    }
    // Results in the order of the calls (Claude Code sends them as the tools finish; chat
    // templates without call ids pair them by position).
    if let Some(calls) = out[..first_result]
        .last()
        .filter(|m| m.role == "assistant")
        .map(|m| &m.tool_calls)
    {
        let order: Vec<String> = calls.iter().map(|c| c.id.to_string()).collect();
        let position = |m: &Message| {
            let id = m.tool_call_id.as_deref().unwrap_or_default();
            order.iter().position(|c| *c == id).unwrap_or(usize::MAX)
        };
        let mut results: Vec<Message> = out.drain(first_result..).collect();
        results.sort_by_key(position);
        out.extend(results);
    }
    results_images.extend(rest);
    if !results_images.is_empty() {
        let keep = results_images.iter().any(|p| matches!(p, Part::Image(_)));
        out.push(Message::new(
            "user",
            Content::from_parts(results_images, keep),
        ));
    }
    Ok(())
}

fn assistant<'a>(raw: &'a RawValue, out: &mut Vec<Message<'a>>) -> Result<(), String> {
    let mut texts: Vec<Part> = Vec::new();
    let mut m = Message::new("assistant", Content::Null);
    for b in blocks(raw)? {
        match b.kind.as_str() {
            "text" => texts.push(Part::Text {
                text: text_of(&b),
                cache_control: None,
            }),
            "thinking" => {
                let Some(carried) = b
                    .signature
                    .as_ref()
                    .and_then(|s| thinking::read(s.as_str()))
                else {
                    continue;
                };
                let text = b.thinking.unwrap_or_default().0;
                match &mut m.reasoning {
                    Some((_, all)) => {
                        all.push_str("\n\n");
                        all.push_str(&text);
                    }
                    None => m.reasoning = Some((carried.field, text.into_owned())),
                }
                m.reasoning_details.extend(carried.details);
            }
            "tool_use" => m.tool_calls.push(Call {
                id: b.id.unwrap_or_default().0,
                name: b.name.unwrap_or_default().0,
                arguments: b.input.map_or("{}", RawValue::get),
            }),
            _ => {}
        }
    }
    let texts: Vec<Part> = texts
        .into_iter()
        .filter(|p| !matches!(p, Part::Text { text, .. } if text.is_empty()))
        .collect();
    if !texts.is_empty() {
        m.content = Content::from_parts(texts, false);
    } else if m.tool_calls.is_empty() {
        if m.reasoning.is_none() {
            return Ok(());
        }
        m.content = Content::Text(Text::plain(""));
    }
    out.push(m);
    Ok(())
}

/// A system turn after the start, for servers that take system messages only first: its
/// text joins the user turn before it (or starts one).
fn fold_system<'a>(messages: &mut Vec<Message<'a>>, content: Content<'a>) {
    let text = match content {
        Content::Text(t) => t,
        Content::Parts(p) => match Content::from_parts(p, false) {
            Content::Text(t) => t,
            _ => return,
        },
        Content::Null => return,
    };
    match messages.last_mut() {
        Some(last) if last.role == "user" => {
            let mut parts = match std::mem::replace(&mut last.content, Content::Null) {
                Content::Parts(p) => p,
                Content::Text(t) => vec![Part::Text {
                    text: t,
                    cache_control: None,
                }],
                Content::Null => Vec::new(),
            };
            parts.push(Part::Text {
                text,
                cache_control: None,
            });
            let keep = parts.iter().any(|p| matches!(p, Part::Image(_)));
            last.content = Content::from_parts(parts, keep);
        }
        _ => messages.push(Message::new("user", Content::Text(text))),
    }
}

fn tool<'a>(t: &InTool<'a>, provider: &str) -> chat::Tool<'a> {
    let parameters = match t.input_schema {
        None => Parameters::Empty,
        Some(raw) if provider == "gemini" => match serde_json::from_str(raw.get()) {
            Ok(mut v) => {
                chat::clean_schema(&mut v);
                Parameters::Value(v)
            }
            Err(_) => Parameters::Empty,
        },
        Some(raw) => Parameters::Raw(raw),
    };
    chat::Tool {
        name: t.name.0.clone(),
        description: t
            .description
            .and_then(Text::raw)
            .unwrap_or_else(|| Text::plain("")),
        parameters,
    }
}

/// The reasoning effort Claude Code asks for: `output_config.effort`, else from the
/// thinking budget; None when thinking is off.
fn effort(req: &Request) -> Option<&'static str> {
    let t = req.thinking.as_ref()?;
    if t.kind != "enabled" && t.kind != "adaptive" {
        return None;
    }
    let named = req.output_config.as_ref().and_then(|o| o.effort.as_deref());
    Some(match (named, t.budget_tokens) {
        (Some("low"), _) => "low",
        (Some("medium"), _) => "medium",
        (Some(_), _) => "high",
        (None, Some(b)) if b <= 4_096 => "low",
        (None, Some(b)) if b <= 16_384 => "medium",
        (None, Some(_)) => "high",
        (None, None) => "medium",
    })
}

struct Out<'r, 'a> {
    req: &'r Request<'a>,
    d: &'r Dialect,
    model: &'r str,
    messages: Vec<Message<'a>>,
    tools: Vec<chat::Tool<'a>>,
}

impl serde::Serialize for Out<'_, '_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let (req, d) = (self.req, self.d);
        let mut m = s.serialize_map(None)?;
        m.serialize_entry("model", self.model)?;
        m.serialize_entry("messages", &self.messages)?;
        if !self.tools.is_empty() {
            m.serialize_entry("tools", &self.tools)?;
            if let Some(c) = &req.tool_choice {
                match c.kind.as_str() {
                    "any" => m.serialize_entry("tool_choice", "required")?,
                    "none" => m.serialize_entry("tool_choice", "none")?,
                    "tool" => m.serialize_entry(
                        "tool_choice",
                        &serde_json::json!({"type": "function",
                            "function": {"name": c.name.as_ref().map(Str::as_str)}}),
                    )?,
                    _ => m.serialize_entry("tool_choice", "auto")?,
                }
                if c.disable_parallel_tool_use {
                    m.serialize_entry("parallel_tool_calls", &false)?;
                }
            }
        }
        if let (Some(field), Some(n)) = (d.max_tokens_field, req.max_tokens) {
            m.serialize_entry(field, &d.max_tokens_cap.map_or(n, |cap| n.min(cap)))?;
        }
        if let Some(t) = req.temperature {
            m.serialize_entry("temperature", &t)?;
        }
        if let Some(p) = req.top_p {
            m.serialize_entry("top_p", &p)?;
        }
        if !req.stop_sequences.is_empty() {
            m.serialize_entry("stop", &req.stop_sequences)?;
        }
        let effort = effort(req);
        match (d.effort, effort) {
            (Effort::ReasoningEffort, Some(e)) => m.serialize_entry("reasoning_effort", e)?,
            (Effort::OpenRouter, Some(e)) => {
                let budget = req.thinking.as_ref().and_then(|t| t.budget_tokens);
                let r = match budget {
                    Some(b) => serde_json::json!({"max_tokens": b}),
                    None => serde_json::json!({"effort": e}),
                };
                m.serialize_entry("reasoning", &r)?;
            }
            (Effort::Thinking, e) if req.thinking.is_some() => {
                let kind = if e.is_some() { "enabled" } else { "disabled" };
                m.serialize_entry("thinking", &serde_json::json!({"type": kind}))?;
            }
            (Effort::Split, _) => m.serialize_entry("reasoning_split", &true)?,
            _ => {}
        }
        if req.stream {
            m.serialize_entry("stream", &true)?;
            m.serialize_entry(
                "stream_options",
                &serde_json::json!({"include_usage": true}),
            )?;
        }
        m.end()
    }
}

#[cfg(test)]
#[path = "request_tests.rs"]
mod tests;
