//! The live import: the daemon watches every agent's data directories (each profile's
//! home and the agents' default homes) and imports what is written there, so a usage
//! line appears in `GET /api/usage` and on `/ws/events` within a second, with no import
//! command.
//!
//! One task owns the watch (inotify on Linux, FSEvents on macOS, through `notify`). The
//! kernel queue wakes it only when something is written: idle, it sleeps on a channel,
//! with no timer. After the first event it gathers the others for [`GATHER`] and imports
//! only the files they name, through the same incremental driver as `POST
//! /api/usage/import` (under the same lock), from where the last read stopped. A file
//! truncated or replaced under its name is read from its start (its inode changed or it
//! shrank); a deleted one changes nothing counted. A new directory, a lost event queue
//! (`Rescan`) or the creation of a directory that did not exist (watched through its
//! nearest existing parent) re-plans the watch and imports the agent whole (unchanged
//! files are not opened). Profiles created or deleted re-plan it too. At start it
//! imports everything once, catching up on what was written while it was down.

mod plan;

use std::collections::HashSet;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use notify::{EventKind, RecursiveMode, Watcher as _};
use serde_json::json;
use tokio::sync::mpsc;

use crate::events::EventBus;
use crate::paths::Env;
use crate::store::Store;
use crate::usage::agents::AgentLogs;
use crate::usage::import::Progress;
use crate::usage::logs;
use plan::Plan;

/// How long changes are gathered after the first, so a burst is one import.
const GATHER: Duration = Duration::from_millis(25);

/// What the watcher needs: narrow resources, never the daemon's state.
pub struct Context {
    pub store: Store,
    pub bus: EventBus,
    pub env: Env,
    pub user_home: PathBuf,
    /// Held during an import (shared with the API's imports).
    pub import_lock: Arc<tokio::sync::Mutex<()>>,
}

enum Signal {
    Paths(Vec<PathBuf>, bool),
    Rescan,
}

/// Starts the watcher; it runs until the process ends.
pub fn start(cx: Context) {
    let (tx, rx) = mpsc::unbounded_channel::<Signal>();
    let sender = tx.clone();
    let watcher = notify::recommended_watcher(move |res: notify::Result<notify::Event>| {
        let signal = match res {
            Ok(ev) if ev.need_rescan() => Signal::Rescan,
            Ok(ev) => {
                if matches!(ev.kind, EventKind::Access(_)) && !is_close_write(&ev.kind) {
                    return;
                }
                // Directories appearing or going, and renames: the watch may have to
                // change (files come and go through plain modify, create and remove).
                use notify::event::{CreateKind, ModifyKind, RemoveKind};
                let structural = matches!(
                    ev.kind,
                    EventKind::Create(CreateKind::Folder | CreateKind::Any)
                        | EventKind::Remove(RemoveKind::Folder | RemoveKind::Any)
                        | EventKind::Modify(ModifyKind::Name(_))
                );
                Signal::Paths(ev.paths, structural)
            }
            Err(_) => Signal::Rescan,
        };
        let _ = sender.send(signal);
    });
    let watcher = match watcher {
        Ok(w) => w,
        Err(e) => {
            tracing::warn!(
                "cannot watch the agents' data directories ({e}); usage is imported on request only"
            );
            return;
        }
    };
    tokio::spawn(run(cx, watcher, rx));
}

fn is_close_write(kind: &EventKind) -> bool {
    matches!(
        kind,
        EventKind::Access(notify::event::AccessKind::Close(
            notify::event::AccessMode::Write
        ))
    )
}

async fn build_plan(cx: &Context) -> Option<Plan> {
    let homes = match cx.store.read(logs::all_homes).await {
        Ok(h) => h,
        Err(e) => {
            tracing::warn!("usage watch: cannot list profiles: {e}");
            return None;
        }
    };
    let (home, env) = (cx.user_home.clone(), cx.env.clone());
    tokio::task::spawn_blocking(move || Plan::build(&homes, &home, &env))
        .await
        .ok()
}

/// Makes the watcher watch exactly `plan`'s directories.
fn apply(
    watcher: &mut notify::RecommendedWatcher,
    current: &mut std::collections::BTreeMap<PathBuf, bool>,
    plan: &Plan,
) {
    for (dir, rec) in current.clone() {
        if plan.watches.get(&dir) != Some(&rec) {
            let _ = watcher.unwatch(&dir);
            current.remove(&dir);
        }
    }
    for (dir, rec) in &plan.watches {
        if current.contains_key(dir) {
            continue;
        }
        let mode = if *rec {
            RecursiveMode::Recursive
        } else {
            RecursiveMode::NonRecursive
        };
        match watcher.watch(dir, mode) {
            Ok(()) => {
                current.insert(dir.clone(), *rec);
            }
            Err(e) => tracing::warn!("usage watch: cannot watch {}: {e}", dir.display()),
        }
    }
}

async fn run(
    cx: Context,
    mut watcher: notify::RecommendedWatcher,
    mut rx: mpsc::UnboundedReceiver<Signal>,
) {
    let mut watched = Default::default();
    let mut profiles = cx.bus.subscribe();
    let Some(mut plan) = build_plan(&cx).await else {
        return;
    };
    apply(&mut watcher, &mut watched, &plan);
    // Catch up with what was written while the daemon was not running.
    import(&cx, &plan, all_agents(&plan), None).await;
    loop {
        let first = tokio::select! {
            s = rx.recv() => match s { Some(s) => s, None => return },
            ev = profiles.recv() => match ev {
                Ok(e) if profiles_changed(e.kind) => Signal::Rescan,
                Ok(_) => continue,
                Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => Signal::Rescan,
                Err(_) => return,
            },
        };
        let mut signals = vec![first];
        let deadline = tokio::time::Instant::now() + GATHER;
        while let Ok(Some(s)) = tokio::time::timeout_at(deadline, rx.recv()).await {
            signals.push(s);
        }
        // Profiles created or deleted meanwhile are one re-plan with this one, not one
        // each (a thousand creates would otherwise queue a thousand full imports).
        loop {
            match profiles.try_recv() {
                Ok(e) if profiles_changed(e.kind) => signals.push(Signal::Rescan),
                // Events were missed: whatever they were, re-plan.
                Err(tokio::sync::broadcast::error::TryRecvError::Lagged(_)) => {
                    signals.push(Signal::Rescan);
                }
                Ok(_) => {}
                Err(_) => break,
            }
        }
        let mut changed: HashSet<PathBuf> = HashSet::new();
        let mut whole: Vec<&'static AgentLogs> = Vec::new();
        let mut replan = false;
        for s in signals {
            match s {
                Signal::Rescan => replan = true,
                Signal::Paths(paths, structural) => {
                    for p in paths {
                        if !plan.pending_at(&p).is_empty() {
                            replan = true;
                        }
                        let Some(agent) = plan.agent_of(&p) else {
                            let under = plan
                                .agents
                                .iter()
                                .any(|(_, s)| s.iter().any(|s| p.starts_with(&s.dir)));
                            if structural && under {
                                replan = true;
                            }
                            continue;
                        };
                        if p.ends_with("stats-cache.json") || structural {
                            if !whole.iter().any(|a| a.id == agent.id) {
                                whole.push(agent);
                            }
                        } else {
                            changed.insert(p);
                        }
                    }
                }
            }
        }
        if replan {
            if let Some(p) = build_plan(&cx).await {
                plan = p;
            }
            apply(&mut watcher, &mut watched, &plan);
            import(&cx, &plan, all_agents(&plan), None).await;
            continue;
        }
        if !whole.is_empty() {
            import(&cx, &plan, whole.clone(), None).await;
        }
        let live: Vec<&'static AgentLogs> = plan
            .agents
            .iter()
            .map(|(a, _)| *a)
            .filter(|a| !whole.iter().any(|w| w.id == a.id))
            .filter(|a| {
                changed
                    .iter()
                    .any(|p| plan.agent_of(p).is_some_and(|x| x.id == a.id))
            })
            .collect();
        if !live.is_empty() {
            import(&cx, &plan, live, Some(changed)).await;
        }
    }
}

/// Whether a bus event says the profiles (and with them the homes to watch) changed.
fn profiles_changed(kind: &str) -> bool {
    kind == "profile_created" || kind == "profile_deleted"
}

fn all_agents(plan: &Plan) -> Vec<&'static AgentLogs> {
    plan.agents.iter().map(|(a, _)| *a).collect()
}

/// Imports `agents` (only the `changed` files, when given) and announces what changed.
async fn import(
    cx: &Context,
    plan: &Plan,
    agents: Vec<&'static AgentLogs>,
    changed: Option<HashSet<PathBuf>>,
) {
    let _running = cx.import_lock.lock().await;
    // Whose proxy records their usage, as of now (a proxy enabled a moment ago counts).
    let proxied = match cx.store.read(logs::proxied_profiles).await {
        Ok(p) => p,
        Err(e) => {
            tracing::warn!("usage watch: cannot read the profiles: {e}");
            return;
        }
    };
    let jobs: Vec<(&'static AgentLogs, Vec<crate::usage::import::ImportSource>)> = agents
        .into_iter()
        .map(|a| {
            let mut sources = plan.sources(a.id).to_vec();
            logs::mark_proxied(&mut sources, &proxied);
            (a, sources)
        })
        .filter(|(_, s)| !s.is_empty())
        .collect();
    if jobs.is_empty() {
        return;
    }
    let store = cx.store.clone();
    let started = std::time::Instant::now();
    let files = changed.as_ref().map(|c| c.len());
    let done = tokio::task::spawn_blocking(move || {
        let tz = jiff::tz::TimeZone::system();
        let quiet = |_: Progress| {};
        let mut out = Vec::new();
        for (agent, sources) in jobs {
            match logs::run(&store, agent, &sources, &tz, changed.as_ref(), &quiet) {
                Ok(s) => out.push(s),
                Err(e) => tracing::warn!("usage watch: importing {} failed: {e}", agent.id),
            }
        }
        out
    })
    .await
    .unwrap_or_default();
    tracing::debug!(
        "usage watch: imported {} changed files in {:?}",
        files.map(|n| n.to_string()).unwrap_or_else(|| "all".into()),
        started.elapsed()
    );
    let agents: Vec<&str> = done.iter().filter(|s| s.changed).map(|s| s.agent).collect();
    if agents.is_empty() {
        return;
    }
    let events: u64 = done
        .iter()
        .map(|s| s.events_added + s.events_replaced)
        .sum();
    for s in done.iter().filter(|s| s.changed) {
        tracing::debug!("{}", s.summary);
    }
    cx.bus.publish(
        "usage_recorded",
        json!({"source": "watch", "agents": agents, "events": events}),
    );
}
