//! What the watcher watches: every agent's sources (profile homes and default homes), the
//! directories of each whose changes matter, and for those that do not exist yet the
//! nearest existing directory above them (watched alone, so their creation is seen).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use crate::usage::agents::{AGENTS, AgentLogs};
use crate::usage::import::ImportSource;
use crate::usage::logs::{self, Homes};

/// Whether a directory's subdirectories are watched too.
pub type Recursive = bool;

pub struct Plan {
    /// Each agent with its sources (canonical directories).
    pub agents: Vec<(&'static AgentLogs, Vec<ImportSource>)>,
    /// The directories to watch.
    pub watches: BTreeMap<PathBuf, Recursive>,
    /// Directories that matter but do not exist yet, with the agent they belong to.
    pub missing: Vec<(PathBuf, &'static str)>,
}

/// The nearest existing directory at or above `dir`.
fn existing_ancestor(dir: &Path) -> Option<PathBuf> {
    dir.ancestors().find(|d| d.is_dir()).map(Path::to_path_buf)
}

fn canonical(p: &Path) -> PathBuf {
    p.canonicalize().unwrap_or_else(|_| p.to_path_buf())
}

impl Plan {
    pub fn build(
        homes: &std::collections::HashMap<String, Homes>,
        user_home: &Path,
        env: &crate::paths::Env,
    ) -> Plan {
        let none = Homes::new();
        let mut plan = Plan {
            agents: Vec::new(),
            watches: BTreeMap::new(),
            missing: Vec::new(),
        };
        for agent in AGENTS.iter() {
            let homes = homes.get(agent.id).unwrap_or(&none);
            let mut sources = logs::sources(agent, homes, user_home, env);
            for s in &mut sources {
                s.dir = canonical(&s.dir);
            }
            // Directories that could hold data but do not exist yet.
            let mut roots: Vec<PathBuf> = homes
                .iter()
                .flat_map(|(_, h)| (agent.in_profile)(h))
                .chain((agent.defaults)(user_home, env))
                .collect();
            roots.extend(sources.iter().map(|s| s.dir.clone()));
            for root in roots {
                for (dir, recursive) in agent.format.watch_dirs(&root) {
                    if dir.is_dir() {
                        let r = plan.watches.entry(canonical(&dir)).or_insert(false);
                        *r |= recursive;
                    } else if let Some(up) = existing_ancestor(&dir) {
                        plan.watches.entry(canonical(&up)).or_insert(false);
                        plan.missing.push((dir, agent.id));
                    }
                }
            }
            plan.agents.push((agent, sources));
        }
        plan
    }

    /// The agent whose data `path` is, if any.
    pub fn agent_of(&self, path: &Path) -> Option<&'static AgentLogs> {
        self.agents
            .iter()
            .find(|(agent, sources)| {
                sources.iter().any(|s| {
                    agent.format.log_of(&s.dir, path).is_some()
                        || path == s.dir.join("stats-cache.json")
                })
            })
            .map(|(a, _)| *a)
    }

    /// The agents a directory that does not exist yet belongs to, when `path` is it or
    /// on the way to it (its creation may have begun).
    pub fn pending_at(&self, path: &Path) -> Vec<&'static str> {
        self.missing
            .iter()
            .filter(|(dir, _)| dir.starts_with(path))
            .map(|(_, a)| *a)
            .collect()
    }

    pub fn sources(&self, id: &str) -> &[ImportSource] {
        self.agents
            .iter()
            .find(|(a, _)| a.id == id)
            .map(|(_, s)| s.as_slice())
            .unwrap_or(&[])
    }
}
