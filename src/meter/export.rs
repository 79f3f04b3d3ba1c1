//! `clown usage export`: every event (or every day per profile and model) of a range as
//! CSV or as a JSON array, streamed as it is read: a reader connection walks the rows on
//! a blocking thread and hands chunks of about 64 KiB to the response through a bounded
//! channel, so memory stays flat whatever the size, and a client that goes away stops
//! the walk. Events older than the raw retention come from the rollup (their `source`
//! is `rollup`, `events` says how many they stand for).

use serde_json::json;
use tokio::sync::mpsc;

use super::reports::Scope;
use super::{Meter, MeterError, Prices};
use crate::store::{daily, events};
use crate::tokens::Tokens;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Csv,
    Json,
}

#[derive(Debug, Default)]
pub struct ExportQuery {
    pub format: Option<String>,
    /// `events` (default) or `daily`.
    pub granularity: Option<String>,
    pub scope: Scope,
}

const CHUNK: usize = 64 * 1024;
const EVENT_COLUMNS: &str = "time,profile,agent,provider,model,source,session_id,input_tokens,output_tokens,cache_creation_input_tokens,cache_read_input_tokens,total_tokens,cost_usd,events";
const DAY_COLUMNS: &str = "date,profile,model,input_tokens,output_tokens,cache_creation_input_tokens,cache_read_input_tokens,total_tokens,cost_usd";

/// A CSV field, quoted when it must be.
fn field(out: &mut String, s: &str) {
    if s.contains([',', '"', '\n', '\r']) {
        out.push('"');
        out.push_str(&s.replace('"', "\"\""));
        out.push('"');
    } else {
        out.push_str(s);
    }
}

fn counts(out: &mut String, t: &Tokens, cost: f64) {
    use std::fmt::Write;
    let _ = write!(
        out,
        ",{},{},{},{},{},{}",
        t.input_tokens,
        t.output_tokens,
        t.cache_creation_input_tokens,
        t.cache_read_input_tokens,
        t.total(),
        cost
    );
}

/// Writes rows into chunks and sends them; false once the receiver is gone.
struct Sink {
    tx: mpsc::Sender<Result<bytes::Bytes, std::io::Error>>,
    buf: String,
    format: Format,
    rows: u64,
}

impl Sink {
    fn begin(&mut self, header: &str) {
        match self.format {
            Format::Csv => {
                self.buf.push_str(header);
                self.buf.push('\n');
            }
            Format::Json => self.buf.push('['),
        }
    }

    fn json(&mut self, v: serde_json::Value) -> bool {
        if self.rows > 0 {
            self.buf.push(',');
        }
        self.buf.push('\n');
        self.buf.push_str(&v.to_string());
        self.rows += 1;
        self.flush_if_full()
    }

    fn csv(&mut self, line: &str) -> bool {
        self.buf.push_str(line);
        self.buf.push('\n');
        self.rows += 1;
        self.flush_if_full()
    }

    fn flush_if_full(&mut self) -> bool {
        self.buf.len() < CHUNK || self.flush()
    }

    fn flush(&mut self) -> bool {
        let chunk = std::mem::take(&mut self.buf);
        chunk.is_empty() || self.tx.blocking_send(Ok(chunk.into())).is_ok()
    }

    fn end(mut self) {
        if self.format == Format::Json {
            self.buf.push_str("\n]\n");
        }
        self.flush();
    }
}

fn iso(ts: i64) -> String {
    jiff::Timestamp::from_second(ts)
        .map(crate::time::rfc3339)
        .unwrap_or_default()
}

pub type Chunks = mpsc::Receiver<Result<bytes::Bytes, std::io::Error>>;

impl Meter {
    /// Checks the query and starts the export; the rows arrive on the receiver.
    pub async fn export(&self, q: ExportQuery) -> Result<(Format, Chunks), MeterError> {
        let format = match q.format.as_deref() {
            None | Some("csv") => Format::Csv,
            Some("json") => Format::Json,
            Some(other) => {
                return Err(MeterError::Invalid(format!(
                    "Invalid format '{other}': use csv or json"
                )));
            }
        };
        let daily_rows = match q.granularity.as_deref() {
            None | Some("events") | Some("event") => false,
            Some("daily") | Some("day") => true,
            Some(other) => {
                return Err(MeterError::Invalid(format!(
                    "Invalid granularity '{other}': use events or daily"
                )));
            }
        };
        let now = jiff::Zoned::now();
        let range = q.scope.range(&now)?;
        let profiles = self.select(&q.scope).await?;
        let catalogue = self.inner.catalogue.get();
        let (start, end) = range.bounds(now.time_zone());
        let today = now.date().to_string();
        let (tx, rx) = mpsc::channel(4);
        let error_tx = tx.clone();
        let store = self.store().clone();
        tokio::spawn(async move {
            let walked = store
                .read(move |c| {
                    let mut prices = Prices::new(&catalogue);
                    let mut sink = Sink {
                        tx,
                        buf: String::with_capacity(CHUNK + 1024),
                        format,
                        rows: 0,
                    };
                    let mut open = true;
                    if daily_rows {
                        sink.begin(DAY_COLUMNS);
                        let first = range.first.map(|d| d.to_string());
                        let last = range.last.map_or(today, |d| d.to_string());
                        daily::fold(c, first.as_deref(), &last, None, None, |day, p, m, row| {
                            let t = row.tokens;
                            if !open || profiles.as_ref().is_some_and(|f| !f.iter().any(|x| x == p)) {
                                return;
                            }
                            let cost = prices.cost_row(m, &row).usd().total_cost;
                            open = match format {
                                Format::Json => sink.json(json!({"date": day, "profile": p, "model": m,
                                    "input_tokens": t.input_tokens, "output_tokens": t.output_tokens,
                                    "cache_creation_input_tokens": t.cache_creation_input_tokens,
                                    "cache_read_input_tokens": t.cache_read_input_tokens,
                                    "total_tokens": t.total(), "cost_usd": cost})),
                                Format::Csv => {
                                    let mut line = String::from(day);
                                    for s in [p, m] {
                                        line.push(',');
                                        field(&mut line, s);
                                    }
                                    counts(&mut line, &t, cost);
                                    sink.csv(&line)
                                }
                            };
                        })?;
                    } else {
                        sink.begin(EVENT_COLUMNS);
                        events::fold(c, profiles.as_deref(), start, end, |r| {
                            if !open {
                                return;
                            }
                            let cost = prices.cost_event(r.model, &r.tokens, r.source, r.count).usd().total_cost;
                            open = match format {
                                Format::Json => sink.json(json!({"time": iso(r.ts), "profile": r.profile,
                                    "agent": r.agent, "provider": r.provider, "model": r.model,
                                    "source": r.source, "session_id": r.session_id,
                                    "input_tokens": r.tokens.input_tokens, "output_tokens": r.tokens.output_tokens,
                                    "cache_creation_input_tokens": r.tokens.cache_creation_input_tokens,
                                    "cache_read_input_tokens": r.tokens.cache_read_input_tokens,
                                    "total_tokens": r.tokens.total(), "cost_usd": cost, "events": r.count})),
                                Format::Csv => {
                                    let mut line = iso(r.ts);
                                    for s in [
                                        r.profile,
                                        r.agent.unwrap_or(""),
                                        r.provider.unwrap_or(""),
                                        r.model,
                                        r.source,
                                        r.session_id.unwrap_or(""),
                                    ] {
                                        line.push(',');
                                        field(&mut line, s);
                                    }
                                    counts(&mut line, &r.tokens, cost);
                                    line.push_str(&format!(",{}", r.count));
                                    sink.csv(&line)
                                }
                            };
                        })?;
                    }
                    if open {
                        sink.end();
                    }
                    Ok(())
                })
                .await;
            if let Err(e) = walked {
                tracing::error!("usage export failed: {e}");
                let _ = error_tx
                    .send(Err(std::io::Error::other(
                        "the export failed; see the daemon's log",
                    )))
                    .await;
            }
        });
        Ok((format, rx))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_fields_are_quoted_when_needed() {
        let mut s = String::new();
        field(&mut s, "plain");
        s.push(',');
        field(&mut s, "a,\"b\"");
        assert_eq!(s, "plain,\"a,\"\"b\"\"\"");
    }
}
