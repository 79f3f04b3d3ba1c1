//! `/api/usage`: the usage report, the Claude Code import, and recording usage from
//! clown's own processes (the proxy child, `clown profiles run`, terminal sessions).

use axum::Extension;
use axum::extract::State;
use axum::http::StatusCode;
use serde::Deserialize;
use serde_json::json;

use super::error::{ApiError, ApiResult, ok};
use super::extract::{ApiQuery, JsonBytes, decode};
use crate::app::AppState;
use crate::auth::Caller;
use crate::lane::Pace;
use crate::metrics::requests::Tally;
use crate::pty::attention::ProxyView;
use crate::records::LimitSnapshot;
use crate::records::RequestStatus;
use crate::records::{ProxyRequest, RequestCounts};
use crate::requests::InspectedRequest;
use crate::store::limits as limits_db;
use crate::store::profiles as profiles_db;
use crate::store::usage::{self, UsageEvent, UsageSession};

use crate::usage::machines;
use crate::usage::period::{self, Period};
use crate::usage::query::{self, Filters};

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RecordRequest {
    #[serde(default, deserialize_with = "crate::lane::paced_vec")]
    pub events: Vec<UsageEvent>,
    #[serde(default)]
    pub sessions: Vec<UsageSession>,
    /// Rate-limit headers a proxy saw (`limit_snapshots`).
    #[serde(default)]
    pub limits: Vec<LimitSnapshot>,
    /// Proxy requests (status, timings) for `/metrics`, one by one; kept in memory, not
    /// stored.
    #[serde(default, deserialize_with = "crate::lane::paced_vec")]
    pub requests: Vec<ProxyRequest>,
    /// The same counted per target and status, as proxies send them.
    #[serde(default)]
    pub request_counts: Vec<RequestCounts>,
    /// How requests ended, as a proxy saw them (for the sessions' attention states).
    #[serde(default)]
    pub statuses: Vec<RequestStatus>,
    /// The proxy's requests for the inspector, and its key pool's state (memory only).
    #[serde(default)]
    pub inspected: Vec<crate::requests::InspectedRequest>,
    #[serde(default)]
    pub pool: Option<crate::requests::PoolState>,
    /// Requests a proxy left out of `inspected`: older than the last `inspector.keep` of
    /// the batch, so the profile's ring would not have kept them anyway.
    #[serde(default)]
    pub inspected_skipped: u64,
}

/// Events and sessions per request; about what fits `extract::MAX_RECORD_BYTES`.
const MAX_BATCH: usize = 60_000;

/// How long a batch waits for the bookkeeping lane before its request decodes it itself.
const LANE_PATIENCE: std::time::Duration = std::time::Duration::from_millis(20);

/// `POST /api/usage/record`'s query.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RecordQuery {
    /// The sender is behind (a proxy's reports piling up while every CPU is busy): the
    /// batch is read and stored at the daemon's own priority, without pauses
    /// (`lane::hurried`).
    #[serde(default)]
    backlog: bool,
}

pub async fn record(
    State(state): State<AppState>,
    Extension(who): Extension<Caller>,
    ApiQuery(query): ApiQuery<RecordQuery>,
    JsonBytes(body): JsonBytes,
) -> ApiResult {
    // Decoded and checked on the bookkeeping lane, and there too what stays in memory
    // (the inspector's requests and their event, the requests' counts for `/metrics`): a
    // busy proxy's batches never take a CPU from the requests it serves (see `lane`).
    // A batch from a sender that is behind skips the lane: a lane that has started a job
    // finishes it itself, and with every CPU busy it got so little of one that a proxy's
    // backlog waited 2 s for each post (and the proxy's queue filled). The sender says so
    // rather than the batch's size: a proxy serving one fast connection sends batches of
    // several MiB twice a second, and read and stored without pauses at normal priority
    // they held a woken request for up to a scheduler tick, 4 ms (bench/README.md).
    let app = state.clone();
    let hurry = query.backlog;
    let work = move || crate::lane::hurried(hurry, || read_batch(&app, &body, &who));
    let done = if hurry {
        tokio::task::spawn_blocking(work).await.ok()
    } else {
        crate::lane::bookkeeping().run(LANE_PATIENCE, work).await
    };
    let (req, tally) =
        done.ok_or_else(|| ApiError::internal("the usage batch could not be read"))??;
    save(state, req, tally, hurry).await
}

/// A batch decoded and checked, and what stays in memory taken from it (the inspector's
/// part, the requests counted): on the lane, or at the daemon's priority when hurried.
fn read_batch(
    state: &AppState,
    body: &[u8],
    who: &Caller,
) -> Result<(RecordRequest, Tally), ApiError> {
    let mut req = checked(body, who)?;
    state.inspector().accept(
        state.events(),
        std::mem::take(&mut req.inspected),
        req.pool.take(),
        req.inspected_skipped,
    );
    let tally = Tally::of(&req.request_counts, &req.requests);
    crate::lane::drop_paced(std::mem::take(&mut req.requests));
    Ok((req, tally))
}

/// The batch decoded and every part of it checked: a proxy's token records only its own
/// profile's, and nothing is stored of a batch with anything wrong in it.
fn checked(body: &[u8], who: &Caller) -> Result<RecordRequest, ApiError> {
    let req: RecordRequest = decode(body)?;
    if let Caller::Proxy { profile } = who {
        proxy_scope(&req, profile)?;
    }
    if req.events.len()
        + req.sessions.len()
        + req.limits.len()
        + req.requests.len()
        + req.request_counts.len()
        + req.statuses.len()
        + req.inspected.len()
        > MAX_BATCH
    {
        return Err(ApiError::bad_request(format!(
            "at most {MAX_BATCH} events, sessions, limits and requests per request"
        )));
    }
    // Thousands of events in a busy proxy's batch: checked in pieces (`lane::Pace`).
    let mut pace = Pace::every(256);
    each(&req.requests, "requests", &mut pace, ProxyRequest::validate)?;
    each(
        &req.request_counts,
        "request_counts",
        &mut pace,
        RequestCounts::validate,
    )?;
    each(&req.events, "events", &mut pace, UsageEvent::validate)?;
    each(&req.sessions, "sessions", &mut pace, UsageSession::validate)?;
    each(&req.limits, "limits", &mut pace, LimitSnapshot::validate)?;
    each(
        &req.statuses,
        "statuses",
        &mut pace,
        RequestStatus::validate,
    )?;
    each(
        &req.inspected,
        "inspected",
        &mut pace,
        InspectedRequest::validate,
    )?;
    if let Some(p) = &req.pool {
        p.validate()
            .map_err(|m| ApiError::bad_request(format!("pool: {m}")))?;
    }
    Ok(req)
}

/// Checks every item of a batch's list, naming the first bad one (`events[3]: …`).
fn each<T>(
    items: &[T],
    what: &str,
    pace: &mut Pace,
    check: impl Fn(&T) -> Result<(), String>,
) -> Result<(), ApiError> {
    for (i, item) in items.iter().enumerate() {
        check(item).map_err(|m| ApiError::bad_request(format!("{what}[{i}]: {m}")))?;
        pace.step();
    }
    Ok(())
}

/// Stores a checked batch whose inspector part is taken, then counts its requests
/// (`tally`) for `/metrics`.
async fn save(state: AppState, req: RecordRequest, tally: Tally, hurry: bool) -> ApiResult {
    apply_statuses(&state, &req.statuses);
    let RecordRequest {
        events,
        sessions,
        limits,
        ..
    } = req;
    if events.is_empty() && sessions.is_empty() && limits.is_empty() {
        state.request_stats().add(tally);
        return Ok(ok(
            json!({"events_added": 0, "sessions_added": 0, "limits_changed": 0}),
        ));
    }
    let now = jiff::Timestamp::now().as_second();
    let (added_events, added_sessions, changed) = state
        .store()
        .call(move |c| {
            let (e, s) = crate::lane::hurried(hurry, || {
                let added = usage::record(c, &events, &sessions, now);
                crate::lane::drop_paced(events);
                added
            })?;
            for s in &sessions {
                let when = jiff::Timestamp::from_second(s.ended_at.unwrap_or(s.started_at))
                    .map(crate::time::rfc3339)
                    .unwrap_or_else(|_| crate::time::now_rfc3339());
                profiles_db::touch(c, &s.profile, &when)?;
            }
            let mut changed = Vec::new();
            if !limits.is_empty() {
                for profile in limits_db::record(c, &limits, limits_db::FROM_PROXY)? {
                    if let Some(row) = limits_db::latest(c, &profile)? {
                        changed.push(row);
                    }
                }
            }
            Ok((e, s, changed))
        })
        .await?;
    // After the events: a scrape never shows a request without its tokens.
    state.request_stats().add(tally);
    if added_events + added_sessions > 0 {
        state.meter().usage_changed();
        state.events().publish(
            "usage_recorded",
            json!({"events": added_events, "sessions": added_sessions}),
        );
    }
    for row in &changed {
        state.events().publish(
            "limits_updated",
            json!({"profile": row.snapshot.profile, "limits": crate::usage::limits::view(row)}),
        );
    }
    Ok(ok(
        json!({"events_added": added_events, "sessions_added": added_sessions, "limits_changed": changed.len()}),
    ))
}

/// The proxy's view of its profile's requests, for the profile's running sessions.
fn apply_statuses(state: &AppState, statuses: &[RequestStatus]) {
    for st in statuses {
        let view = match st.outcome.as_str() {
            "rate_limited" => ProxyView::RateLimited,
            "failed" => ProxyView::Failed,
            _ => ProxyView::Ok,
        };
        for session in state.terminals().list() {
            if session.profile == st.profile && session.is_running() {
                session.proxy_view(view, st.message.clone());
            }
        }
    }
}

/// A proxy's usage token records what a proxy records — events of its own profile, with
/// source `proxy`, and the rate limits its own profile's provider sent — and nothing
/// else; a batch with anything more is refused whole (403).
fn proxy_scope(req: &RecordRequest, profile: &str) -> Result<(), ApiError> {
    let refuse = |m: String| Err(ApiError::new(StatusCode::FORBIDDEN, m));
    if !req.sessions.is_empty() {
        return refuse("A proxy's token records events, not sessions".into());
    }
    if let Some(i) = req.limits.iter().position(|l| l.profile != profile) {
        return refuse(format!(
            "limits[{i}]: a proxy's token records only the limits of profile '{profile}'"
        ));
    }
    if req.inspected.iter().any(|r| r.profile != profile)
        || req.pool.as_ref().is_some_and(|p| p.profile != profile)
    {
        return refuse(format!(
            "a proxy's token records only the requests and pool of profile '{profile}'"
        ));
    }
    if let Some(i) = req.requests.iter().position(|r| r.profile != profile) {
        return refuse(format!(
            "requests[{i}]: a proxy's token records only requests of profile '{profile}'"
        ));
    }
    if let Some(i) = req.request_counts.iter().position(|r| r.profile != profile) {
        return refuse(format!(
            "request_counts[{i}]: a proxy's token records only requests of profile '{profile}'"
        ));
    }
    if let Some(i) = req.statuses.iter().position(|s| s.profile != profile) {
        return refuse(format!(
            "statuses[{i}]: a proxy's token reports only requests of profile '{profile}'"
        ));
    }
    match req
        .events
        .iter()
        .position(|e| e.profile != profile || e.source != "proxy")
    {
        Some(i) => refuse(format!(
            "events[{i}]: a proxy's token records only events of profile '{profile}' with source 'proxy'"
        )),
        None => Ok(()),
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UsageQuery {
    #[serde(default)]
    period: Option<String>,
    #[serde(default)]
    profile: Option<String>,
    #[serde(default)]
    model: Option<String>,
    #[serde(default)]
    scope: Option<String>,
}

pub async fn get(State(state): State<AppState>, ApiQuery(q): ApiQuery<UsageQuery>) -> ApiResult {
    let period_id = q.period.clone().unwrap_or_else(|| "today".to_string());
    let period = Period::parse(&period_id).ok_or_else(|| {
        ApiError::bad_request(format!(
            "Invalid period '{period_id}': use one of {}",
            period::NAMES
        ))
    })?;
    let catalogue = state.catalogue();
    let now = jiff::Zoned::now();
    match q.scope.as_deref() {
        None | Some("machine") => {}
        Some("all-machines") => {
            return all_machines(&state, &q, period, &period_id, &now).await;
        }
        Some(other) => {
            return Err(ApiError::bad_request(format!(
                "Invalid scope '{other}': use machine or all-machines"
            )));
        }
    }
    let report = state
        .store()
        .read(move |c| {
            let filters = Filters {
                profile: q.profile.as_deref(),
                model: q.model.as_deref(),
            };
            query::report(c, &catalogue, period, &period_id, &now, &filters)
        })
        .await?;
    Ok(ok(report))
}

/// The report over every machine, from the shared database.
async fn all_machines(
    state: &AppState,
    q: &UsageQuery,
    period: Period,
    period_id: &str,
    now: &jiff::Zoned,
) -> ApiResult {
    use crate::store::postgres::report;
    use crate::sync::SyncUnavailable;
    let client = state.syncer().client().await.map_err(|e| match e {
        SyncUnavailable::NotConfigured => ApiError::new(StatusCode::CONFLICT, e.to_string()),
        SyncUnavailable::Unreachable(_) => ApiError::new(StatusCode::BAD_GATEWAY, e.to_string()),
    })?;
    let (profile, model) = (q.profile.as_deref(), q.model.as_deref());
    let buckets = machines::buckets(period, now);
    let zone = now.time_zone().iana_name();
    let read = async {
        Ok::<_, crate::store::postgres::SharedError>(machines::Shared {
            rows: match report::rows(&client, buckets, profile, model, zone).await {
                // A zone the database does not know: group the buckets here instead.
                Err(_) if zone.is_some() => {
                    report::rows(&client, buckets, profile, model, None).await?
                }
                other => other?,
            },
            sessions: report::sessions(&client, period.range(now), profile).await?,
            machines: report::machines(&client).await?,
        })
    };
    let data = match read.await {
        Ok(d) => d,
        Err(e) => {
            state.syncer().reset_client().await;
            return Err(ApiError::new(
                StatusCode::BAD_GATEWAY,
                format!("the shared database failed: {e}"),
            ));
        }
    };
    let filters = Filters { profile, model };
    let catalogue = state.catalogue();
    Ok(ok(machines::report(
        data, &catalogue, period, period_id, now, &filters,
    )))
}
