//! The route table's part for the usage views (blocks, reports, export, limits), the
//! budgets and the status line; [`super::routes`] serves and documents them with the
//! rest, and [`schemas`] adds their request bodies to the OpenAPI document.

use axum::routing::{delete, get, post, put};
use serde_json::{Value, json};

use super::{QueryDoc, Route, budgets, reports, route, statusline};

const FILTERS: &[QueryDoc] = &[
    (
        "profile",
        "string",
        "Only this profile (an agent's data outside any profile is '@<agent>', e.g. '@claude')",
    ),
    (
        "agent",
        "string",
        "Only this agent's profiles and its '@<agent>' data",
    ),
    (
        "period",
        "string",
        "today, yesterday, week, month, 7d, 30d or all (local days); not with since/until",
    ),
    (
        "since",
        "string",
        "First local day, YYYY-MM-DD (or YYYYMMDD), inclusive",
    ),
    (
        "until",
        "string",
        "Last local day, YYYY-MM-DD (or YYYYMMDD), inclusive",
    ),
];

const REPORT: &[QueryDoc] = &[
    FILTERS[0],
    FILTERS[1],
    FILTERS[2],
    FILTERS[3],
    FILTERS[4],
    (
        "week_start",
        "string",
        "weekly: weeks start on monday (default) or sunday",
    ),
];

const BLOCKS: &[QueryDoc] = &[
    FILTERS[0],
    FILTERS[1],
    FILTERS[2],
    FILTERS[3],
    FILTERS[4],
    ("active", "boolean", "Only the active block"),
    (
        "recent",
        "boolean",
        "Only blocks started in the last 3 days, and the active one",
    ),
];

const EXPORT: &[QueryDoc] = &[
    ("format", "string", "csv (default) or json (an array)"),
    (
        "granularity",
        "string",
        "events (default: one row per event) or daily (per day, profile and model)",
    ),
    FILTERS[0],
    FILTERS[1],
    FILTERS[2],
    FILTERS[3],
    FILTERS[4],
];

pub fn routes() -> Vec<Route> {
    vec![
        Route {
            query: BLOCKS,
            ..route(
                "GET",
                "/api/usage/blocks",
                "usage",
                "Five-hour billing blocks as ccusage computes them (start at the first message's hour; a new block after 5 hours or a silence of more than 5 hours, which leaves a gap block), with tokens, cost, models, and for the active block its burn rate and projection to the block's end; all blocks unless filtered",
                || get(reports::blocks),
            )
        },
        Route {
            query: REPORT,
            ..route(
                "GET",
                "/api/usage/daily",
                "usage",
                "Usage per local day: tokens, cost, models and the per-model breakdown (most expensive first), and totals; all days unless filtered",
                || get(reports::daily),
            )
        },
        Route {
            query: REPORT,
            ..route(
                "GET",
                "/api/usage/weekly",
                "usage",
                "Usage per week (rows named by the week's first day)",
                || get(reports::weekly),
            )
        },
        Route {
            query: REPORT,
            ..route(
                "GET",
                "/api/usage/monthly",
                "usage",
                "Usage per calendar month",
                || get(reports::monthly),
            )
        },
        Route {
            query: REPORT,
            ..route(
                "GET",
                "/api/usage/sessions",
                "usage",
                "Usage per agent session (events that name their session), with first and last activity",
                || get(reports::sessions),
            )
        },
        Route {
            query: EXPORT,
            ..route(
                "GET",
                "/api/usage/export",
                "usage",
                "Every event (or day) of the range as CSV or a JSON array, streamed as a download (not in the envelope; a bad query is a 400 envelope). Events older than the raw retention come from the 15-minute rollup (source 'rollup')",
                || get(reports::export),
            )
        },
        Route {
            query: &[("profile", "string", "Only this profile")],
            ..route(
                "GET",
                "/api/usage/limits",
                "usage",
                "Per profile, the provider's limits as last seen by its proxy or reported by its agent's status line (source), each window with its use and the seconds until it starts over, and the status line's last report",
                || get(reports::limits),
            )
        },
        route(
            "GET",
            "/api/budgets",
            "budgets",
            "Every budget with its state now: spent, share of its provider window, used percent, level (ok, warning at 80 %, critical at 95 %, exceeded at 100 %), whether its hard stop is in force",
            || get(budgets::list),
        ),
        Route {
            body: Some("Budget"),
            ..route(
                "PUT",
                "/api/budgets/{scope}/{period}",
                "budgets",
                "Set (or replace) a budget: scope a profile, '@all' or '@<agent>', period daily or monthly; in USD and/or a share of a provider window; each threshold is announced once per period (`budget_alert`), and a hard stop makes the covered profiles' proxies refuse requests in the provider's error shape",
                || put(budgets::set),
            )
        },
        route(
            "DELETE",
            "/api/budgets/{scope}/{period}",
            "budgets",
            "Remove a budget (its hard stop is lifted)",
            || delete(budgets::remove),
        ),
        Route {
            body: Some("StatuslineInput"),
            query: &[(
                "profile",
                "string",
                "With the daemon's token: whose line (default '@claude'); a status-line token answers for its own profile only",
            )],
            ..route(
                "POST",
                "/api/statusline",
                "usage",
                "The status line for an agent's status-line input (Claude Code's JSON): profile, model, session cost, today's cost, the active block's cost and time left, window use, budget state, and the line itself. Also records the input's rate_limits for a profile without the proxy (source 'statusline'). Accepts the profile's status-line token (CLOWN_STATUSLINE_TOKEN in the agent's launch environment)",
                || post(statusline::post),
            )
        },
    ]
}

pub fn schemas() -> Value {
    json!({
        "Budget": {
            "type": "object",
            "additionalProperties": false,
            "properties": {
                "limit_usd": {"type": "number", "description": "Most to spend in the period (USD)"},
                "window": {"type": "string", "enum": ["five_hour", "seven_day"], "description": "A provider window (its use from the limit snapshots)"},
                "window_percent": {"type": "number", "description": "The share of that window allowed, 0-100"},
                "hard_stop": {"type": "boolean", "default": false, "description": "At 100 %, the covered profiles' proxies refuse requests"}
            }
        },
        "StatusLineSetting": {
            "type": "object",
            "additionalProperties": false,
            "required": ["enabled"],
            "properties": {"enabled": {"type": "boolean", "description": "Use clown's status line in every profile (true), or remove it when it is clown's (false)"}}
        },
        "StatuslineInput": {
            "type": "object",
            "description": "What Claude Code writes to its status-line command: session_id, model {id, display_name}, cost {total_cost_usd}, rate_limits {five_hour, seven_day: {used_percentage, resets_at}}, effort {level}, …; unknown fields are ignored"
        }
    })
}
