//! The import use case for every agent: which directories (each profile's home and the
//! agent's default home), run by the shared driver, and the summary the API answers.

use std::path::PathBuf;

use jiff::tz::TimeZone;
use serde::Serialize;

use super::agents::{self, AgentLogs};
use super::import::{self, ImportSource, Only, Progress};
use crate::paths::Env;
use crate::store::{Store, StoreError};
use crate::tokens::Tokens;

/// What one agent's import did.
#[derive(Debug, Clone, Serialize)]
pub struct AgentSummary {
    pub agent: &'static str,
    pub summary: String,
    pub sources: Vec<SourceView>,
    pub files_read: usize,
    pub files_unchanged: usize,
    pub events_added: u64,
    pub events_replaced: u64,
    pub duplicates: u64,
    pub left_to_proxy: u64,
    pub malformed_lines: u64,
    pub unreadable: Vec<String>,
    pub tokens: Tokens,
    pub reasoning_output_tokens: u64,
    #[serde(skip)]
    pub changed: bool,
}

#[derive(Debug, Clone, Serialize)]
pub struct SourceView {
    pub dir: PathBuf,
    pub profile: String,
}

/// The profiles of one agent: alias and home.
pub type Homes = Vec<(String, PathBuf)>;

/// The directories to import for `agent`.
pub fn sources(
    agent: &AgentLogs,
    homes: &Homes,
    user_home: &std::path::Path,
    env: &Env,
) -> Vec<ImportSource> {
    if agent.id == "claude" {
        let dirs = env.get("CLAUDE_CONFIG_DIR").map(String::as_str);
        return super::claude::sources(homes, user_home, dirs, None).unwrap_or_default();
    }
    agents::sources(agent, homes, user_home, env)
}

fn line(agent: &AgentLogs, f: &import::Summary) -> String {
    let t = &f.tokens;
    format!(
        "{}: imported {} input tokens, {} output tokens ({} reasoning), {} cache write and {} cache read tokens from {} {}; {} new events, {} updated, {} duplicates skipped, {} left to the proxy's records, {} files unchanged, {} malformed lines{}",
        agent.name,
        t.input_tokens,
        t.output_tokens,
        t.reasoning_output_tokens,
        t.cache_creation_input_tokens,
        t.cache_read_input_tokens,
        f.files_read,
        agent.format.files_noun(),
        f.events_added,
        f.events_replaced,
        f.duplicates,
        f.left_to_proxy,
        f.files_unchanged,
        f.malformed_lines,
        f.unreadable_note()
    )
}

/// Imports one agent's sources (only the files in `only`, when given). Blocking.
pub fn run(
    store: &Store,
    agent: &'static AgentLogs,
    sources: &[ImportSource],
    tz: &TimeZone,
    only: Only,
    progress: &(dyn Fn(Progress) + Sync),
) -> Result<AgentSummary, StoreError> {
    let (f, summary, changed) = if agent.id == "claude" {
        let s = super::claude::run(store, sources, tz, only, progress)?;
        (s.files.clone(), s.line(), s.changed())
    } else {
        let f = import::run(store, agent.format, sources, only, progress)?;
        let l = line(agent, &f);
        let changed = f.changed();
        (f, l, changed)
    };
    Ok(AgentSummary {
        agent: agent.id,
        summary,
        sources: sources
            .iter()
            .map(|s| SourceView {
                dir: s.dir.clone(),
                profile: s.profile.clone(),
            })
            .collect(),
        files_read: f.files_read,
        files_unchanged: f.files_unchanged,
        events_added: f.events_added,
        events_replaced: f.events_replaced,
        duplicates: f.duplicates,
        left_to_proxy: f.left_to_proxy,
        malformed_lines: f.malformed_lines,
        unreadable: f.unreadable,
        tokens: f.tokens,
        reasoning_output_tokens: f.tokens.reasoning_output_tokens,
        changed,
    })
}

/// Every agent's profiles (alias and home), from the store.
pub fn all_homes(
    conn: &rusqlite::Connection,
) -> Result<std::collections::HashMap<String, Homes>, StoreError> {
    let mut out: std::collections::HashMap<String, Homes> = Default::default();
    for p in crate::store::profiles::list(conn, None)? {
        out.entry(p.agent_id)
            .or_default()
            .push((p.alias, PathBuf::from(p.profile_home)));
    }
    Ok(out)
}

/// The profiles whose proxy is enabled: their requests' usage is the proxy's record.
pub fn proxied_profiles(
    conn: &rusqlite::Connection,
) -> Result<std::collections::HashSet<String>, StoreError> {
    Ok(crate::store::profiles::list(conn, None)?
        .into_iter()
        .filter(|p| {
            serde_json::from_str::<serde_json::Value>(&p.proxy)
                .is_ok_and(|v| v["enabled"] == serde_json::Value::Bool(true))
        })
        .map(|p| p.alias)
        .collect())
}

/// Marks the sources of proxied profiles (read at the moment of the import).
pub fn mark_proxied(sources: &mut [ImportSource], proxied: &std::collections::HashSet<String>) {
    for s in sources {
        s.proxied = proxied.contains(&s.profile);
    }
}

/// Where to look and with what: the user's home, the daemon's environment, the zone.
pub struct Context<'a> {
    pub store: &'a Store,
    pub user_home: &'a std::path::Path,
    pub env: &'a Env,
    pub tz: &'a TimeZone,
}

/// Imports `agents` in turn (each agent's every source). Blocking.
pub fn import_agents(
    cx: &Context,
    agents: &[&'static AgentLogs],
    progress: &(dyn Fn(&'static str, Progress) + Sync),
) -> Result<Vec<AgentSummary>, StoreError> {
    let homes = cx.store.call_blocking(|c| all_homes(c))?;
    let none = Homes::new();
    let mut out = Vec::new();
    for agent in agents {
        let sources = sources(
            agent,
            homes.get(agent.id).unwrap_or(&none),
            cx.user_home,
            cx.env,
        );
        let p = |p: Progress| progress(agent.id, p);
        out.push(run(cx.store, agent, &sources, cx.tz, None, &p)?);
    }
    Ok(out)
}
