//! Projecting the setup into profile homes, the drift of each home since, and adopting
//! drift into the setup.

use std::path::{Path, PathBuf};

use serde::Serialize;
use serde_json::{Value, json};

use super::engine::{self, Change, Drift, FileRecord, Recorded};
use super::formats::{self, FileTarget, Format};
use super::model::{Setup, hint};
use super::{SetupError, SharedSetup, folders};
use crate::agents::prepare::profile_home;
use crate::store::profiles::{self as profiles_db, ProfileRow};
use crate::store::setup::{self as db, ProjectionRow};

/// What a projection did in one profile's home.
#[derive(Debug, Serialize)]
pub struct ProfileReport {
    pub profile: String,
    pub agent_id: String,
    /// Whether the setup reaches this agent at all.
    pub supported: bool,
    pub changes: Vec<Change>,
    pub error: Option<String>,
}

/// A profile's drift.
#[derive(Debug, Serialize)]
pub struct ProfileDrift {
    pub profile: String,
    pub agent_id: String,
    pub drift: Vec<Drift>,
    pub error: Option<String>,
}

/// Shows `value` of `item` with secret-looking parts as hints.
pub fn redact(item: &str, value: &Value) -> Value {
    let mut v = value.clone();
    if item.starts_with("mcp:") {
        for key in ["env", "headers", "http_headers", "environment"] {
            if let Some(m) = v.get_mut(key).and_then(Value::as_object_mut) {
                for x in m.values_mut() {
                    if let Some(s) = x.as_str() {
                        *x = json!(hint(s));
                    }
                }
            }
        }
    } else if item == "env"
        && let Some(s) = v.as_str()
    {
        v = json!(hint(s));
    }
    v
}

fn records_of(rows: Vec<ProjectionRow>) -> Vec<FileRecord> {
    rows.into_iter()
        .map(|r| FileRecord {
            rel: r.file,
            format: Some(Format::parse(&r.format)),
            entries: serde_json::from_str::<Vec<Recorded>>(&r.entries).unwrap_or_default(),
        })
        .collect()
}

fn rows_of(records: &[FileRecord]) -> Vec<ProjectionRow> {
    records
        .iter()
        .filter(|r| !r.entries.is_empty())
        .map(|r| ProjectionRow {
            file: r.rel.clone(),
            format: r.format.unwrap_or(Format::Json).as_str().into(),
            entries: serde_json::to_string(&r.entries).unwrap_or_else(|_| "[]".into()),
        })
        .collect()
}

/// The files of `agent`'s home the setup goes into for `alias`.
fn targets_for(
    agent: &str,
    alias: &str,
    setup: &Setup,
    dir: &Path,
) -> Result<Vec<FileTarget>, SetupError> {
    let (effective, on) = setup.for_profile(alias).map_err(SetupError::Invalid)?;
    let mut targets = formats::targets(agent, &effective);
    if formats::reads_folders(agent) {
        targets.extend(folders::targets(dir, &on));
    }
    Ok(targets)
}

/// Every file either targeted now or written before, with its format.
fn files<'a>(
    targets: &'a [FileTarget],
    records: &'a [FileRecord],
) -> Vec<(
    String,
    Format,
    Option<&'a FileTarget>,
    Option<&'a FileRecord>,
)> {
    let mut names: Vec<String> = targets.iter().map(|t| t.rel.clone()).collect();
    names.extend(records.iter().map(|r| r.rel.clone()));
    names.sort();
    names.dedup();
    names
        .into_iter()
        .map(|rel| {
            let t = targets.iter().find(|t| t.rel == rel);
            let r = records.iter().find(|r| r.rel == rel);
            let format = t
                .map(|t| t.format)
                .or_else(|| r.and_then(|r| r.format))
                .unwrap_or(Format::Json);
            (rel, format, t, r)
        })
        .collect()
}

fn project_profile(
    home: &Path,
    row: &ProfileRow,
    setup: &Setup,
    dir: &Path,
    records: &[FileRecord],
    overwrite: bool,
) -> Result<(Vec<FileRecord>, Vec<Change>), SetupError> {
    let targets = targets_for(&row.agent_id, &row.alias, setup, dir)?;
    let mut out = Vec::new();
    let mut changes = Vec::new();
    for (rel, format, t, r) in files(&targets, records) {
        // Nothing to write and nothing written before: the file is left alone (not
        // even created).
        if t.is_none_or(|t| t.entries.is_empty()) && r.is_none_or(|r| r.entries.is_empty()) {
            continue;
        }
        let (record, mut c) = engine::apply(home, &rel, format, t, r, overwrite)?;
        out.push(record);
        changes.append(&mut c);
    }
    Ok((out, changes))
}

fn join_err(e: tokio::task::JoinError) -> SetupError {
    SetupError::Internal(e.to_string())
}

impl SharedSetup {
    async fn rows(&self, only: Option<Vec<String>>) -> Result<Vec<ProfileRow>, SetupError> {
        let rows = self.store.read(|c| profiles_db::list(c, None)).await?;
        let Some(only) = only else { return Ok(rows) };
        let mut out = Vec::new();
        for alias in only {
            let row = rows
                .iter()
                .find(|r| r.alias == alias)
                .ok_or_else(|| SetupError::NotFound(format!("Profile '{alias}' not found")))?;
            out.push(row.clone());
        }
        Ok(out)
    }

    fn home_of(&self, row: &ProfileRow) -> PathBuf {
        profile_home(&self.home, &row.agent_id, &row.alias)
    }

    async fn records(&self, alias: &str) -> Result<Vec<FileRecord>, SetupError> {
        let a = alias.to_string();
        Ok(records_of(
            self.store.read(move |c| db::records(c, &a)).await?,
        ))
    }

    /// Writes `setup` into every profile, then tells the subscribers the setup changed
    /// (`setup_changed` with `what`), even when a profile could not be written: a
    /// subscriber that reads a profile's files on the event finds them written.
    pub(super) async fn project_and_announce(
        &self,
        setup: &Setup,
        what: serde_json::Value,
    ) -> Result<Vec<ProfileReport>, SetupError> {
        let applied = self.project_all(setup, None, false).await;
        self.events.publish("setup_changed", what);
        applied
    }

    /// Projects `setup` into the profiles named (all when `None`). Each profile's home
    /// is done on its own: one that fails is reported and the others go on.
    pub(super) async fn project_all(
        &self,
        setup: &Setup,
        only: Option<Vec<String>>,
        overwrite: bool,
    ) -> Result<Vec<ProfileReport>, SetupError> {
        let mut reports = Vec::new();
        for row in self.rows(only).await? {
            let records = self.records(&row.alias).await?;
            let (home, dir, s, r) = (
                self.home_of(&row),
                self.dir.clone(),
                setup.clone(),
                row.clone(),
            );
            let done = tokio::task::spawn_blocking(move || {
                project_profile(&home, &r, &s, &dir, &records, overwrite)
            })
            .await
            .map_err(join_err)?;
            let supported = !formats::targets(&row.agent_id, &Setup::default()).is_empty();
            let report = match done {
                Ok((records, changes)) => {
                    let (alias, rows, now) = (
                        row.alias.clone(),
                        rows_of(&records),
                        crate::time::now_rfc3339(),
                    );
                    self.store
                        .call(move |c| db::put_records(c, &alias, &rows, &now))
                        .await?;
                    ProfileReport {
                        profile: row.alias.clone(),
                        agent_id: row.agent_id.clone(),
                        supported,
                        changes,
                        error: None,
                    }
                }
                Err(e) => ProfileReport {
                    profile: row.alias.clone(),
                    agent_id: row.agent_id.clone(),
                    supported,
                    changes: Vec::new(),
                    error: Some(e.to_string()),
                },
            };
            reports.push(report);
        }
        let written: usize = reports
            .iter()
            .map(|r| r.changes.iter().filter(|c| c.action != "theirs").count())
            .sum();
        if written > 0 {
            self.events.publish(
                "setup_applied",
                json!({"profiles": reports.iter().map(|r| &r.profile).collect::<Vec<_>>(), "changes": written}),
            );
        }
        Ok(reports)
    }

    async fn drift_of(&self, setup: &Setup, row: &ProfileRow) -> Result<Vec<Drift>, SetupError> {
        let records = self.records(&row.alias).await?;
        let (home, dir, s, r) = (
            self.home_of(row),
            self.dir.clone(),
            setup.clone(),
            row.clone(),
        );
        tokio::task::spawn_blocking(move || {
            let targets = targets_for(&r.agent_id, &r.alias, &s, &dir)?;
            let mut out = Vec::new();
            for (rel, format, t, rec) in files(&targets, &records) {
                out.extend(engine::drift(&home, &rel, format, t, rec)?);
            }
            Ok(out)
        })
        .await
        .map_err(join_err)?
    }

    /// What changed in the homes of `only` (every profile when `None`) since the last
    /// projection, secrets shown as hints.
    pub async fn drift(&self, only: Option<Vec<String>>) -> Result<Vec<ProfileDrift>, SetupError> {
        let setup = self.get().await?;
        let mut out = Vec::new();
        for row in self.rows(only).await? {
            let (drift, error) = match self.drift_of(&setup, &row).await {
                Ok(d) => (d, None),
                Err(e) => (Vec::new(), Some(e.to_string())),
            };
            let drift = drift
                .into_iter()
                .map(|mut d| {
                    d.home = d.home.map(|v| redact(&d.item, &v));
                    d.projected = d.projected.map(|v| redact(&d.item, &v));
                    d
                })
                .collect();
            out.push(ProfileDrift {
                profile: row.alias.clone(),
                agent_id: row.agent_id.clone(),
                drift,
                error,
            });
        }
        Ok(out)
    }

    /// Takes the drift `ids` of `alias`'s home (all of it when `None`) into the setup,
    /// then projects the setup everywhere. Returns the ids adopted.
    pub async fn adopt(
        &self,
        alias: &str,
        ids: Option<Vec<String>>,
    ) -> Result<(Vec<String>, Vec<ProfileReport>), SetupError> {
        let _one = self.lock.lock().await;
        let row = self.rows(Some(vec![alias.to_string()])).await?.remove(0);
        let mut setup = self.get().await?;
        let all = self.drift_of(&setup, &row).await?;
        let chosen: Vec<Drift> = match &ids {
            None => all,
            Some(ids) => {
                if let Some(missing) = ids.iter().find(|id| !all.iter().any(|d| &d.id == *id)) {
                    return Err(SetupError::NotFound(format!(
                        "No drift '{missing}' in the home of '{alias}' (see GET /api/setup/drift?profile={alias})"
                    )));
                }
                all.into_iter().filter(|d| ids.contains(&d.id)).collect()
            }
        };
        for d in &chosen {
            super::adopt::take(&mut setup, &row.agent_id, d, &self.dir)?;
        }
        setup.validate().map_err(SetupError::Invalid)?;
        let text =
            serde_json::to_string(&setup).map_err(|e| SetupError::Internal(e.to_string()))?;
        let now = crate::time::now_rfc3339();
        self.store.call(move |c| db::put(c, &text, &now)).await?;
        // What this home has now is what was projected: the next projection updates it
        // to the setup's form instead of keeping it as drift.
        let mut records = self.records(alias).await?;
        for d in &chosen {
            let key = d.path.clone();
            let rec = match records.iter_mut().find(|r| r.rel == d.file) {
                Some(r) => r,
                None => {
                    records.push(FileRecord {
                        rel: d.file.clone(),
                        format: None,
                        entries: Vec::new(),
                    });
                    records
                        .last_mut()
                        .ok_or_else(|| SetupError::Internal("no record".into()))?
                }
            };
            rec.entries.retain(|e| e.key != key);
            if let Some(v) = &d.home {
                rec.entries.push(Recorded {
                    key,
                    item: d.item.clone(),
                    value: v.clone(),
                });
            }
        }
        for r in records.iter_mut().filter(|r| r.format.is_none()) {
            r.format = Some(if r.rel.ends_with(".toml") {
                Format::Toml
            } else if r.rel.ends_with(".json") {
                Format::Json
            } else {
                Format::Text
            });
        }
        let (a, rows, now) = (
            alias.to_string(),
            rows_of(&records),
            crate::time::now_rfc3339(),
        );
        self.store
            .call(move |c| db::put_records(c, &a, &rows, &now))
            .await?;
        let reports = self
            .project_and_announce(&setup, json!({"what": "adopted", "profile": alias}))
            .await?;
        Ok((chosen.into_iter().map(|d| d.id).collect(), reports))
    }
}
