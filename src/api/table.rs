//! The route table: every route the daemon serves, with what the OpenAPI document says of
//! it (`super::router` and `super::openapi` are both built from it). The shared setup's
//! and the bindings' routes are in [`super::routes_setup`], the usage views', budgets' and
//! status line's in [`super::routes_usage`], the key pools' and the request inspector's
//! in [`super::routes_proxy`], the share links' in [`super::routes_share`].

use axum::extract::DefaultBodyLimit;
use axum::routing::{delete, get, post, put};

use super::{
    Route, agents, assets, daemon, extract, imports, metrics, openapi, profiles, providers, proxy,
    registry, route, routes_proxy, routes_sessions, routes_setup, routes_share, routes_usage, sync,
    ui, usage,
};

/// Every route the daemon serves.
pub fn routes() -> Vec<Route> {
    let mut all = core_routes();
    all.extend(routes_sessions::routes());
    all.extend(routes_proxy::routes());
    all.extend(routes_share::routes());
    all.extend(routes_setup::routes());
    all.extend(routes_usage::routes());
    all
}

fn core_routes() -> Vec<Route> {
    vec![
        Route {
            public: true,
            ..route(
                "GET",
                "/",
                "ui",
                "The web UI (a login page without the session cookie)",
                || get(ui::index),
            )
        },
        Route {
            public: true,
            query: &[("token", "string", "The daemon token from `clown ui`")],
            ..route(
                "GET",
                "/login",
                "ui",
                "Exchange the token for a session cookie, then redirect to /",
                || get(ui::login),
            )
        },
        Route {
            public: true,
            ..route(
                "GET",
                "/assets/{*path}",
                "ui",
                "Embedded web UI files (vendored libraries cached for a year)",
                || get(assets::asset),
            )
        },
        route(
            "GET",
            "/api/daemon/status",
            "daemon",
            "Daemon status",
            || get(daemon::status),
        ),
        route(
            "GET",
            "/api/daemon/doctor",
            "daemon",
            "Checks of what the daemon sees (where it looks for agents and what it finds, each profile's home, key or login and proxy, the sandbox tool, free disk), each {name, status ok|info|warn|fail, detail, fix}; `clown doctor` adds the client's own checks",
            || get(daemon::doctor),
        ),
        route(
            "POST",
            "/api/daemon/restart",
            "daemon",
            "Exit keeping the terminal sessions (each waits in its holder for the next daemon, which takes it back with the same screen); 409 under systemd, where 'systemctl --user restart clown' does it",
            || post(daemon::restart),
        ),
        route(
            "GET",
            "/api/daemon/logs",
            "daemon",
            "Recent daemon log lines",
            || get(daemon::logs),
        ),
        Route {
            query: &[("agent", "string", "Filter by agent ID")],
            ..route("GET", "/api/profiles", "profiles", "List profiles", || {
                get(profiles::list)
            })
        },
        Route {
            body: Some("CreateProfile"),
            query: &[(
                "dry_run",
                "boolean",
                "Check everything but the key's presence (agent, provider, endpoint, model, URLs, alias free) and create nothing; answers requires_key",
            )],
            ..route(
                "POST",
                "/api/profiles",
                "profiles",
                "Create a profile",
                || post(profiles::create),
            )
        },
        route(
            "GET",
            "/api/profiles/{alias}",
            "profiles",
            "Get a profile",
            || get(profiles::get),
        ),
        Route {
            query: &[
                (
                    "force",
                    "boolean",
                    "Delete even while a terminal session or proxy runs for it (stops them)",
                ),
                ("purge", "boolean", "Also remove the profile home"),
            ],
            ..route(
                "DELETE",
                "/api/profiles/{alias}",
                "profiles",
                "Delete a profile",
                || delete(profiles::delete),
            )
        },
        Route {
            body: Some("LaunchRequest"),
            ..route(
                "POST",
                "/api/profiles/{alias}/launch",
                "profiles",
                "Prepare the profile's agent files and return its launch environment (the only response that carries the profile's credential; used by `clown profiles run`), and for a sandboxed profile the command to run the agent under (409 when the sandbox tool is missing)",
                || post(profiles::launch),
            )
        },
        Route {
            body: Some("LaunchRequest"),
            ..route(
                "POST",
                "/api/profiles/{alias}/login",
                "profiles",
                "For a profile with auth 'login': prepare its home and return how to start the agent's own login there (program, args, env; no credential), as `clown profiles login` runs it (409 for a profile with a key or token)",
                || post(profiles::login),
            )
        },
        Route {
            query: &[(
                "history",
                "integer",
                "Also this many earlier states, newest first (default 0, at most 1000)",
            )],
            ..route(
                "GET",
                "/api/profiles/{alias}/limits",
                "profiles",
                "The provider's rate limits as the profile's proxy last saw them (anthropic-ratelimit-unified-* windows, API-key limits, retry-after), or null; each change is also a `limits_updated` event",
                || get(profiles::limits),
            )
        },
        Route {
            body: Some("SandboxSettings"),
            ..route(
                "PUT",
                "/api/profiles/{alias}/sandbox",
                "profiles",
                "Replace a profile's sandbox settings (applies to launches from now on); answers them and the sandbox tool found, or null",
                || put(profiles::set_sandbox),
            )
        },
        route(
            "GET",
            "/api/agents",
            "agents",
            "List agents with detection results",
            || get(agents::list),
        ),
        route("GET", "/api/agents/{id}", "agents", "Get an agent", || {
            get(agents::get)
        }),
        Route {
            body: Some("AgentInstall"),
            ..route(
                "POST",
                "/api/agents/{id}/install",
                "agents",
                "Install or update the agent from the npm registry into clown's prefix (<data>/agents), which detection searches first; answers when done (npm's output as agent_install_progress events meanwhile). A failed install leaves the previous version in use (502 with npm's error; 409 while one runs or without npm)",
                || post(agents::install),
            )
        },
        route(
            "GET",
            "/api/providers",
            "providers",
            "List providers",
            || get(providers::list),
        ),
        route(
            "GET",
            "/api/providers/{id}",
            "providers",
            "Get a provider with endpoints, models and prices",
            || get(providers::get),
        ),
        Route {
            query: &[
                (
                    "period",
                    "string",
                    "today (default), yesterday, week, month, 7d, 30d or all; local time zone",
                ),
                (
                    "profile",
                    "string",
                    "Filter by profile alias (Claude data outside any profile is under '@claude')",
                ),
                (
                    "model",
                    "string",
                    "Filter by model (sessions, which have no model, are then left out)",
                ),
                (
                    "scope",
                    "string",
                    "machine (default: this machine's store) or all-machines (every machine's usage from the shared database of [sync], with aggregates.by_machine; 409 when none is configured, 502 when it is unreachable)",
                ),
            ],
            ..route(
                "GET",
                "/api/usage",
                "usage",
                "Usage statistics: tokens, costs, sessions, aggregates by profile, model and day",
                || get(usage::get),
            )
        },
        Route {
            query: &[(
                "claude_dir",
                "string",
                "Path to a .claude directory (default: every Claude data directory found, and each claude profile's home)",
            )],
            ..route(
                "POST",
                "/api/usage/import-claude",
                "usage",
                "Import Claude Code transcripts and stats-cache.json (incremental; data outside any profile goes to the pseudo-profile '@claude')",
                || post(imports::import_claude),
            )
        },
        Route {
            query: &[(
                "agent",
                "string",
                "claude, codex, gemini, qwen, opencode, droid, grok, or all (the default)",
            )],
            ..route(
                "POST",
                "/api/usage/import",
                "usage",
                "Import the usage logs every agent writes locally (incremental): each profile's home is that profile's, an agent's default home goes to its pseudo-profile ('@codex', '@gemini', …)",
                || post(imports::import),
            )
        },
        Route {
            body: Some("RecordUsage"),
            query: &[(
                "backlog",
                "boolean",
                "true from a sender that is behind (a proxy whose reports pile up while every CPU is busy): the batch is stored at the daemon's own priority, not on its background lane",
            )],
            ..route(
                "POST",
                "/api/usage/record",
                "usage",
                "Record usage events and sessions (used by `clown profiles run`, and by the proxy child with a usage token that records only its own profile's events)",
                || post(usage::record).layer(DefaultBodyLimit::max(extract::MAX_RECORD_BYTES)),
            )
        },
        route(
            "GET",
            "/api/sync/status",
            "usage",
            "The push of this machine's usage to the shared database: machine id and name, connected, backlog, pushed counts, last error",
            || get(sync::status),
        ),
        route(
            "GET",
            "/metrics",
            "metrics",
            "Prometheus metrics (text format, or OpenMetrics when asked); the daemon's token or the read-only metrics token of [metrics] token_file",
            || get(metrics::scrape),
        ),
        route(
            "GET",
            "/api/proxy/status",
            "proxy",
            "Status of every proxy (profiles with the proxy enabled, and any that ran)",
            || get(proxy::list),
        ),
        route(
            "GET",
            "/api/proxy/status/{alias}",
            "proxy",
            "Status of a profile's proxy",
            || get(proxy::get),
        ),
        route(
            "POST",
            "/api/proxy/{alias}/start",
            "proxy",
            "Start a profile's proxy and wait until it runs (409 when already active)",
            || post(proxy::start),
        ),
        route(
            "POST",
            "/api/proxy/{alias}/stop",
            "proxy",
            "Stop a profile's proxy",
            || post(proxy::stop),
        ),
        Route {
            query: &[(
                "lines",
                "integer",
                "How many of the last lines (default 100)",
            )],
            ..route(
                "GET",
                "/api/proxy/{alias}/logs",
                "proxy",
                "The last lines of a proxy's log (its output and the supervisor's notes)",
                || get(proxy::logs),
            )
        },
        Route {
            body: Some("ProxySettings"),
            ..route(
                "PUT",
                "/api/profiles/{alias}/proxy",
                "proxy",
                "Replace a profile's proxy settings and apply them (start, stop or restart its proxy)",
                || put(proxy::set),
            )
        },
        route(
            "GET",
            "/api/registry",
            "registry",
            "Registry status",
            || get(registry::status),
        ),
        Route {
            query: &[(
                "force",
                "boolean",
                "Fetch even if the last sync is younger than 24 hours",
            )],
            ..route(
                "POST",
                "/api/registry/sync",
                "registry",
                "Sync the registry from its git repository",
                || post(registry::sync),
            )
        },
        route(
            "GET",
            "/api/openapi.json",
            "daemon",
            "This OpenAPI document",
            || get(openapi::document),
        ),
        route(
            "GET",
            "/ws/events",
            "events",
            "Live event stream (WebSocket): JSON text frames {type, data, ts}",
            || get(crate::ws::events::handler),
        ),
    ]
}
