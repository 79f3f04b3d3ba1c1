//! The exposition formats: Prometheus text 0.0.4, and OpenMetrics 1.0 when the scraper's
//! `Accept` asks for it (Prometheus itself does). They differ in three places: a
//! counter's `# TYPE` line names the family without `_total` in OpenMetrics, the body
//! ends with `# EOF`, and the content type.
//!
//! A family is written whole before the next (OpenMetrics forbids interleaving). Label
//! values are escaped here; hot loops pass an already escaped label set
//! ([`Writer::sample_raw`]) so a scrape of thousands of series copies bytes instead of
//! formatting them.

use std::io::Write;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Text,
    OpenMetrics,
}

impl Format {
    /// OpenMetrics when `Accept` lists `application/openmetrics-text` with a non-zero q.
    pub fn from_accept(accept: Option<&str>) -> Self {
        let wants = accept.is_some_and(|a| {
            a.split(',').any(|range| {
                let mut parts = range.split(';').map(str::trim);
                parts
                    .next()
                    .is_some_and(|m| m.eq_ignore_ascii_case("application/openmetrics-text"))
                    && !parts.any(|p| {
                        p.strip_prefix("q=")
                            .and_then(|q| q.parse::<f32>().ok())
                            .is_some_and(|q| q <= 0.0)
                    })
            })
        });
        if wants { Self::OpenMetrics } else { Self::Text }
    }

    pub fn content_type(self) -> &'static str {
        match self {
            Self::Text => "text/plain; version=0.0.4; charset=utf-8",
            Self::OpenMetrics => "application/openmetrics-text; version=1.0.0; charset=utf-8",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Counter,
    Gauge,
    Histogram,
}

pub struct Writer {
    out: Vec<u8>,
    format: Format,
}

/// Appends `value` escaped as a label value.
pub fn escape_into(out: &mut String, value: &str) {
    for c in value.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            '\n' => out.push_str("\\n"),
            c => out.push(c),
        }
    }
}

/// `name="value",…` with escaped values.
pub fn labels(pairs: &[(&str, &str)]) -> String {
    let mut s = String::new();
    for (i, (k, v)) in pairs.iter().enumerate() {
        if i > 0 {
            s.push(',');
        }
        s.push_str(k);
        s.push_str("=\"");
        escape_into(&mut s, v);
        s.push('"');
    }
    s
}

/// A sample value.
pub trait Value {
    fn write(&self, out: &mut Vec<u8>);
}

impl Value for u64 {
    fn write(&self, out: &mut Vec<u8>) {
        let _ = write!(out, "{self}");
    }
}

impl Value for f64 {
    fn write(&self, out: &mut Vec<u8>) {
        if self.is_nan() {
            out.extend_from_slice(b"NaN");
        } else if self.is_infinite() {
            out.extend_from_slice(if *self > 0.0 { b"+Inf" } else { b"-Inf" });
        } else {
            let _ = write!(out, "{self}");
        }
    }
}

impl Writer {
    pub fn new(format: Format, capacity: usize) -> Self {
        Self {
            out: Vec::with_capacity(capacity),
            format,
        }
    }

    pub fn format(&self) -> Format {
        self.format
    }

    /// Starts a family. `name` is the family's name: for a counter without `_total`
    /// (its samples are written as `<name>_total`).
    pub fn family(&mut self, name: &str, kind: Kind, help: &str) {
        let type_name = match (kind, self.format) {
            (Kind::Counter, Format::Text) => format!("{name}_total"),
            _ => name.to_string(),
        };
        let help = help.replace('\\', "\\\\").replace('\n', "\\n");
        let kind = match kind {
            Kind::Counter => "counter",
            Kind::Gauge => "gauge",
            Kind::Histogram => "histogram",
        };
        let _ = writeln!(self.out, "# HELP {type_name} {help}");
        let _ = writeln!(self.out, "# TYPE {type_name} {kind}");
    }

    /// One sample: `name{labels} value`.
    pub fn sample(&mut self, name: &str, pairs: &[(&str, &str)], value: impl Value) {
        let l = labels(pairs);
        self.sample_raw(name, &l, "", value);
    }

    /// One sample from an escaped label set plus an escaped suffix (`,kind="input"`).
    pub fn sample_raw(&mut self, name: &str, labels: &str, extra: &str, value: impl Value) {
        self.out.extend_from_slice(name.as_bytes());
        if !labels.is_empty() || !extra.is_empty() {
            self.out.push(b'{');
            self.out.extend_from_slice(labels.as_bytes());
            let extra = if labels.is_empty() {
                extra.trim_start_matches(',')
            } else {
                extra
            };
            self.out.extend_from_slice(extra.as_bytes());
            self.out.push(b'}');
        }
        self.out.push(b' ');
        value.write(&mut self.out);
        self.out.push(b'\n');
    }

    /// Appends another writer's samples (written without family lines).
    pub fn append(&mut self, other: Writer) {
        self.out.extend_from_slice(&other.out);
    }

    /// The bytes written so far (no `# EOF`).
    pub fn into_bytes(self) -> Vec<u8> {
        self.out
    }

    pub fn finish(mut self) -> Vec<u8> {
        if self.format == Format::OpenMetrics {
            self.out.extend_from_slice(b"# EOF\n");
        }
        self.out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn negotiates_the_format() {
        let prom = "application/openmetrics-text;version=1.0.0,application/openmetrics-text;version=0.0.1;q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1";
        assert_eq!(Format::from_accept(Some(prom)), Format::OpenMetrics);
        assert_eq!(Format::from_accept(None), Format::Text);
        assert_eq!(Format::from_accept(Some("*/*")), Format::Text);
        assert_eq!(
            Format::from_accept(Some("application/openmetrics-text;q=0")),
            Format::Text
        );
    }

    #[test]
    fn counters_and_escaping() {
        for (format, type_line, eof) in [
            (Format::Text, "# TYPE x_total counter", false),
            (Format::OpenMetrics, "# TYPE x counter", true),
        ] {
            let mut w = Writer::new(format, 0);
            w.family("x", Kind::Counter, "X things.");
            w.sample("x_total", &[("p", "a\"b\\c\nd")], 3u64);
            w.sample("x_total", &[], 0.5f64);
            let text = String::from_utf8(w.finish()).unwrap();
            assert!(text.contains(type_line), "{text}");
            assert!(
                text.contains("x_total{p=\"a\\\"b\\\\c\\nd\"} 3\n"),
                "{text}"
            );
            assert!(text.contains("x_total 0.5\n"), "{text}");
            assert_eq!(text.ends_with("# EOF\n"), eof);
        }
    }
}
