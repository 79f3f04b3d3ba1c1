//! `/api/usage/blocks`, `/api/usage/{daily,weekly,monthly,sessions}`, `/api/usage/export`
//! and `/api/usage/limits`: the views of usage beyond the reference's `GET /api/usage`
//! (which keeps its shape). Each parses its query and calls one [`crate::meter::Meter`]
//! use case.

use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;

use super::error::{ApiError, ApiResult, ok};
use super::extract::ApiQuery;
use crate::app::AppState;
use crate::meter::MeterError;
use crate::meter::blocks::BlocksQuery;
use crate::meter::export::{ExportQuery, Format};
use crate::meter::reports::{Kind, ReportQuery, Scope};

impl From<MeterError> for ApiError {
    fn from(e: MeterError) -> Self {
        match e {
            MeterError::Invalid(m) => Self::bad_request(m),
            MeterError::NotFound(m) => Self::not_found(m),
            MeterError::Store(e) => Self::internal(e),
        }
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BlocksParams {
    #[serde(default)]
    profile: Option<String>,
    #[serde(default)]
    agent: Option<String>,
    #[serde(default)]
    period: Option<String>,
    #[serde(default)]
    since: Option<String>,
    #[serde(default)]
    until: Option<String>,
    #[serde(default)]
    active: bool,
    #[serde(default)]
    recent: bool,
}

pub async fn blocks(
    State(state): State<AppState>,
    ApiQuery(q): ApiQuery<BlocksParams>,
) -> ApiResult {
    let report = state
        .meter()
        .blocks(BlocksQuery {
            scope: Scope {
                profile: q.profile,
                agent: q.agent,
                period: q.period,
                since: q.since,
                until: q.until,
            },
            active: q.active,
            recent: q.recent,
        })
        .await?;
    Ok(ok(report))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReportParams {
    #[serde(default)]
    profile: Option<String>,
    #[serde(default)]
    agent: Option<String>,
    #[serde(default)]
    period: Option<String>,
    #[serde(default)]
    since: Option<String>,
    #[serde(default)]
    until: Option<String>,
    #[serde(default)]
    week_start: Option<String>,
}

async fn report(state: AppState, kind: Kind, q: ReportParams) -> ApiResult {
    let report = state
        .meter()
        .report(
            kind,
            ReportQuery {
                scope: Scope {
                    profile: q.profile,
                    agent: q.agent,
                    period: q.period,
                    since: q.since,
                    until: q.until,
                },
                week_start: q.week_start,
            },
        )
        .await?;
    Ok(ok(report))
}

pub async fn daily(
    State(state): State<AppState>,
    ApiQuery(q): ApiQuery<ReportParams>,
) -> ApiResult {
    report(state, Kind::Daily, q).await
}

pub async fn weekly(
    State(state): State<AppState>,
    ApiQuery(q): ApiQuery<ReportParams>,
) -> ApiResult {
    report(state, Kind::Weekly, q).await
}

pub async fn monthly(
    State(state): State<AppState>,
    ApiQuery(q): ApiQuery<ReportParams>,
) -> ApiResult {
    report(state, Kind::Monthly, q).await
}

pub async fn sessions(
    State(state): State<AppState>,
    ApiQuery(q): ApiQuery<ReportParams>,
) -> ApiResult {
    report(state, Kind::Session, q).await
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExportParams {
    #[serde(default)]
    format: Option<String>,
    #[serde(default)]
    granularity: Option<String>,
    #[serde(default)]
    profile: Option<String>,
    #[serde(default)]
    agent: Option<String>,
    #[serde(default)]
    period: Option<String>,
    #[serde(default)]
    since: Option<String>,
    #[serde(default)]
    until: Option<String>,
}

/// Streams the export (CSV or a JSON array) as it is read; a bad query is a 400 envelope.
pub async fn export(
    State(state): State<AppState>,
    ApiQuery(q): ApiQuery<ExportParams>,
) -> Result<Response, ApiError> {
    let (format, rx) = state
        .meter()
        .export(ExportQuery {
            format: q.format,
            granularity: q.granularity,
            scope: Scope {
                profile: q.profile,
                agent: q.agent,
                period: q.period,
                since: q.since,
                until: q.until,
            },
        })
        .await?;
    let stream = futures_util::stream::unfold(rx, |mut rx| async move {
        rx.recv().await.map(|chunk| (chunk, rx))
    });
    let (kind, name) = match format {
        Format::Csv => ("text/csv; charset=utf-8", "clown-usage.csv"),
        Format::Json => ("application/json", "clown-usage.json"),
    };
    let mut resp = (StatusCode::OK, Body::from_stream(stream)).into_response();
    let h = resp.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static(kind));
    if let Ok(v) = HeaderValue::from_str(&format!("attachment; filename=\"{name}\"")) {
        h.insert(header::CONTENT_DISPOSITION, v);
    }
    Ok(resp)
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LimitsParams {
    #[serde(default)]
    profile: Option<String>,
}

pub async fn limits(
    State(state): State<AppState>,
    ApiQuery(q): ApiQuery<LimitsParams>,
) -> ApiResult {
    Ok(ok(state.meter().limits(q.profile).await?))
}
