//! Usage per agent conversation: the events recorded with a conversation's id (Claude Code
//! transcripts carry it as `sessionId`), summed per model from the sums each label keeps
//! and those of the labels the retention dropped (`usage_conversations`), so a
//! conversation keeps its tokens after its events are gone.

use std::collections::HashMap;

use rusqlite::Connection;

use super::StoreError;
use crate::tokens::Tokens;

/// For each of `ids` that has events: (model, tokens) pairs.
pub fn tokens_by_session(
    c: &Connection,
    ids: &[String],
) -> Result<HashMap<String, Vec<(String, Tokens)>>, StoreError> {
    let mut out: HashMap<String, Vec<(String, Tokens)>> = HashMap::new();
    for chunk in ids.chunks(500) {
        let marks = vec!["?"; chunk.len()].join(",");
        let mut stmt = c.prepare(&format!(
            "SELECT session_id, model, SUM(input_tokens), SUM(output_tokens),
                    SUM(cache_creation_input_tokens), SUM(cache_read_input_tokens),
                    SUM(cache_creation_1h_tokens)
             FROM (SELECT session_id, model, input_tokens, output_tokens,
                          cache_creation_input_tokens, cache_read_input_tokens,
                          cache_creation_1h_tokens
                   FROM usage_labels WHERE session_id IN ({marks}) AND events != 0
                   UNION ALL
                   SELECT c.session_id, m.model, c.input_tokens, c.output_tokens,
                          c.cache_creation_input_tokens, c.cache_read_input_tokens,
                          c.cache_creation_1h_tokens
                   FROM usage_conversations c JOIN usage_models m ON m.id = c.model_id
                   WHERE c.session_id IN ({marks}))
             GROUP BY session_id, model"
        ))?;
        let rows = stmt.query_map(rusqlite::params_from_iter(chunk.iter().chain(chunk)), |r| {
            let n = |i: usize| r.get::<_, i64>(i).map(|v| v.max(0) as u64);
            Ok((
                r.get::<_, String>(0)?,
                r.get::<_, String>(1)?,
                Tokens {
                    input_tokens: n(2)?,
                    output_tokens: n(3)?,
                    cache_creation_input_tokens: n(4)?,
                    cache_read_input_tokens: n(5)?,
                    cache_creation_1h_input_tokens: n(6)?,
                    ..Tokens::default()
                },
            ))
        })?;
        for row in rows {
            let (id, model, tokens) = row?;
            out.entry(id).or_default().push((model, tokens));
        }
    }
    Ok(out)
}
