//! The usage views beyond `GET /api/usage`: five-hour billing blocks with burn rate and
//! projection ([`blocks`]), the daily/weekly/monthly/session reports and the export
//! ([`reports`]), the providers' limits per profile ([`limits`]), budgets with their
//! alerts and hard stops ([`budgets`]), and the status line an agent asks for
//! ([`statusline`]).
//!
//! [`Meter`] is the handle they run on: the store, the catalogue (prices), the event bus,
//! and a little state kept in memory so the status line answers without scanning: the
//! active block per profile (recomputed only after usage changed: a generation counter
//! bumped on `usage_recorded`), the last budget evaluation, and what each profile's
//! status line reported last. Budgets are evaluated by a task ([`watch`]) on usage and
//! limit changes and every 30 seconds (a day, a month or a window starting over); its
//! stops reach the proxies through the supervisor's watch channel.

pub mod blocks;
pub mod budgets;
pub mod export;
pub mod limits;
pub mod reports;
pub mod statusline;
mod watch;

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};

use crate::events::EventBus;
use crate::registry::{Catalogue, Price};
use crate::shared::Shared;
use crate::store::daily::DayRow;
use crate::store::profiles as profiles_db;
use crate::store::{Store, StoreError};
use crate::supervisor::Stops;
use crate::usage::budget::BudgetState;

#[derive(Debug, thiserror::Error)]
pub enum MeterError {
    #[error("{0}")]
    Invalid(String),
    #[error("{0}")]
    NotFound(String),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// A cached active block: the generation and time it was computed for, and the block.
type ActiveEntry = (u64, i64, Option<crate::usage::blocks::Block>);

#[derive(Clone)]
pub struct Meter {
    inner: Arc<Inner>,
}

struct Inner {
    store: Store,
    catalogue: Shared<Catalogue>,
    events: EventBus,
    stops: tokio::sync::watch::Sender<Stops>,
    /// Bumped after every usage change; cached views older than it are recomputed.
    generation: AtomicU64,
    /// Per profile: its active block as last computed.
    active: Mutex<HashMap<String, ActiveEntry>>,
    /// The last budget evaluation.
    budgets: RwLock<Vec<BudgetState>>,
    /// Serialises evaluations (the watcher's and an API change's).
    evaluating: tokio::sync::Mutex<()>,
    /// Per profile: what its status line reported last.
    reported: Mutex<HashMap<String, statusline::Reported>>,
    wake: tokio::sync::Notify,
}

impl Meter {
    pub fn new(
        store: Store,
        catalogue: Shared<Catalogue>,
        events: EventBus,
        stops: tokio::sync::watch::Sender<Stops>,
    ) -> Self {
        Self {
            inner: Arc::new(Inner {
                store,
                catalogue,
                events,
                stops,
                generation: AtomicU64::new(0),
                active: Mutex::new(HashMap::new()),
                budgets: RwLock::new(Vec::new()),
                evaluating: tokio::sync::Mutex::new(()),
                reported: Mutex::new(HashMap::new()),
                wake: tokio::sync::Notify::new(),
            }),
        }
    }

    /// Starts the budget watcher (on the current runtime); it ends with the bus.
    pub fn start(&self) {
        tokio::spawn(watch::run(self.clone()));
    }

    fn store(&self) -> &Store {
        &self.inner.store
    }

    fn generation(&self) -> u64 {
        self.inner.generation.load(Ordering::Acquire)
    }

    /// Usage changed: cached views are stale, budgets are evaluated again.
    pub fn usage_changed(&self) {
        self.inner.generation.fetch_add(1, Ordering::AcqRel);
        self.inner.wake.notify_one();
    }

    /// The profiles a `profile` and/or `agent` filter selects (`None`: all). An agent
    /// selects its profiles and its pseudo-profile `@<agent>`.
    async fn select(&self, scope: &reports::Scope) -> Result<Option<Vec<String>>, MeterError> {
        let profile = scope.profile.as_deref();
        let Some(agent) = scope.agent.as_deref() else {
            return Ok(profile.map(|p| vec![p.to_string()]));
        };
        if self.inner.catalogue.get().agent(agent).is_none() {
            return Err(MeterError::Invalid(format!("Unknown agent '{agent}'")));
        }
        let a = agent.to_string();
        let rows = self
            .store()
            .read(move |c| profiles_db::list(c, Some(&a)))
            .await?;
        let mut all: Vec<String> = rows.into_iter().map(|r| r.alias).collect();
        all.push(format!("@{agent}"));
        Ok(Some(match profile {
            Some(p) => all.into_iter().filter(|a| a == p).collect(),
            None => all,
        }))
    }
}

/// Prices looked up once per model name (no allocation when the name was seen).
pub(crate) struct Prices<'a> {
    catalogue: &'a Catalogue,
    seen: HashMap<String, Option<Price>>,
    /// Models without a price that had tokens.
    unpriced: std::collections::BTreeSet<String>,
}

impl<'a> Prices<'a> {
    pub fn new(catalogue: &'a Catalogue) -> Self {
        Self {
            catalogue,
            seen: HashMap::new(),
            unpriced: Default::default(),
        }
    }

    pub fn get(&mut self, model: &str) -> Option<Price> {
        if let Some(p) = self.seen.get(model) {
            return *p;
        }
        let p = self.catalogue.price(model).copied();
        self.seen.insert(model.to_string(), p);
        p
    }

    /// Models that had tokens but no price, sorted.
    pub fn unpriced(&self) -> Vec<String> {
        self.unpriced.iter().cloned().collect()
    }

    pub fn cost(
        &mut self,
        model: &str,
        t: &crate::tokens::Tokens,
    ) -> crate::usage::pricing::ExactCost {
        self.cost_row(
            model,
            &DayRow {
                tokens: *t,
                ..DayRow::default()
            },
        )
    }

    /// A rollup row's cost: its long-context requests at the model's long-context prices.
    pub fn cost_row(&mut self, model: &str, row: &DayRow) -> crate::usage::pricing::ExactCost {
        match self.get(model) {
            Some(p) => crate::usage::pricing::ExactCost::of_row(row, &p),
            None => {
                if row.tokens.total() > 0 && !self.unpriced.contains(model) {
                    self.unpriced.insert(model.to_string());
                }
                Default::default()
            }
        }
    }

    /// One stored event's cost (`count` 1: one request, long-context when its context is
    /// over the threshold; more: a rollup bucket or an aggregate source, at base prices).
    pub fn cost_event(
        &mut self,
        model: &str,
        t: &crate::tokens::Tokens,
        source: &str,
        count: u64,
    ) -> crate::usage::pricing::ExactCost {
        let one_request = count == 1 && !crate::records::AGGREGATE_SOURCES.contains(&source);
        let long = if one_request && t.is_long_context() {
            *t
        } else {
            Default::default()
        };
        self.cost_row(
            model,
            &DayRow {
                tokens: *t,
                long,
                last_ts: 0,
            },
        )
    }
}
