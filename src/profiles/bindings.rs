//! Profiles bound to projects: `clown bind ALIAS` writes `.clown-profile` (the alias on
//! one line) into a directory; `clown run` and new terminal sessions started in that
//! directory or below it use that profile, found by walking up from the working
//! directory. The file decides; the `bindings` table lists the bindings made here or
//! found by a resolution, for the API and the UI.

use std::path::{Path, PathBuf};

use serde::Serialize;
use serde_json::json;

use super::{ProfileError, Profiles, valid_alias};
use crate::store::bindings as db;

/// The file that binds a directory.
pub const BINDING_FILE: &str = ".clown-profile";

/// A listed binding, with what its file says now.
#[derive(Debug, Serialize)]
pub struct Binding {
    pub dir: String,
    pub profile: String,
    pub created_at: String,
    /// The alias the directory's file names now (`null`: the file is gone).
    pub file_profile: Option<String>,
    pub profile_exists: bool,
}

/// The alias in `dir`'s binding file, if it holds a valid one.
pub fn read_binding(dir: &Path) -> Option<String> {
    let path = dir.join(BINDING_FILE);
    let meta = std::fs::symlink_metadata(&path).ok()?;
    if !meta.is_file() || meta.len() > 256 {
        return None;
    }
    let text = std::fs::read_to_string(&path).ok()?;
    let alias = text.lines().next()?.trim().to_string();
    valid_alias(&alias).then_some(alias)
}

/// The nearest directory from `dir` up with a binding, and its alias.
pub fn find_binding(dir: &Path) -> Option<(PathBuf, String)> {
    dir.ancestors()
        .find_map(|d| read_binding(d).map(|alias| (d.to_path_buf(), alias)))
}

fn check_dir(dir: &Path) -> Result<(), ProfileError> {
    if !dir.is_absolute() || !dir.is_dir() {
        return Err(ProfileError::Invalid(format!(
            "'{}' is not an existing directory (an absolute path is needed)",
            dir.display()
        )));
    }
    Ok(())
}

impl Profiles {
    /// Binds `dir` to `alias`: writes its `.clown-profile`.
    pub async fn bind(&self, dir: &Path, alias: &str) -> Result<(), ProfileError> {
        check_dir(dir)?;
        self.row(alias).await?;
        let path = dir.join(BINDING_FILE);
        if std::fs::symlink_metadata(&path).is_ok_and(|m| !m.is_file()) {
            return Err(ProfileError::Conflict(format!(
                "{} exists and is not a file; remove it first",
                path.display()
            )));
        }
        std::fs::write(&path, format!("{alias}\n"))
            .map_err(|e| ProfileError::Invalid(format!("cannot write {}: {e}", path.display())))?;
        let (d, a, now) = (
            dir.display().to_string(),
            alias.to_string(),
            crate::time::now_rfc3339(),
        );
        self.r.store.call(move |c| db::put(c, &d, &a, &now)).await?;
        self.r
            .events
            .publish("binding_changed", json!({"dir": dir, "profile": alias}));
        Ok(())
    }

    /// Removes `dir`'s binding (its file, when it is one); `false` when there was none.
    pub async fn unbind(&self, dir: &Path) -> Result<bool, ProfileError> {
        check_dir(dir)?;
        let had_file = read_binding(dir).is_some();
        if had_file {
            std::fs::remove_file(dir.join(BINDING_FILE)).map_err(|e| {
                ProfileError::Internal(format!(
                    "cannot remove the binding in {}: {e}",
                    dir.display()
                ))
            })?;
        }
        let d = dir.display().to_string();
        let listed = self.r.store.call(move |c| db::delete(c, &d)).await?;
        if had_file || listed {
            self.r
                .events
                .publish("binding_changed", json!({"dir": dir, "profile": null}));
        }
        Ok(had_file || listed)
    }

    /// The bindings made or found, with what their files say now.
    pub async fn bindings(&self) -> Result<Vec<Binding>, ProfileError> {
        let rows = self.r.store.read(db::list).await?;
        let profiles: Vec<String> = self
            .list(None)
            .await?
            .into_iter()
            .map(|r| r.alias)
            .collect();
        Ok(rows
            .into_iter()
            .map(|r| {
                let file_profile = read_binding(Path::new(&r.dir));
                Binding {
                    profile_exists: profiles.contains(&r.profile),
                    dir: r.dir,
                    profile: r.profile,
                    created_at: r.created_at,
                    file_profile,
                }
            })
            .collect())
    }

    /// The profile bound to `dir` or the nearest directory above it; a binding found
    /// this way is listed from then on.
    pub async fn resolve_binding(&self, dir: &Path) -> Result<(PathBuf, String), ProfileError> {
        check_dir(dir)?;
        let (found, alias) = find_binding(dir).ok_or_else(|| {
            ProfileError::NotFound(format!(
                "No profile is bound to {} or a directory above it; bind one with 'clown bind ALIAS'",
                dir.display()
            ))
        })?;
        let (d, a, now) = (
            found.display().to_string(),
            alias.clone(),
            crate::time::now_rfc3339(),
        );
        self.r
            .store
            .call(move |c| {
                if !db::has(c, &d, &a)? {
                    db::put(c, &d, &a, &now)?;
                }
                Ok(())
            })
            .await?;
        Ok((found, alias))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_nearest_binding_above_wins() {
        let root = std::env::temp_dir().join(format!("clown-bind-{}", std::process::id()));
        let deep = root.join("a/b/c");
        std::fs::create_dir_all(&deep).unwrap();
        std::fs::write(root.join(BINDING_FILE), "outer\n").unwrap();
        std::fs::write(root.join("a").join(BINDING_FILE), "inner\n").unwrap();
        assert_eq!(find_binding(&deep), Some((root.join("a"), "inner".into())));
        std::fs::write(root.join("a").join(BINDING_FILE), "../../etc\n").unwrap();
        assert_eq!(find_binding(&deep), Some((root.clone(), "outer".into())));
        std::fs::remove_dir_all(&root).unwrap();
    }
}
