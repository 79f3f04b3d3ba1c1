//! The requested model of a JSON request body, and the body with another model in its
//! place. Only the `model` value's bytes change; everything else stays byte for byte.

use hyper::body::Bytes;
use serde::Deserialize;
use serde_json::value::RawValue;

#[derive(Deserialize)]
struct Fields<'a> {
    #[serde(borrow, default)]
    model: Option<&'a RawValue>,
}

/// Where the `model` value sits in a body, and what it says.
#[derive(Debug, Clone, PartialEq)]
pub struct Probe {
    pub model: Option<String>,
    span: Option<(usize, usize)>,
}

/// Probes a body; None when it is not a JSON object.
pub fn probe(body: &[u8]) -> Option<Probe> {
    if !body.trim_ascii_start().starts_with(b"{") {
        return None;
    }
    let fields: Fields = serde_json::from_slice(body).ok()?;
    let Some(raw) = fields.model else {
        return Some(Probe {
            model: None,
            span: None,
        });
    };
    let text = raw.get();
    let start = text.as_ptr() as usize - body.as_ptr() as usize;
    Some(Probe {
        model: serde_json::from_str::<String>(text).ok(),
        span: Some((start, start + text.len())),
    })
}

impl Probe {
    /// `body` with `model` in place of the requested one (unchanged if it names none).
    pub fn with_model(&self, body: &Bytes, model: &str) -> Bytes {
        let Some((start, end)) = self.span else {
            return body.clone();
        };
        if self.model.as_deref() == Some(model) {
            return body.clone();
        }
        let value = serde_json::Value::from(model).to_string();
        let mut out = Vec::with_capacity(body.len() + value.len());
        out.extend_from_slice(&body[..start]);
        out.extend_from_slice(value.as_bytes());
        out.extend_from_slice(&body[end..]);
        Bytes::from(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rewrites_only_the_model_value() {
        let body = Bytes::from_static(
            br#"{"max_tokens": 5,  "model" :"claude-opus-4","messages":[{"content":"model"}]}"#,
        );
        let p = probe(&body).unwrap();
        assert_eq!(p.model.as_deref(), Some("claude-opus-4"));
        assert_eq!(
            &p.with_model(&body, "glm-4.6")[..],
            &br#"{"max_tokens": 5,  "model" :"glm-4.6","messages":[{"content":"model"}]}"#[..]
        );
        assert!(probe(b"not json").is_none());
        assert_eq!(probe(br#"{"x":1}"#).unwrap().model, None);
    }
}
