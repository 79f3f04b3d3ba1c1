//! The Chat Completions request as written upstream: messages, content parts and tool
//! calls borrowing from the agent's request body where they can, serialized directly
//! (no intermediate JSON tree; tool schemas and call inputs pass as raw JSON).

use std::borrow::Cow;

use serde::de::{Deserializer, Visitor};
use serde::ser::{SerializeMap, Serializer};
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;

/// A string borrowed from the request body when it has no escapes, else unescaped.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Str<'a>(pub Cow<'a, str>);

impl<'de: 'a, 'a> Deserialize<'de> for Str<'a> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Cow<'de, str>;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a string")
            }
            fn visit_borrowed_str<E>(self, v: &'de str) -> Result<Self::Value, E> {
                Ok(Cow::Borrowed(v))
            }
            fn visit_str<E>(self, v: &str) -> Result<Self::Value, E> {
                Ok(Cow::Owned(v.to_owned()))
            }
            fn visit_string<E>(self, v: String) -> Result<Self::Value, E> {
                Ok(Cow::Owned(v))
            }
        }
        d.deserialize_str(V).map(Str)
    }
}

impl Serialize for Str<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.0)
    }
}

impl Str<'_> {
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// One content part of a user or system message.
pub enum Part<'a> {
    Text {
        text: Cow<'a, str>,
        cache_control: Option<&'a RawValue>,
    },
    Image(String),
}

impl Serialize for Part<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut m = s.serialize_map(None)?;
        match self {
            Part::Text {
                text,
                cache_control,
            } => {
                m.serialize_entry("type", "text")?;
                m.serialize_entry("text", text)?;
                if let Some(c) = cache_control {
                    m.serialize_entry("cache_control", c)?;
                }
            }
            Part::Image(url) => {
                #[derive(Serialize)]
                struct Url<'u> {
                    url: &'u str,
                }
                m.serialize_entry("type", "image_url")?;
                m.serialize_entry("image_url", &Url { url })?;
            }
        }
        m.end()
    }
}

pub enum Content<'a> {
    Null,
    Text(Cow<'a, str>),
    Parts(Vec<Part<'a>>),
}

impl Serialize for Content<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            Content::Null => s.serialize_none(),
            Content::Text(t) => s.serialize_str(t),
            Content::Parts(p) => p.serialize(s),
        }
    }
}

impl<'a> Content<'a> {
    /// Parts as one string when nothing needs the parts' shape (most providers take
    /// only strings in system and assistant messages), else the parts.
    pub fn from_parts(mut parts: Vec<Part<'a>>, keep_parts: bool) -> Self {
        let plain = parts.iter().all(|p| {
            matches!(
                p,
                Part::Text {
                    cache_control: None,
                    ..
                }
            )
        });
        if !plain || keep_parts {
            return Content::Parts(parts);
        }
        if parts.len() == 1
            && let Some(Part::Text { text, .. }) = parts.pop()
        {
            return Content::Text(text);
        }
        let mut out = String::new();
        for p in &parts {
            if let Part::Text { text, .. } = p {
                if !out.is_empty() {
                    out.push_str("\n\n");
                }
                out.push_str(text);
            }
        }
        Content::Text(Cow::Owned(out))
    }

    pub fn is_empty(&self) -> bool {
        match self {
            Content::Null => true,
            Content::Text(t) => t.is_empty(),
            Content::Parts(p) => p.is_empty(),
        }
    }
}

pub struct Call<'a> {
    pub id: Cow<'a, str>,
    pub name: Cow<'a, str>,
    /// The call's input as JSON text: the arguments string.
    pub arguments: &'a str,
}

impl Serialize for Call<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        #[derive(Serialize)]
        struct Function<'f> {
            name: &'f str,
            arguments: &'f str,
        }
        let mut m = s.serialize_map(Some(3))?;
        m.serialize_entry("id", &self.id)?;
        m.serialize_entry("type", "function")?;
        m.serialize_entry(
            "function",
            &Function {
                name: &self.name,
                arguments: self.arguments,
            },
        )?;
        m.end()
    }
}

pub struct Message<'a> {
    pub role: &'static str,
    pub content: Content<'a>,
    pub tool_calls: Vec<Call<'a>>,
    pub tool_call_id: Option<Cow<'a, str>>,
    /// Earlier reasoning: the field it goes back in, and its text.
    pub reasoning: Option<(String, String)>,
    pub reasoning_details: Vec<Box<RawValue>>,
}

impl<'a> Message<'a> {
    pub fn new(role: &'static str, content: Content<'a>) -> Self {
        Self {
            role,
            content,
            tool_calls: Vec::new(),
            tool_call_id: None,
            reasoning: None,
            reasoning_details: Vec::new(),
        }
    }
}

impl Serialize for Message<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut m = s.serialize_map(None)?;
        m.serialize_entry("role", self.role)?;
        m.serialize_entry("content", &self.content)?;
        if !self.tool_calls.is_empty() {
            m.serialize_entry("tool_calls", &self.tool_calls)?;
        }
        if let Some(id) = &self.tool_call_id {
            m.serialize_entry("tool_call_id", id)?;
        }
        if let Some((field, text)) = &self.reasoning {
            m.serialize_entry(field, text)?;
        }
        if !self.reasoning_details.is_empty() {
            m.serialize_entry("reasoning_details", &self.reasoning_details)?;
        }
        m.end()
    }
}

pub struct Tool<'a> {
    pub name: Cow<'a, str>,
    pub description: Cow<'a, str>,
    pub parameters: Parameters<'a>,
}

pub enum Parameters<'a> {
    Raw(&'a RawValue),
    Value(serde_json::Value),
    Empty,
}

impl Serialize for Tool<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        struct Function<'f, 'a>(&'f Tool<'a>);
        impl Serialize for Function<'_, '_> {
            fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                let t = self.0;
                let mut m = s.serialize_map(Some(3))?;
                m.serialize_entry("name", &t.name)?;
                m.serialize_entry("description", &t.description)?;
                match &t.parameters {
                    Parameters::Raw(r) => m.serialize_entry("parameters", r)?,
                    Parameters::Value(v) => m.serialize_entry("parameters", v)?,
                    Parameters::Empty => m.serialize_entry(
                        "parameters",
                        &serde_json::json!({"type": "object", "properties": {}}),
                    )?,
                }
                m.end()
            }
        }
        let mut m = s.serialize_map(Some(2))?;
        m.serialize_entry("type", "function")?;
        m.serialize_entry("function", &Function(self))?;
        m.end()
    }
}

/// Keys of a JSON schema Gemini's function declarations know; every other key is taken
/// out (Gemini refuses `$schema`, `additionalProperties`, `propertyNames`…).
const GEMINI_SCHEMA_KEYS: &[&str] = &[
    "type",
    "format",
    "title",
    "description",
    "nullable",
    "enum",
    "maxItems",
    "minItems",
    "properties",
    "required",
    "minProperties",
    "maxProperties",
    "minLength",
    "maxLength",
    "pattern",
    "example",
    "anyOf",
    "propertyOrdering",
    "default",
    "items",
    "minimum",
    "maximum",
];

/// A tool schema reduced to what Gemini accepts.
pub fn clean_schema(v: &mut serde_json::Value) {
    let Some(o) = v.as_object_mut() else {
        return;
    };
    o.retain(|k, _| GEMINI_SCHEMA_KEYS.contains(&k.as_str()));
    if let Some(props) = o.get_mut("properties").and_then(|p| p.as_object_mut()) {
        props.values_mut().for_each(clean_schema);
    }
    if let Some(items) = o.get_mut("items") {
        clean_schema(items);
    }
    if let Some(any) = o.get_mut("anyOf").and_then(|a| a.as_array_mut()) {
        any.iter_mut().for_each(clean_schema);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn strings_borrow_unless_escaped() {
        let s: Str = serde_json::from_str(r#""plain""#).unwrap();
        assert!(matches!(s.0, Cow::Borrowed("plain")));
        let s: Str = serde_json::from_str(r#""a\nb""#).unwrap();
        assert_eq!(s.as_str(), "a\nb");
    }

    #[test]
    fn gemini_schemas_lose_unknown_keys() {
        let mut v = json!({"$schema": "x", "type": "object", "additionalProperties": false,
            "properties": {"a": {"type": "array", "items": {"type": "string", "propertyNames": {}}}}});
        clean_schema(&mut v);
        assert_eq!(
            v,
            json!({"type": "object", "properties": {"a": {"type": "array", "items": {"type": "string"}}}})
        );
    }
}
