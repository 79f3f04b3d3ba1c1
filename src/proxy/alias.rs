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
///
/// Agents put `model` first, so the object's keys are first read one by one up to it
/// ([`scan`]), without reading the conversation after it; a body where that finds no
/// plain `model` key is parsed whole.
pub fn probe(body: &[u8]) -> Option<Probe> {
    if !body.trim_ascii_start().starts_with(b"{") {
        return None;
    }
    if let Some(p) = scan(body) {
        return Some(p);
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

/// The top-level `model` of a JSON object, read key by key: None when the object ends
/// first, or at anything the scan does not take on (an escaped key, malformed JSON).
fn scan(body: &[u8]) -> Option<Probe> {
    let ws = |mut i: usize| {
        while body.get(i).is_some_and(|b| b.is_ascii_whitespace()) {
            i += 1;
        }
        i
    };
    let mut i = ws(0);
    if body.get(i) != Some(&b'{') {
        return None;
    }
    i += 1;
    loop {
        i = ws(i);
        if body.get(i) != Some(&b'"') {
            return None;
        }
        let start = i + 1;
        let end = start + memchr::memchr2(b'"', b'\\', body.get(start..)?)?;
        if body[end] != b'"' {
            return None;
        }
        let key = &body[start..end];
        i = ws(end + 1);
        if body.get(i) != Some(&b':') {
            return None;
        }
        let value = ws(i + 1);
        let after = skip_value(body, value)?;
        if key == b"model" {
            let raw = &body[value..after];
            return Some(Probe {
                model: serde_json::from_slice::<String>(raw).ok(),
                span: Some((value, after)),
            });
        }
        i = ws(after);
        if body.get(i) != Some(&b',') {
            return None;
        }
        i += 1;
    }
}

/// Where the JSON value at `i` ends (no deeper check than the scan needs).
fn skip_value(body: &[u8], i: usize) -> Option<usize> {
    match *body.get(i)? {
        b'"' => skip_string(body, i),
        b'{' | b'[' => {
            let mut depth = 0usize;
            let mut j = i;
            loop {
                match *body.get(j)? {
                    b'"' => {
                        j = skip_string(body, j)?;
                        continue;
                    }
                    b'{' | b'[' => depth += 1,
                    b'}' | b']' => {
                        depth -= 1;
                        if depth == 0 {
                            return Some(j + 1);
                        }
                    }
                    _ => {}
                }
                j += 1;
            }
        }
        _ => {
            let mut j = i;
            while body
                .get(j)
                .is_some_and(|b| !matches!(b, b',' | b'}' | b']') && !b.is_ascii_whitespace())
            {
                j += 1;
            }
            (j > i).then_some(j)
        }
    }
}

/// The end of the string starting at `i` (its opening quote), past the closing quote.
fn skip_string(body: &[u8], i: usize) -> Option<usize> {
    let mut j = i + 1;
    loop {
        j += memchr::memchr2(b'"', b'\\', body.get(j..)?)?;
        if body[j] == b'"' {
            return Some(j + 1);
        }
        j += 2;
    }
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

    #[test]
    fn the_key_by_key_scan_finds_what_a_whole_parse_finds() {
        let bodies: &[&[u8]] = &[
            br#"{"model":"a","messages":[]}"#,
            br#" { "stream" : true , "max_tokens":5, "model" : "b\"q" }"#,
            br#"{"system":[{"text":"say \"}\" and {[","x":[1,2,{"y":null}]}],"model":"c"}"#,
            br#"{"messages":[],"model":null}"#,
            br#"{"meta":{"model":"inner"},"model":"outer"}"#,
            br#"{"mo\u0064el":"escaped"}"#,
            br#"{"messages":[]}"#,
            br#"{"model":"first","model":"second"}"#,
            br#"{"model":"x","#,
        ];
        for body in bodies {
            let whole = || {
                let fields: Fields = serde_json::from_slice(body).ok()?;
                let raw = fields.model?;
                serde_json::from_str::<String>(raw.get()).ok()
            };
            let got = probe(body).and_then(|p| p.model);
            let text = String::from_utf8_lossy(body);
            match whole() {
                Some(m) => assert_eq!(got.as_deref(), Some(m.as_str()), "{text}"),
                // Where a whole parse fails, the scan may still read a leading model.
                None => assert!(got.is_none() || text.contains(r#""model":"#), "{text}"),
            }
        }
        let body =
            Bytes::from_static(br#"{"stream":true,"model":"a","messages":[{"content":"model"}]}"#);
        assert_eq!(
            &probe(&body).unwrap().with_model(&body, "z")[..],
            &br#"{"stream":true,"model":"z","messages":[{"content":"model"}]}"#[..]
        );
    }
}
