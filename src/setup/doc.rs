//! Entries by key in a parsed file: a JSON object, a TOML document (edited in place with
//! toml_edit, so the agent's comments and layout stay), read and written as JSON values.

use serde_json::{Map, Value};
use toml_edit::{DocumentMut, Item, Table, TableLike};

/// Reading and editing entries by key in a parsed file.
pub trait Doc {
    fn get(&self, key: &[String]) -> Option<Value>;
    fn set(&mut self, key: &[String], value: &Value);
    fn remove(&mut self, key: &[String]);
    fn children(&self, key: &[String]) -> Vec<String>;
}

fn json_set(v: &mut Value, key: &[String], value: &Value) {
    let Some((k, rest)) = key.split_first() else {
        *v = value.clone();
        return;
    };
    if !v.is_object() {
        *v = Value::Object(Map::new());
    }
    if let Value::Object(m) = v {
        json_set(m.entry(k.clone()).or_insert(Value::Null), rest, value);
    }
}

impl Doc for Value {
    fn get(&self, key: &[String]) -> Option<Value> {
        key.iter().try_fold(self, |v, k| v.get(k)).cloned()
    }

    fn set(&mut self, key: &[String], value: &Value) {
        json_set(self, key, value);
    }

    fn remove(&mut self, key: &[String]) {
        let Some((last, parents)) = key.split_last() else {
            return;
        };
        let mut cur = self;
        for k in parents {
            match cur.get_mut(k) {
                Some(next) => cur = next,
                None => return,
            }
        }
        if let Some(m) = cur.as_object_mut() {
            m.remove(last);
        }
    }

    fn children(&self, key: &[String]) -> Vec<String> {
        Doc::get(self, key)
            .and_then(|v| v.as_object().map(|m| m.keys().cloned().collect()))
            .unwrap_or_default()
    }
}

/// A TOML value as JSON (dates as their text).
fn toml_value(v: &toml_edit::Value) -> Value {
    use toml_edit::Value as T;
    match v {
        T::String(s) => Value::String(s.value().clone()),
        T::Integer(i) => Value::from(*i.value()),
        T::Float(f) => serde_json::Number::from_f64(*f.value()).map_or(Value::Null, Value::Number),
        T::Boolean(b) => Value::Bool(*b.value()),
        T::Datetime(d) => Value::String(d.value().to_string()),
        T::Array(a) => Value::Array(a.iter().map(toml_value).collect()),
        T::InlineTable(t) => Value::Object(
            t.iter()
                .map(|(k, v)| (k.to_string(), toml_value(v)))
                .collect(),
        ),
    }
}

fn toml_item(item: &Item) -> Option<Value> {
    match item {
        Item::None => None,
        Item::Value(v) => Some(toml_value(v)),
        Item::Table(t) => Some(toml_table(t)),
        Item::ArrayOfTables(a) => Some(Value::Array(a.iter().map(toml_table).collect())),
    }
}

fn toml_table(t: &Table) -> Value {
    Value::Object(
        t.iter()
            .filter_map(|(k, v)| Some((k.to_string(), toml_item(v)?)))
            .collect(),
    )
}

/// JSON as a TOML value (objects inside arrays become inline tables).
fn to_toml_value(v: &Value) -> toml_edit::Value {
    match v {
        Value::String(s) => s.as_str().into(),
        Value::Bool(b) => (*b).into(),
        Value::Number(n) => match n.as_i64() {
            Some(i) => i.into(),
            None => n.as_f64().unwrap_or_default().into(),
        },
        Value::Array(a) => toml_edit::Value::Array(a.iter().map(to_toml_value).collect()),
        Value::Object(m) => {
            let mut t = toml_edit::InlineTable::new();
            for (k, v) in m {
                t.insert(k, to_toml_value(v));
            }
            toml_edit::Value::InlineTable(t)
        }
        Value::Null => "".into(),
    }
}

/// JSON as a TOML item: objects become tables (`[a.b]`), as the agents write them.
fn to_toml_item(v: &Value) -> Item {
    match v {
        Value::Object(m) => {
            let mut t = Table::new();
            for (k, v) in m {
                t.insert(k, to_toml_item(v));
            }
            Item::Table(t)
        }
        other => Item::Value(to_toml_value(other)),
    }
}

fn toml_walk<'a>(t: &'a dyn TableLike, key: &[String]) -> Option<&'a Item> {
    let (first, rest) = key.split_first()?;
    let item = t.get(first)?;
    if rest.is_empty() {
        Some(item)
    } else {
        toml_walk(item.as_table_like()?, rest)
    }
}

fn toml_set(t: &mut dyn TableLike, key: &[String], value: Item) {
    let Some((first, rest)) = key.split_first() else {
        return;
    };
    if rest.is_empty() {
        t.insert(first, value);
        return;
    }
    if t.get(first).and_then(Item::as_table_like).is_none() {
        let mut fresh = Table::new();
        fresh.set_implicit(true);
        t.insert(first, Item::Table(fresh));
    }
    if let Some(child) = t.get_mut(first).and_then(Item::as_table_like_mut) {
        toml_set(child, rest, value);
    }
}

impl Doc for DocumentMut {
    fn get(&self, key: &[String]) -> Option<Value> {
        toml_walk(self.as_table(), key).and_then(toml_item)
    }

    fn set(&mut self, key: &[String], value: &Value) {
        toml_set(self.as_table_mut(), key, to_toml_item(value));
    }

    fn remove(&mut self, key: &[String]) {
        let Some((last, parents)) = key.split_last() else {
            return;
        };
        let mut cur: &mut dyn TableLike = self.as_table_mut();
        for k in parents {
            match cur.get_mut(k).and_then(Item::as_table_like_mut) {
                Some(next) => cur = next,
                None => return,
            }
        }
        cur.remove(last);
    }

    fn children(&self, key: &[String]) -> Vec<String> {
        toml_walk(self.as_table(), key)
            .and_then(Item::as_table_like)
            .map(|t| t.iter().map(|(k, _)| k.to_string()).collect())
            .unwrap_or_default()
    }
}
