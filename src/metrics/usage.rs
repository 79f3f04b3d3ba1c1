//! Tokens, cost and responses, all time, per profile, agent, provider and model: read
//! from the store's totals table (one row per such combination, never the events) and
//! priced from the catalogue.
//!
//! One pass over the rows writes three families into three buffers, each row's label set
//! escaped once and copied into every sample: a scrape of 10,000 combinations stays a
//! few milliseconds (bench/README.md).

use std::collections::HashMap;

use rusqlite::Connection;

use super::text::{Format, Kind, Writer, escape_into};
use crate::registry::{Catalogue, Price};
use crate::store::StoreError;
use crate::store::totals;
use crate::usage::pricing::ExactCost;

/// The label for what is not known (a deleted profile's agent, Claude data's provider).
pub const UNKNOWN: &str = "unknown";

/// `clown_tokens_total{…,kind}`, `clown_cost_usd_total{…}`, `clown_responses_total{…}`.
pub fn write(
    conn: &Connection,
    catalogue: &Catalogue,
    format: Format,
    out: &mut Writer,
) -> Result<(), StoreError> {
    let names: HashMap<String, (String, String)> = totals::profile_names(conn)?
        .into_iter()
        .map(|(alias, agent, provider)| (alias, (agent, provider)))
        .collect();
    let mut prices: HashMap<String, Option<Price>> = HashMap::new();
    let mut tokens = Writer::new(format, 1 << 20);
    let mut cost = Writer::new(format, 1 << 18);
    let mut responses = Writer::new(format, 1 << 18);
    let mut labels = String::with_capacity(256);
    totals::fold(conn, |row| {
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
        escape_into(&mut labels, row.profile);
        labels.push_str("\",agent=\"");
        escape_into(&mut labels, agent);
        labels.push_str("\",provider=\"");
        escape_into(&mut labels, provider);
        labels.push_str("\",model=\"");
        escape_into(&mut labels, row.model);
        labels.push('"');
        let t = &row.tokens;
        for (kind, n) in [
            (",kind=\"input\"", t.input_tokens),
            (",kind=\"output\"", t.output_tokens),
            (",kind=\"cache_creation\"", t.cache_creation_input_tokens),
            (",kind=\"cache_read\"", t.cache_read_input_tokens),
        ] {
            tokens.sample_raw("clown_tokens_total", &labels, kind, n);
        }
        let price = match prices.get(row.model) {
            Some(p) => *p,
            None => {
                let p = catalogue.price(row.model).copied();
                prices.insert(row.model.to_string(), p);
                p
            }
        };
        let usd = price
            .map(|p| {
                let c = ExactCost::of(t, &p);
                (c.input + c.output + c.cache_creation + c.cache_read) as f64 / 1e12
            })
            .unwrap_or(0.0);
        cost.sample_raw("clown_cost_usd_total", &labels, "", usd);
        responses.sample_raw("clown_responses_total", &labels, "", row.events);
    })?;
    out.family(
        "clown_tokens",
        Kind::Counter,
        "Tokens used, all time, by profile, agent, provider, model and kind (input, output, cache_creation, cache_read).",
    );
    out.append(tokens);
    out.family(
        "clown_cost_usd",
        Kind::Counter,
        "Cost in US dollars at the registry's prices, all time (unpriced models count 0).",
    );
    out.append(cost);
    out.family(
        "clown_responses",
        Kind::Counter,
        "Model responses accounted (proxy requests, imported messages, recorded runs), all time.",
    );
    out.append(responses);
    Ok(())
}
