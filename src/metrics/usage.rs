//! Tokens, cost and responses, all time, per profile, agent, provider and model: read
//! from the store's totals table (one row per such combination, never the events) and
//! priced from the catalogue.
//!
//! A scrape re-reads only the totals rows changed since the one before (each row carries
//! the change number of the last event that moved it) and re-renders only those; every
//! row keeps its rendered sample lines, and the three families' bodies are rebuilt by
//! copying them only when something changed. A scrape of 10,000 combinations therefore
//! formats nothing that did not change (bench/README.md). A new catalogue (prices) or a
//! change in the profiles (their agent and provider fill rows that name none) renders
//! everything again.

use std::collections::{BTreeMap, HashMap};
use std::sync::Mutex;

use bytes::Bytes;
use rusqlite::Connection;

use super::text::{Format, Kind, Value, Writer, escape_into};
use crate::registry::{Catalogue, Price};
use crate::store::StoreError;
use crate::store::totals::{self, Total};
use crate::usage::pricing::ExactCost;

/// The label for what is not known (a deleted profile's agent, Claude data's provider).
pub const UNKNOWN: &str = "unknown";

/// The families, in the order they are written: (name, help).
const FAMILIES: [(&str, &str); 3] = [
    (
        "clown_tokens",
        "Tokens used, all time, by profile, agent, provider, model and kind (input, output, cache_creation, cache_read).",
    ),
    (
        "clown_cost_usd",
        "Cost in US dollars at the registry's prices, all time (unpriced models count 0).",
    ),
    (
        "clown_responses",
        "Model responses accounted (proxy requests, imported messages, recorded runs), all time.",
    ),
];

/// One totals row's sample lines: the four token lines, then the cost line, then the
/// responses line.
struct Lines {
    buf: Vec<u8>,
    cost_at: usize,
    responses_at: usize,
}

struct State {
    /// Highest change number read so far.
    rev: i64,
    /// Identity of the catalogue the costs were computed with.
    catalogue: usize,
    names: HashMap<String, (String, String)>,
    rows: BTreeMap<(String, String, String, String), Lines>,
    /// The three families' samples, while no row changed.
    built: Option<[Bytes; 3]>,
}

impl Default for State {
    fn default() -> Self {
        Self {
            // Rows the migration filled carry change number 0.
            rev: -1,
            catalogue: 0,
            names: HashMap::new(),
            rows: BTreeMap::new(),
            built: None,
        }
    }
}

/// The rendered usage families, kept between scrapes.
#[derive(Default)]
pub struct UsageCache(Mutex<State>);

/// The usage families' samples of one scrape, without their `# HELP`/`# TYPE` lines.
pub struct UsageSamples([Bytes; 3]);

impl UsageSamples {
    /// `(header, samples)` per family, the header in `format`.
    pub fn chunks(self, format: Format) -> Vec<Bytes> {
        let mut out = Vec::with_capacity(6);
        for ((name, help), samples) in FAMILIES.iter().zip(self.0) {
            let mut head = Writer::new(format, 256);
            head.family(name, Kind::Counter, help);
            out.push(Bytes::from(head.into_bytes()));
            out.push(samples);
        }
        out
    }
}

impl UsageCache {
    /// Brings the cache up to date with the store and returns the samples.
    pub fn refresh(
        &self,
        conn: &Connection,
        catalogue: &std::sync::Arc<Catalogue>,
    ) -> Result<UsageSamples, StoreError> {
        let mut state = self.0.lock().unwrap_or_else(|p| p.into_inner());
        let names: HashMap<String, (String, String)> = totals::profile_names(conn)?
            .into_iter()
            .map(|(alias, agent, provider)| (alias, (agent, provider)))
            .collect();
        let identity = std::sync::Arc::as_ptr(catalogue) as usize;
        if names != state.names || identity != state.catalogue {
            *state = State {
                names,
                catalogue: identity,
                ..State::default()
            };
        }
        let state = &mut *state;
        let mut prices: HashMap<String, Option<Price>> = HashMap::new();
        let mut labels = String::with_capacity(256);
        let mut max_rev = state.rev;
        totals::fold_after(conn, state.rev, |row, rev| {
            max_rev = max_rev.max(rev);
            let price = match prices.get(row.model) {
                Some(p) => *p,
                None => {
                    let p = catalogue.price(row.model).copied();
                    prices.insert(row.model.to_string(), p);
                    p
                }
            };
            let lines = render(&row, &state.names, price, &mut labels);
            state.rows.insert(
                (
                    row.profile.to_string(),
                    row.agent.to_string(),
                    row.provider.to_string(),
                    row.model.to_string(),
                ),
                lines,
            );
            state.built = None;
        })?;
        state.rev = max_rev;
        let built = state.built.get_or_insert_with(|| {
            let size: usize = state.rows.values().map(|l| l.buf.len()).sum();
            let mut parts = [
                Vec::with_capacity(size),
                Vec::with_capacity(size / 5),
                Vec::with_capacity(size / 5),
            ];
            for l in state.rows.values() {
                parts[0].extend_from_slice(&l.buf[..l.cost_at]);
                parts[1].extend_from_slice(&l.buf[l.cost_at..l.responses_at]);
                parts[2].extend_from_slice(&l.buf[l.responses_at..]);
            }
            parts.map(Bytes::from)
        });
        Ok(UsageSamples(built.clone()))
    }
}

/// The sample lines of one totals row.
fn render(
    row: &Total,
    names: &HashMap<String, (String, String)>,
    price: Option<Price>,
    labels: &mut String,
) -> Lines {
    let own = names.get(row.profile);
    let agent = match (row.agent, own) {
        ("", Some((a, _))) => a.as_str(),
        ("", None) if row.profile == "@claude" => "claude",
        ("", None) => UNKNOWN,
        (a, _) => a,
    };
    let provider = match (row.provider, own) {
        ("", Some((_, p))) => p.as_str(),
        ("", None) => UNKNOWN,
        (p, _) => p,
    };
    labels.clear();
    labels.push_str("profile=\"");
    escape_into(labels, row.profile);
    labels.push_str("\",agent=\"");
    escape_into(labels, agent);
    labels.push_str("\",provider=\"");
    escape_into(labels, provider);
    labels.push_str("\",model=\"");
    escape_into(labels, row.model);
    labels.push('"');
    let mut buf = Vec::with_capacity(labels.len() * 6 + 256);
    let line = |buf: &mut Vec<u8>, name: &str, extra: &str, value: &dyn Value| {
        buf.extend_from_slice(name.as_bytes());
        buf.push(b'{');
        buf.extend_from_slice(labels.as_bytes());
        buf.extend_from_slice(extra.as_bytes());
        buf.extend_from_slice(b"} ");
        value.write(buf);
        buf.push(b'\n');
    };
    let t = &row.tokens;
    for (kind, n) in [
        (",kind=\"input\"", t.input_tokens),
        (",kind=\"output\"", t.output_tokens),
        (",kind=\"cache_creation\"", t.cache_creation_input_tokens),
        (",kind=\"cache_read\"", t.cache_read_input_tokens),
    ] {
        line(&mut buf, "clown_tokens_total", kind, &n);
    }
    let cost_at = buf.len();
    let usd = price
        .map(|p| {
            let c = ExactCost::of(t, &p);
            (c.input + c.output + c.cache_creation + c.cache_read) as f64 / 1e12
        })
        .unwrap_or(0.0);
    line(&mut buf, "clown_cost_usd_total", "", &usd);
    let responses_at = buf.len();
    line(&mut buf, "clown_responses_total", "", &row.events);
    Lines {
        buf,
        cost_at,
        responses_at,
    }
}
