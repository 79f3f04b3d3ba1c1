//! Thinking blocks made from a provider's reasoning, and back.
//!
//! An Anthropic thinking block carries a `signature` the client keeps and sends back
//! verbatim with the block on the next request. The translation puts there what it needs
//! to hand the reasoning back the way the provider gave it: `clown:` and a small JSON
//! object, `{"f": field}` — the field the reasoning came in (`reasoning_content` or
//! `reasoning`) — plus `"d"`, the provider's `reasoning_details` items when it sent any
//! (OpenRouter and MiniMax put encrypted reasoning and signatures there). A thinking block
//! without such a signature (Anthropic's own, from an earlier target) is not sent to a
//! Chat Completions provider: it never produced it.

use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;

const PREFIX: &str = "clown:";

/// What a signature holds.
#[derive(Debug, Default, Serialize, Deserialize)]
pub struct Carried {
    #[serde(rename = "f")]
    pub field: String,
    #[serde(rename = "d", default, skip_serializing_if = "Vec::is_empty")]
    pub details: Vec<Box<RawValue>>,
}

/// The signature for reasoning that came in `field`, with the provider's details.
pub fn sign(field: &str, details: &[serde_json::Value]) -> String {
    #[derive(Serialize)]
    struct Out<'a> {
        f: &'a str,
        #[serde(skip_serializing_if = "<[_]>::is_empty")]
        d: &'a [serde_json::Value],
    }
    let json = serde_json::to_string(&Out {
        f: field,
        d: details,
    })
    .unwrap_or_default();
    format!("{PREFIX}{json}")
}

/// What a signature made by [`sign`] carries; None for any other signature.
pub fn read(signature: &str) -> Option<Carried> {
    let json = signature.strip_prefix(PREFIX)?;
    let c: Carried = serde_json::from_str(json).ok()?;
    matches!(c.field.as_str(), "reasoning_content" | "reasoning").then_some(c)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signatures_round_trip_and_others_are_not_ours() {
        let d = vec![serde_json::json!({"type": "reasoning.encrypted", "data": "xyz"})];
        let s = sign("reasoning", &d);
        let c = read(&s).unwrap();
        assert_eq!(c.field, "reasoning");
        assert_eq!(
            c.details[0].get(),
            r#"{"type":"reasoning.encrypted","data":"xyz"}"#
        );
        assert_eq!(
            read(&sign("reasoning_content", &[])).unwrap().details.len(),
            0
        );
        assert!(read("EqQBCkYIBxgCKkA...").is_none());
        assert!(
            read(r#"clown:{"f":"content"}"#).is_none(),
            "only reasoning fields"
        );
    }
}
