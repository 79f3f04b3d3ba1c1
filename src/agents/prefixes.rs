//! The places per-user installers put programs, which a service manager's PATH lacks:
//! `~/.local/bin`, npm's user prefix, bun, volta, yarn, pnpm, opencode's installer, nvm's
//! node versions, and the system prefixes `/usr/local/bin` and `/opt/homebrew/bin`.
//! Read from the file system and the environment only (no program is started).

use std::path::{Path, PathBuf};

use crate::paths::Env;

/// The usual places per-user installers put programs, then the system prefixes a
/// service manager's PATH may lack; only those that exist.
pub fn user_prefixes(home: &Path, env: &Env) -> Vec<PathBuf> {
    let mut dirs = vec![home.join(".local/bin")];
    if let Some(prefix) = npm_prefix(home, env) {
        dirs.push(prefix.join("bin"));
    }
    for d in [
        ".npm-global/bin",
        ".npm-packages/bin",
        ".bun/bin",
        ".volta/bin",
        ".yarn/bin",
        ".local/share/pnpm",
        ".opencode/bin",
    ] {
        dirs.push(home.join(d));
    }
    if let Some(pnpm) = env.get("PNPM_HOME") {
        dirs.push(PathBuf::from(pnpm));
    }
    let nvm = env
        .get("NVM_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| home.join(".nvm"));
    dirs.extend(nvm_bins(&nvm));
    dirs.push(PathBuf::from("/usr/local/bin"));
    dirs.push(PathBuf::from("/opt/homebrew/bin"));
    dirs.retain(|d| d.is_absolute() && d.is_dir());
    dirs
}

/// npm's global prefix for this user: `NPM_CONFIG_PREFIX`, else `prefix=` in `~/.npmrc`
/// (read, not asked of npm: starting node costs more than the whole search).
fn npm_prefix(home: &Path, env: &Env) -> Option<PathBuf> {
    let expand = |v: &str| {
        let v = v.trim().trim_matches('"');
        let v = v
            .replace("${HOME}", &home.display().to_string())
            .replace("$HOME", &home.display().to_string());
        match v.strip_prefix("~/") {
            Some(rest) => home.join(rest),
            None => PathBuf::from(v),
        }
    };
    if let Some(v) = env
        .get("NPM_CONFIG_PREFIX")
        .or_else(|| env.get("npm_config_prefix"))
    {
        return Some(expand(v));
    }
    let npmrc = std::fs::read_to_string(home.join(".npmrc")).ok()?;
    npmrc.lines().find_map(|line| {
        let (k, v) = line.split_once('=')?;
        (k.trim() == "prefix").then(|| expand(v))
    })
}

/// nvm's node versions' `bin` directories: the default alias's version first, then the
/// others from the newest.
fn nvm_bins(nvm: &Path) -> Vec<PathBuf> {
    let Ok(entries) = std::fs::read_dir(nvm.join("versions/node")) else {
        return Vec::new();
    };
    let mut versions: Vec<(Vec<u64>, String)> = entries
        .filter_map(Result::ok)
        .filter_map(|e| {
            let name = e.file_name().to_string_lossy().to_string();
            let parts = name
                .strip_prefix('v')?
                .split('.')
                .map(|p| p.parse().ok())
                .collect::<Option<Vec<u64>>>()?;
            Some((parts, name))
        })
        .collect();
    versions.sort_by(|a, b| b.0.cmp(&a.0));
    let alias = std::fs::read_to_string(nvm.join("alias/default")).unwrap_or_default();
    let alias = alias.trim().trim_start_matches('v');
    let default = versions.iter().position(|(_, name)| {
        let v = name.trim_start_matches('v');
        !alias.is_empty()
            && alias.starts_with(|c: char| c.is_ascii_digit())
            && (v == alias || v.starts_with(&format!("{alias}.")))
    });
    if let Some(i) = default {
        let d = versions.remove(i);
        versions.insert(0, d);
    }
    versions
        .into_iter()
        .map(|(_, name)| nvm.join("versions/node").join(name).join("bin"))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn temp(name: &str) -> PathBuf {
        let d = std::env::temp_dir().join(format!("clown-prefixes-{}-{name}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        std::fs::create_dir_all(&d).unwrap();
        d
    }

    #[test]
    fn per_user_prefixes_that_exist() {
        let home = temp("prefixes");
        for d in [".local/bin", ".bun/bin", "custom-npm/bin"] {
            std::fs::create_dir_all(home.join(d)).unwrap();
        }
        std::fs::write(home.join(".npmrc"), "fund=false\nprefix = ~/custom-npm\n").unwrap();
        let dirs = user_prefixes(&home, &Env::new());
        assert_eq!(dirs[0], home.join(".local/bin"));
        assert_eq!(dirs[1], home.join("custom-npm/bin"));
        assert_eq!(dirs[2], home.join(".bun/bin"));
        assert!(
            !dirs.contains(&home.join(".volta/bin")),
            "missing ones are left out"
        );
        std::fs::remove_dir_all(&home).unwrap();
    }

    #[test]
    fn nvm_default_version_first() {
        let nvm = temp("nvm");
        for v in ["v18.20.1", "v22.3.0", "v20.11.0", "v22.10.1", "notaversion"] {
            std::fs::create_dir_all(nvm.join("versions/node").join(v).join("bin")).unwrap();
        }
        let names = |dirs: Vec<PathBuf>| {
            dirs.iter()
                .map(|d| {
                    d.parent()
                        .unwrap()
                        .file_name()
                        .unwrap()
                        .to_string_lossy()
                        .to_string()
                })
                .collect::<Vec<_>>()
        };
        assert_eq!(
            names(nvm_bins(&nvm)),
            ["v22.10.1", "v22.3.0", "v20.11.0", "v18.20.1"]
        );
        std::fs::create_dir_all(nvm.join("alias")).unwrap();
        std::fs::write(nvm.join("alias/default"), "20\n").unwrap();
        assert_eq!(
            names(nvm_bins(&nvm)),
            ["v20.11.0", "v22.10.1", "v22.3.0", "v18.20.1"]
        );
        std::fs::write(nvm.join("alias/default"), "v22.3.0").unwrap();
        assert_eq!(names(nvm_bins(&nvm))[0], "v22.3.0");
        std::fs::remove_dir_all(&nvm).unwrap();
    }
}
