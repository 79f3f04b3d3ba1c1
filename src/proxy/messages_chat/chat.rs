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

/// Text on its way through: the agent's JSON string as it came (escapes and all, written
/// out verbatim: no unescaping of a 50 KB request and escaping it again), several of those
/// joined, or plain text the translation made.
pub enum Text<'a> {
    Raw(&'a RawValue),
    Joined(Box<RawValue>),
    Plain(Cow<'a, str>),
}

impl Serialize for Text<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            Text::Raw(r) => r.serialize(s),
            Text::Joined(r) => r.serialize(s),
            Text::Plain(t) => s.serialize_str(t),
        }
    }
}

impl<'a> Text<'a> {
    /// A JSON string value from the request (None for any other JSON value).
    pub fn raw(v: &'a RawValue) -> Option<Self> {
        v.get().starts_with('"').then_some(Text::Raw(v))
    }

    pub fn plain(t: impl Into<Cow<'a, str>>) -> Self {
        Text::Plain(t.into())
    }

    pub fn is_empty(&self) -> bool {
        match self {
            Text::Raw(r) => r.get() == "\"\"",
            Text::Joined(r) => r.get() == "\"\"",
            Text::Plain(t) => t.is_empty(),
        }
    }

    /// The string's JSON form without its quotes.
    fn escaped(&self) -> Cow<'_, str> {
        let quoted = |r: &'_ RawValue| -> Cow<'_, str> {
            let t = r.get();
            Cow::Owned(t[1..t.len() - 1].to_string())
        };
        match self {
            Text::Raw(r) => {
                let t = r.get();
                Cow::Borrowed(&t[1..t.len() - 1])
            }
            Text::Joined(r) => quoted(r),
            Text::Plain(t) => {
                let json = serde_json::to_string(t.as_ref()).unwrap_or_default();
                Cow::Owned(json[1..json.len() - 1].to_string())
            }
        }
    }

    /// `texts` as one, `sep` between them: escaped forms concatenated, as JSON escapes
    /// stand alone.
    pub fn join(mut texts: Vec<Text<'a>>, sep: &str) -> Text<'a> {
        if texts.len() == 1
            && let Some(one) = texts.pop()
        {
            return one;
        }
        let sep = serde_json::to_string(sep).unwrap_or_default();
        let sep = &sep[1..sep.len() - 1];
        let mut out = String::from("\"");
        for (i, t) in texts.iter().enumerate() {
            if i > 0 {
                out.push_str(sep);
            }
            out.push_str(&t.escaped());
        }
        out.push('"');
        match RawValue::from_string(out) {
            Ok(r) => Text::Joined(r),
            Err(_) => Text::plain(String::new()),
        }
    }
}

/// One content part of a user or system message.
pub enum Part<'a> {
    Text {
        text: Text<'a>,
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
    Text(Text<'a>),
    Parts(Vec<Part<'a>>),
}

impl Serialize for Content<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            Content::Null => s.serialize_none(),
            Content::Text(t) => t.serialize(s),
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
        let texts: Vec<Text> = parts
            .drain(..)
            .filter_map(|p| match p {
                Part::Text { text, .. } => Some(text),
                Part::Image(_) => None,
            })
            .collect();
        Content::Text(Text::join(texts, "\n\n"))
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
    pub description: Text<'a>,
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
    fn texts_pass_as_they_came_and_join_as_json() {
        let a: &RawValue = serde_json::from_str(r#""say \"hi\"\n\u00e9\\""#).unwrap();
        let b: &RawValue = serde_json::from_str(r#""second""#).unwrap();
        let one = serde_json::to_string(&Text::raw(a).unwrap()).unwrap();
        assert_eq!(one, a.get(), "written verbatim");
        let joined = Text::join(
            vec![
                Text::raw(a).unwrap(),
                Text::plain("tab\there"),
                Text::raw(b).unwrap(),
            ],
            "\n\n",
        );
        let back: String = serde_json::from_str(&serde_json::to_string(&joined).unwrap()).unwrap();
        assert_eq!(back, "say \"hi\"\n\u{e9}\\\n\ntab\there\n\nsecond");
        assert!(Text::raw(serde_json::from_str("5").unwrap()).is_none());
        assert!(
            Text::raw(serde_json::from_str(r#""""#).unwrap())
                .unwrap()
                .is_empty()
        );
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
