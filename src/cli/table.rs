//! Plain aligned tables for terminal output.

use serde_json::Value;

/// Renders `rows` under `headers`, each column as wide as its widest cell.
pub fn render(headers: &[&str], rows: &[Vec<String>]) -> String {
    let mut widths: Vec<usize> = headers.iter().map(|h| h.chars().count()).collect();
    for row in rows {
        for (i, cell) in row.iter().enumerate() {
            if let Some(w) = widths.get_mut(i) {
                *w = (*w).max(cell.chars().count());
            }
        }
    }
    let line = |cells: Vec<String>| {
        let padded: Vec<String> = cells
            .iter()
            .enumerate()
            .map(|(i, c)| format!("{c:<width$}", width = widths.get(i).copied().unwrap_or(0)))
            .collect();
        padded.join("  ").trim_end().to_string()
    };
    let mut out = vec![line(headers.iter().map(|h| h.to_uppercase()).collect())];
    out.extend(rows.iter().map(|r| line(r.clone())));
    out.join("\n")
}

/// A JSON value as a table cell: strings bare, null as "-".
pub fn cell(v: &Value) -> String {
    match v {
        Value::Null => "-".into(),
        Value::String(s) => s.clone(),
        Value::Bool(b) => if *b { "yes" } else { "no" }.into(),
        other => other.to_string(),
    }
}

pub fn print_json(v: &Value) -> anyhow::Result<()> {
    println!("{}", serde_json::to_string_pretty(v)?);
    Ok(())
}

/// `key: value` lines for a detail view.
pub fn print_fields(v: &Value, keys: &[&str]) {
    let width = keys.iter().map(|k| k.len()).max().unwrap_or(0);
    for k in keys {
        let value = match &v[*k] {
            Value::Array(items) => items.iter().map(cell).collect::<Vec<_>>().join(", "),
            Value::Object(map) => map
                .iter()
                .map(|(k, v)| format!("{k}={}", cell(v)))
                .collect::<Vec<_>>()
                .join(", "),
            other => cell(other),
        };
        println!("{k:<width$}  {value}");
    }
}
