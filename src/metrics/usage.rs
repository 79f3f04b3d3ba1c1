//! Tokens, cost and responses, all time, per profile, agent, provider and model: read
//! from the store's totals table (one row per such combination, never the events) and
//! priced from the catalogue.
//!
//! A scrape re-reads only the totals rows changed since the one before (each row carries
//! the change number of the last event that moved it) and re-renders only those; every
//! row keeps its rendered sample lines. Rows are grouped in blocks of consecutive rows
//! (about [`BLOCK_ROWS`]), each holding its rows' lines of the three families as a
//! [`Piece`]; a changed row rebuilds only its block's pieces (and their gzip, when a
//! scraper asks for it), so a scrape of 10,000 combinations formats and compresses
//! nothing that did not change (bench/README.md). A new catalogue (prices) or a change
//! in the profiles (their agent and provider fill rows that name none) renders
//! everything again.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::ops::Bound;
use std::sync::{Arc, Mutex};

use rusqlite::Connection;

use super::gzip::{Gzip, Piece};
use super::text::{Format, Kind, Value, Writer, escape_into};
use crate::registry::{Catalogue, Price};
use crate::store::StoreError;
use crate::store::totals::{self, Total};
use crate::usage::pricing::ExactCost;

/// The label for what is not known (a deleted profile's agent, Claude data's provider).
pub const UNKNOWN: &str = "unknown";

/// Rows per block when blocks are cut; a block grown past twice this is cut again. Small
/// enough that a changed row re-compresses little (64 rows: about 40 kB of token lines),
/// large enough to compress well on its own.
pub const BLOCK_ROWS: usize = 64;

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

type Key = (String, String, String, String);

/// One block's lines of each family.
type Block = [Arc<Piece>; 3];

struct State {
    /// Highest change number read so far.
    rev: i64,
    /// Identity of the catalogue the costs were computed with.
    catalogue: usize,
    /// The profiles' change number `names` was read at.
    profiles: i64,
    names: HashMap<String, (String, String)>,
    rows: BTreeMap<Key, Lines>,
    /// Blocks by the key of their first row; the first block also takes rows sorting
    /// before its key, each block the rows up to the next block's key.
    blocks: BTreeMap<Key, Block>,
    /// The families' pieces in order, while no row changed.
    built: Option<Arc<UsageSamples>>,
}

impl Default for State {
    fn default() -> Self {
        Self {
            // Rows the migration filled carry change number 0.
            rev: -1,
            catalogue: 0,
            profiles: -1,
            names: HashMap::new(),
            rows: BTreeMap::new(),
            blocks: BTreeMap::new(),
            built: None,
        }
    }
}

/// The rendered usage families, kept between scrapes.
pub struct UsageCache {
    state: Mutex<State>,
    /// The families' `# HELP`/`# TYPE` lines in each format.
    heads: [[Piece; 3]; 2],
}

impl Default for UsageCache {
    fn default() -> Self {
        let heads = [Format::Text, Format::OpenMetrics].map(|format| {
            FAMILIES.map(|(name, help)| {
                let mut head = Writer::new(format, 256);
                head.family(name, Kind::Counter, help);
                Piece::new(head.into_bytes())
            })
        });
        Self {
            state: Mutex::default(),
            heads,
        }
    }
}

/// The usage families' samples of one scrape, as pieces, without their `# HELP`/`# TYPE`
/// lines.
#[derive(Default)]
pub struct UsageSamples([Vec<Arc<Piece>>; 3]);

impl UsageCache {
    fn heads(&self, format: Format) -> &[Piece; 3] {
        &self.heads[usize::from(format == Format::OpenMetrics)]
    }

    /// The families in `format`, plain: their bytes as kept (no copy).
    pub fn plain(&self, samples: &UsageSamples, format: Format, out: &mut Vec<bytes::Bytes>) {
        for (head, pieces) in self.heads(format).iter().zip(&samples.0) {
            out.push(head.plain().clone());
            out.extend(pieces.iter().map(|p| p.plain().clone()));
        }
    }

    /// The families in `format` into a gzip body (compressing only blocks not compressed
    /// before).
    pub fn gzip(&self, samples: &UsageSamples, format: Format, out: &mut Gzip) {
        for (head, pieces) in self.heads(format).iter().zip(&samples.0) {
            out.push(head.gz());
            for p in pieces {
                out.push(p.gz());
            }
        }
    }

    /// Brings the cache up to date with the store and returns the samples.
    pub fn refresh(
        &self,
        conn: &Connection,
        catalogue: &std::sync::Arc<Catalogue>,
    ) -> Result<Arc<UsageSamples>, StoreError> {
        let mut state = self.state.lock().unwrap_or_else(|p| p.into_inner());
        // The profiles are read again only when their change number moved.
        let profiles = totals::profiles_rev(conn)?;
        if profiles != state.profiles {
            let names: HashMap<String, (String, String)> = totals::profile_names(conn)?
                .into_iter()
                .map(|(alias, agent, provider)| (alias, (agent, provider)))
                .collect();
            if names != state.names {
                *state = State {
                    names,
                    catalogue: state.catalogue,
                    ..State::default()
                };
            }
            state.profiles = profiles;
        }
        let identity = std::sync::Arc::as_ptr(catalogue) as usize;
        if identity != state.catalogue {
            *state = State {
                names: std::mem::take(&mut state.names),
                profiles: state.profiles,
                catalogue: identity,
                ..State::default()
            };
        }
        let state = &mut *state;
        let mut prices: HashMap<String, Option<Price>> = HashMap::new();
        let mut labels = String::with_capacity(256);
        let mut max_rev = state.rev;
        let mut dirty = BTreeSet::new();
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
            let key = (
                row.profile.to_string(),
                row.agent.to_string(),
                row.provider.to_string(),
                row.model.to_string(),
            );
            // The block holding the row (none yet: every block is cut below).
            let block = state
                .blocks
                .range(..=&key)
                .next_back()
                .or_else(|| state.blocks.iter().next())
                .map(|(k, _)| k.clone());
            if let Some(b) = block {
                dirty.insert(b);
            }
            state.rows.insert(key, lines);
            state.built = None;
        })?;
        state.rev = max_rev;
        if state.blocks.is_empty() {
            cut(
                &state.rows,
                (Bound::Unbounded, Bound::Unbounded),
                &mut state.blocks,
            );
        }
        for start in dirty {
            let first = state.blocks.keys().next() == Some(&start);
            let end = state
                .blocks
                .range((Bound::Excluded(&start), Bound::Unbounded))
                .next()
                .map(|(k, _)| k.clone());
            let lower = if first {
                Bound::Unbounded
            } else {
                Bound::Included(&start)
            };
            let upper = end.as_ref().map_or(Bound::Unbounded, Bound::Excluded);
            state.blocks.remove(&start);
            cut(&state.rows, (lower, upper), &mut state.blocks);
        }
        let built = state.built.get_or_insert_with(|| {
            Arc::new(UsageSamples(std::array::from_fn(|f| {
                state.blocks.values().map(|b| b[f].clone()).collect()
            })))
        });
        Ok(built.clone())
    }
}

/// (Re)builds the blocks of the rows in `range`, each keyed by its first row: one block,
/// or blocks of [`BLOCK_ROWS`] when the rows are more than twice that.
fn cut(
    rows: &BTreeMap<Key, Lines>,
    range: (Bound<&Key>, Bound<&Key>),
    blocks: &mut BTreeMap<Key, Block>,
) {
    let rows: Vec<(&Key, &Lines)> = rows.range::<Key, _>(range).collect();
    let size = if rows.len() > 2 * BLOCK_ROWS {
        BLOCK_ROWS
    } else {
        rows.len().max(1)
    };
    for piece in rows.chunks(size) {
        let key = piece[0].0.clone();
        let len: usize = piece.iter().map(|(_, l)| l.buf.len()).sum();
        let mut parts = [
            Vec::with_capacity(len),
            Vec::with_capacity(len / 5),
            Vec::with_capacity(len / 5),
        ];
        for (_, l) in piece {
            parts[0].extend_from_slice(&l.buf[..l.cost_at]);
            parts[1].extend_from_slice(&l.buf[l.cost_at..l.responses_at]);
            parts[2].extend_from_slice(&l.buf[l.responses_at..]);
        }
        blocks.insert(key, parts.map(|p| Arc::new(Piece::new(p))));
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
