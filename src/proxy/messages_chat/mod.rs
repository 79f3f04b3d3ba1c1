//! Anthropic Messages over Chat Completions.
//!
//! Claude Code speaks only Anthropic's Messages API (`POST /v1/messages`); OpenAI and
//! the OpenAI-compatible providers (Gemini's compatibility endpoint, xAI, OpenRouter,
//! DeepSeek, local servers) serve Chat Completions. For a target marked
//! `messages_via_chat`, the proxy turns the request into `POST /v1/chat/completions`
//! ([`request`]) and the answer back into what the Messages API would have sent: the event
//! stream, translated chunk by chunk as it arrives ([`Stream`]), one message object
//! ([`whole`]), or, for an error status, an Anthropic error carrying the provider's message
//! ([`error`]). `count_tokens` is answered by the proxy itself ([`count_tokens`]): Chat
//! Completions has no such call.
//!
//! What maps is listed in [`request`] and [`Stream`]; what differs between providers
//! (the output limit's field, how reasoning is asked for, `cache_control`, which reasoning
//! goes back) in [`dialect`]; how reasoning survives the next turn in [`thinking`].
//! Usage comes back in Anthropic's shape (cached prompt tokens as
//! `cache_read_input_tokens`, the rest as `input_tokens`), so the usage tap reads the
//! translated answer like any Anthropic one.

mod chat;
pub mod dialect;
pub mod error;
mod input;
mod request;
mod stream;
pub mod thinking;
pub mod whole;
mod wire;

pub use request::{Translated, request};
pub use stream::Stream;

/// An estimate of a Messages request's input tokens (a character count over four, of
/// every string in it but images), answered for `POST /v1/messages/count_tokens`.
pub fn count_tokens(body: &[u8]) -> Result<u64, String> {
    fn chars(v: &serde_json::Value) -> usize {
        match v {
            serde_json::Value::String(s) => s.chars().count(),
            serde_json::Value::Array(a) => a.iter().map(chars).sum(),
            serde_json::Value::Object(o) => o
                .iter()
                .filter(|(k, _)| k.as_str() != "source" && k.as_str() != "model")
                .map(|(k, v)| k.len() + chars(v))
                .sum(),
            _ => 1,
        }
    }
    let v: serde_json::Value =
        serde_json::from_slice(body).map_err(|e| format!("the request is not JSON: {e}"))?;
    let n = ["system", "messages", "tools"]
        .iter()
        .map(|k| v.get(*k).map_or(0, chars))
        .sum::<usize>();
    Ok(n.div_ceil(4) as u64)
}

#[cfg(test)]
mod tests {
    #[test]
    fn count_tokens_estimates() {
        let n = super::count_tokens(
            br#"{"model":"m","messages":[{"role":"user","content":"abcdefgh"}]}"#,
        )
        .unwrap();
        assert_eq!(n, (4 + 4 + 7 + 8usize).div_ceil(4) as u64);
        assert!(super::count_tokens(b"{").is_err());
    }
}
