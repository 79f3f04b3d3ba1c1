//! Where Claude Code's data lives, and whose it is: an explicit directory, or every
//! default location (`CLAUDE_CONFIG_DIR`, `~/.config/claude`, `~/.claude`) and each claude
//! profile's home. Data in a profile's home is that profile's; the rest belongs to the
//! pseudo-profile [`super::UNASSIGNED_PROFILE`].

use std::collections::HashSet;
use std::path::{Path, PathBuf};

use super::{ImportSource, UNASSIGNED_PROFILE};

/// The sources to import. `homes` are the claude profiles' (alias, home); `config_dirs`
/// is `CLAUDE_CONFIG_DIR` (comma-separated, absolute paths only); `explicit` a directory
/// asked for by name, which must exist.
pub fn sources(
    homes: &[(String, PathBuf)],
    user_home: &Path,
    config_dirs: Option<&str>,
    explicit: Option<&str>,
) -> Result<Vec<ImportSource>, String> {
    let owner = |dir: &Path| -> String {
        let canon = dir.canonicalize().unwrap_or_else(|_| dir.to_path_buf());
        homes
            .iter()
            .find(|(_, home)| home.canonicalize().ok().as_deref() == Some(canon.as_path()))
            .map(|(alias, _)| alias.clone())
            .unwrap_or_else(|| UNASSIGNED_PROFILE.to_string())
    };
    if let Some(dir) = explicit {
        let path = PathBuf::from(dir);
        if !path.is_absolute() || !path.is_dir() {
            return Err(format!(
                "Claude directory '{dir}' does not exist (give an absolute path to a directory)"
            ));
        }
        return Ok(vec![ImportSource {
            profile: owner(&path),
            dir: path,
            proxied: false,
        }]);
    }
    let mut dirs: Vec<PathBuf> = config_dirs
        .map(|v| {
            v.split(',')
                .map(|s| PathBuf::from(s.trim()))
                .filter(|p| p.is_absolute())
                .collect()
        })
        .unwrap_or_default();
    dirs.push(user_home.join(".config/claude"));
    dirs.push(user_home.join(".claude"));
    dirs.extend(homes.iter().map(|(_, home)| home.clone()));
    let mut seen = HashSet::new();
    let mut out = Vec::new();
    for dir in dirs {
        if !dir.is_dir() {
            continue;
        }
        let canon = dir.canonicalize().unwrap_or_else(|_| dir.clone());
        if seen.insert(canon) {
            out.push(ImportSource {
                profile: owner(&dir),
                dir,
                proxied: false,
            });
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn profiles_own_their_homes_and_the_rest_is_unassigned() {
        let root = std::env::temp_dir().join(format!("clown-sources-{}", std::process::id()));
        let home = root.join("home");
        let profile = home.join(".claude-profiles/work");
        for d in [&profile, &home.join(".claude")] {
            std::fs::create_dir_all(d).unwrap();
        }
        let homes = vec![("work".to_string(), profile.clone())];
        let found = sources(&homes, &home, Some("relative,/nonexistent"), None).unwrap();
        let pairs: Vec<(String, PathBuf)> = found.into_iter().map(|s| (s.profile, s.dir)).collect();
        assert_eq!(
            pairs,
            vec![
                (UNASSIGNED_PROFILE.to_string(), home.join(".claude")),
                ("work".to_string(), profile.clone()),
            ]
        );
        let one = sources(&homes, &home, None, Some(profile.to_str().unwrap())).unwrap();
        assert_eq!(one[0].profile, "work");
        assert!(sources(&homes, &home, None, Some("relative")).is_err());
        std::fs::remove_dir_all(&root).unwrap();
    }
}
