//! What differs between Chat Completions providers, decided per catalogue provider id
//! (and model, where the provider's models differ). Anything not listed here gets the
//! plain OpenAI shape with nothing optional sent.
//!
//! | provider | output limit field | thinking request | `cache_control` | reasoning sent back |
//! | --- | --- | --- | --- | --- |
//! | `openai` | `max_completion_tokens` | `reasoning_effort` (gpt-5, o-series) | dropped | yes (OpenAI returns none) |
//! | `gemini` | `max_tokens` | `reasoning_effort` | dropped | yes |
//! | `openrouter-openai` | `max_tokens` | `reasoning: {effort \| max_tokens}` | kept on text parts | yes, with `reasoning_details` |
//! | `deepseek-openai` | `max_tokens`, capped at 8,192 (`deepseek-reasoner`: 65,536) | none (the model decides) | dropped | yes |
//! | `zai-openai`, `zhipu-openai` | `max_tokens` | `thinking: {type}` | dropped | yes |
//! | `minimax-openai` | `max_tokens` | `reasoning_split: true` | dropped | yes, with `reasoning_details` |
//! | `xai` | `max_tokens` | none (grok-4 refuses `reasoning_effort`) | dropped | no |
//! | `vllm` | not sent (vLLM refuses a limit past the context) | none | dropped | yes |
//! | `ollama`, `lmstudio`, `llamacpp` | `max_tokens` | none | dropped | yes |
//!
//! Local servers (the last two rows) also get system messages only at the start: a
//! mid-conversation system turn is folded into the user message before it, since many
//! open models' chat templates refuse a system message anywhere else.
//!
//! Reasoning comes back under whatever field the provider used (`reasoning_content`:
//! DeepSeek, Moonshot, Z.ai, llama.cpp, LM Studio; `reasoning`: OpenRouter, Ollama,
//! vLLM; `reasoning_details`: OpenRouter, MiniMax), and is sent back under that same
//! field, which is therefore decided by the provider itself: the thinking block's
//! signature names it (see `super::thinking`).

/// How the request asks for reasoning.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Effort {
    /// Nothing is sent.
    None,
    /// `reasoning_effort: low | medium | high`.
    ReasoningEffort,
    /// OpenRouter's `reasoning: {effort}` or `reasoning: {max_tokens}`.
    OpenRouter,
    /// Z.ai's `thinking: {type: enabled | disabled}`.
    Thinking,
    /// MiniMax's `reasoning_split: true` (reasoning apart from the text).
    Split,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Dialect {
    /// The request field for the output limit; None leaves the limit to the server.
    pub max_tokens_field: Option<&'static str>,
    /// The provider's largest output limit for the model: a larger request is lowered.
    pub max_tokens_cap: Option<u64>,
    pub effort: Effort,
    /// Send `cache_control` on text parts (OpenRouter passes it to Anthropic and Gemini).
    pub cache_control: bool,
    /// Send earlier reasoning back on the assistant messages.
    pub send_back_reasoning: bool,
    /// System messages only at the start (local servers' chat templates).
    pub system_first_only: bool,
}

const PLAIN: Dialect = Dialect {
    max_tokens_field: Some("max_tokens"),
    max_tokens_cap: None,
    effort: Effort::None,
    cache_control: false,
    send_back_reasoning: true,
    system_first_only: false,
};

impl Dialect {
    pub fn of(provider: &str, model: &str) -> Self {
        match provider {
            "openai" => Self {
                max_tokens_field: Some("max_completion_tokens"),
                effort: if reasoning_model(model) {
                    Effort::ReasoningEffort
                } else {
                    Effort::None
                },
                ..PLAIN
            },
            "gemini" => Self {
                effort: Effort::ReasoningEffort,
                ..PLAIN
            },
            "openrouter-openai" => Self {
                effort: Effort::OpenRouter,
                cache_control: true,
                ..PLAIN
            },
            "deepseek-openai" => Self {
                max_tokens_cap: Some(if model.contains("reasoner") {
                    65_536
                } else {
                    8_192
                }),
                ..PLAIN
            },
            "zai-openai" | "zhipu-openai" => Self {
                effort: Effort::Thinking,
                ..PLAIN
            },
            "minimax-openai" => Self {
                effort: Effort::Split,
                ..PLAIN
            },
            "xai" => Self {
                send_back_reasoning: false,
                ..PLAIN
            },
            "vllm" => Self {
                max_tokens_field: None,
                system_first_only: true,
                ..PLAIN
            },
            "ollama" | "lmstudio" | "llamacpp" => Self {
                system_first_only: true,
                ..PLAIN
            },
            _ => PLAIN,
        }
    }
}

/// OpenAI's models that take `reasoning_effort` (others refuse it).
fn reasoning_model(model: &str) -> bool {
    let m = model.rsplit('/').next().unwrap_or(model);
    m.starts_with("gpt-5")
        || (m.starts_with('o') && m[1..].starts_with(|c: char| c.is_ascii_digit()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dialects() {
        assert_eq!(
            Dialect::of("openai", "gpt-5.2").effort,
            Effort::ReasoningEffort
        );
        assert_eq!(
            Dialect::of("openai", "o4-mini").effort,
            Effort::ReasoningEffort
        );
        assert_eq!(Dialect::of("openai", "gpt-4.1").effort, Effort::None);
        assert_eq!(
            Dialect::of("openai", "gpt-4.1").max_tokens_field,
            Some("max_completion_tokens")
        );
        assert_eq!(
            Dialect::of("deepseek-openai", "deepseek-chat").max_tokens_cap,
            Some(8192)
        );
        assert_eq!(Dialect::of("vllm", "x").max_tokens_field, None);
        assert_eq!(Dialect::of("my-own-gateway", "x"), PLAIN);
    }
}
