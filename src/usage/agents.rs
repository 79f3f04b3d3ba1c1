//! Every agent whose own logs clown imports: its format, where its data lives by default
//! (that data belongs to the agent's pseudo-profile, `@codex` for Codex CLI) and where it
//! lives inside a profile's home (that data is the profile's).
//!
//! The locations follow each agent's own variables, read from the daemon's environment:
//! `CODEX_HOME`, `GEMINI_CLI_HOME`, `QWEN_HOME`, `XDG_DATA_HOME` (opencode),
//! `FACTORY_HOME_OVERRIDE` (Droid), `GROK_HOME`; Claude Code's (`CLAUDE_CONFIG_DIR`) are in
//! `claude::sources`.

use std::collections::HashSet;
use std::path::{Path, PathBuf};

use crate::paths::Env;
use crate::usage::import::{Format, ImportSource};

/// One agent's logs.
pub struct AgentLogs {
    pub id: &'static str,
    pub name: &'static str,
    pub format: &'static dyn Format,
    /// The data directories outside any profile.
    pub defaults: fn(&Path, &Env) -> Vec<PathBuf>,
    /// The data directories inside a profile home.
    pub in_profile: fn(&Path) -> Vec<PathBuf>,
}

impl AgentLogs {
    /// The pseudo-profile of data found outside every profile home.
    pub fn pseudo_profile(&self) -> String {
        format!("@{}", self.id)
    }
}

fn var(env: &Env, name: &str) -> Option<PathBuf> {
    env.get(name).map(PathBuf::from).filter(|p| p.is_absolute())
}

fn one(p: PathBuf) -> Vec<PathBuf> {
    vec![p]
}

/// The agents, Claude Code first.
pub static AGENTS: [AgentLogs; 7] = [
    AgentLogs {
        id: "claude",
        name: "Claude Code",
        format: &crate::usage::claude::Transcripts,
        defaults: |home, env| {
            let mut v: Vec<PathBuf> = env
                .get("CLAUDE_CONFIG_DIR")
                .map(|s| {
                    s.split(',')
                        .map(|p| PathBuf::from(p.trim()))
                        .filter(|p| p.is_absolute())
                        .collect()
                })
                .unwrap_or_default();
            v.push(home.join(".config/claude"));
            v.push(home.join(".claude"));
            v
        },
        in_profile: |h| one(h.to_path_buf()),
    },
    AgentLogs {
        id: "codex",
        name: "Codex CLI",
        format: &crate::usage::codex::Rollouts,
        defaults: |home, env| one(var(env, "CODEX_HOME").unwrap_or_else(|| home.join(".codex"))),
        in_profile: |h| one(h.to_path_buf()),
    },
    AgentLogs {
        id: "gemini",
        name: "Gemini CLI",
        format: &crate::usage::gemini::Chats,
        defaults: |home, env| {
            one(var(env, "GEMINI_CLI_HOME")
                .unwrap_or_else(|| home.to_path_buf())
                .join(".gemini/tmp"))
        },
        in_profile: |h| one(h.join(".gemini/tmp")),
    },
    AgentLogs {
        id: "qwen",
        name: "Qwen Code",
        format: &crate::usage::qwen::Chats,
        defaults: |home, env| one(var(env, "QWEN_HOME").unwrap_or_else(|| home.join(".qwen"))),
        // QWEN_HOME set to the home, or HOME set to it.
        in_profile: |h| vec![h.to_path_buf(), h.join(".qwen")],
    },
    AgentLogs {
        id: "opencode",
        name: "opencode",
        format: &crate::usage::opencode::Messages,
        defaults: |home, env| {
            one(var(env, "XDG_DATA_HOME")
                .unwrap_or_else(|| home.join(".local/share"))
                .join("opencode"))
        },
        // XDG_DATA_HOME set to the home, or HOME set to it.
        in_profile: |h| vec![h.join("opencode"), h.join(".local/share/opencode")],
    },
    AgentLogs {
        id: "droid",
        name: "Droid",
        format: &crate::usage::droid::Settings,
        defaults: |home, env| {
            one(var(env, "FACTORY_HOME_OVERRIDE")
                .unwrap_or_else(|| home.to_path_buf())
                .join(".factory/sessions"))
        },
        in_profile: |h| one(h.join(".factory/sessions")),
    },
    AgentLogs {
        id: "grok",
        name: "Grok",
        format: &crate::usage::grok::Updates,
        defaults: |home, env| one(var(env, "GROK_HOME").unwrap_or_else(|| home.join(".grok"))),
        in_profile: |h| one(h.join(".grok")),
    },
];

pub fn find(id: &str) -> Option<&'static AgentLogs> {
    AGENTS.iter().find(|a| a.id == id)
}

/// The ids, for messages.
pub fn ids() -> String {
    AGENTS.iter().map(|a| a.id).collect::<Vec<_>>().join(", ")
}

/// The data directories of `agent` that exist: each profile's (`homes`: alias and home of
/// the agent's profiles) and the defaults, whose data belongs to the pseudo-profile. A
/// directory is imported once, as the profile's when a profile home holds it.
pub fn sources(
    agent: &AgentLogs,
    homes: &[(String, PathBuf)],
    user_home: &Path,
    env: &Env,
) -> Vec<ImportSource> {
    let mut seen = HashSet::new();
    let mut out = Vec::new();
    let mut add = |dir: PathBuf, profile: String| {
        if !dir.is_dir() {
            return;
        }
        let canon = dir.canonicalize().unwrap_or_else(|_| dir.clone());
        if seen.insert(canon) {
            out.push(ImportSource {
                dir,
                profile,
                proxied: false,
            });
        }
    };
    for (alias, home) in homes {
        for dir in (agent.in_profile)(home) {
            add(dir, alias.clone());
        }
    }
    for dir in (agent.defaults)(user_home, env) {
        add(dir, agent.pseudo_profile());
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn profiles_own_their_homes_and_the_rest_is_the_agents() {
        let root = std::env::temp_dir().join(format!("clown-agents-{}", std::process::id()));
        let home = root.join("home");
        let profile = home.join(".codex-profiles/work");
        for d in [&profile, &home.join(".codex"), &home.join(".gemini/tmp")] {
            std::fs::create_dir_all(d).unwrap();
        }
        let codex = find("codex").unwrap();
        let homes = vec![("work".to_string(), profile.clone())];
        let got: Vec<(String, PathBuf)> = sources(codex, &homes, &home, &Env::new())
            .into_iter()
            .map(|s| (s.profile, s.dir))
            .collect();
        assert_eq!(
            got,
            vec![
                ("work".into(), profile.clone()),
                ("@codex".into(), home.join(".codex"))
            ]
        );
        // CODEX_HOME pointing at the profile's home: still the profile's, once.
        let env: Env = [("CODEX_HOME".to_string(), profile.display().to_string())].into();
        assert_eq!(sources(codex, &homes, &home, &env).len(), 1);
        let gemini = find("gemini").unwrap();
        assert_eq!(
            sources(gemini, &[], &home, &Env::new())[0].profile,
            "@gemini"
        );
        std::fs::remove_dir_all(&root).unwrap();
    }
}
