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

/// The cells of `item` for `keys`.
pub fn fields(item: &Value, keys: &[&str]) -> Vec<String> {
    keys.iter().map(|k| cell(&item[*k])).collect()
}

/// A list as asked for: the JSON as it came (`json`), else a table of `row(item)` under
/// `headings`, or the `empty` hint when there is nothing to show.
pub fn print_list(
    data: &Value,
    json: bool,
    headings: &[&str],
    row: impl Fn(&Value) -> Vec<String>,
    empty: &str,
) -> anyhow::Result<()> {
    if json {
        return print_json(data);
    }
    let items = data.as_array().map(Vec::as_slice).unwrap_or_default();
    if items.is_empty() && !empty.is_empty() {
        println!("{empty}");
    } else {
        let rows: Vec<Vec<String>> = items.iter().map(row).collect();
        println!("{}", render(headings, &rows));
    }
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

/// A JSON count as a number (0 when absent).
pub fn n(v: &Value) -> u64 {
    v.as_u64().unwrap_or(0)
}

/// 1234567 → "1,234,567".
pub fn thousands(x: u64) -> String {
    let s = x.to_string();
    let mut out = String::new();
    for (i, c) in s.chars().enumerate() {
        if i > 0 && (s.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// A cost in dollars: whole cents, or four places under a cent.
pub fn usd(v: &Value) -> String {
    let x = v.as_f64().unwrap_or(0.0);
    if x == 0.0 {
        "$0".into()
    } else if x < 0.01 {
        format!("${x:.4}")
    } else {
        format!("${x:.2}")
    }
}
