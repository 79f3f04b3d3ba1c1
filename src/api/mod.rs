//! The HTTP API: one file per resource, and the route table that both the router and
//! the OpenAPI document are built from, so the two cannot drift apart.

pub mod agents;
pub mod assets;
pub mod bindings;
pub mod daemon;
pub mod error;
pub mod extract;
pub mod keys;
pub mod metrics;
pub mod openapi;
pub mod profiles;
pub mod providers;
pub mod proxy;
pub mod registry;
mod routes_proxy;
mod routes_setup;
pub mod setup;
pub mod sync;
pub mod terminal;
pub mod ui;
pub mod usage;

use std::collections::BTreeMap;

use axum::Router;
use axum::routing::{MethodRouter, delete, get, post, put};

use crate::app::AppState;

/// A query parameter as documented: name, type, description.
pub type QueryDoc = (&'static str, &'static str, &'static str);

/// One route: what the router serves and what the OpenAPI document says of it.
pub struct Route {
    pub method: &'static str,
    pub path: &'static str,
    pub tag: &'static str,
    pub summary: &'static str,
    pub query: &'static [QueryDoc],
    /// Name of the JSON request-body schema, if the route takes one.
    pub body: Option<&'static str>,
    /// Whether the route is reachable without the token (the login flow).
    pub public: bool,
    pub handler: fn() -> MethodRouter<AppState>,
}

pub(crate) const fn route(
    method: &'static str,
    path: &'static str,
    tag: &'static str,
    summary: &'static str,
    handler: fn() -> MethodRouter<AppState>,
) -> Route {
    Route {
        method,
        path,
        tag,
        summary,
        query: &[],
        body: None,
        public: false,
        handler,
    }
}

/// Every route the daemon serves (the shared setup's and the bindings' are in
/// [`routes_setup`], the key pools' and the request inspector's in [`routes_proxy`]).
pub fn routes() -> Vec<Route> {
    let mut all = core_routes();
    all.extend(routes_setup::routes());
    all.extend(routes_proxy::routes());
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
                || post(usage::import_claude),
            )
        },
        Route {
            body: Some("RecordUsage"),
            ..route(
                "POST",
                "/api/usage/record",
                "usage",
                "Record usage events and sessions (used by `clown profiles run`, and by the proxy child with a usage token that records only its own profile's events)",
                || post(usage::record),
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
            "/api/terminal/sessions",
            "terminal",
            "List terminal sessions",
            || get(terminal::list),
        ),
        Route {
            body: Some("CreateTerminalSession"),
            ..route(
                "POST",
                "/api/terminal/sessions",
                "terminal",
                "Start the profile's agent in a new terminal session; answers session_id and ws_url",
                || post(terminal::create),
            )
        },
        route(
            "GET",
            "/api/terminal/sessions/{session_id}",
            "terminal",
            "Get a terminal session (exit_code once terminated)",
            || get(terminal::get),
        ),
        route(
            "DELETE",
            "/api/terminal/sessions/{session_id}",
            "terminal",
            "End a terminal session's processes (SIGHUP, SIGTERM, then SIGKILL after a grace); answers once it has terminated",
            || delete(terminal::delete),
        ),
        route(
            "POST",
            "/api/terminal/cleanup",
            "terminal",
            "Remove terminated sessions from the list",
            || post(terminal::cleanup),
        ),
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
        route(
            "GET",
            "/ws/terminal/{session_id}",
            "terminal",
            "Terminal I/O (WebSocket). Server: {\"type\":\"connected\",\"session_id\"}, the scrollback as binary, then output as binary, {\"type\":\"state_changed\",\"state\":\"terminated\",\"exit_code\"}, {\"type\":\"error\",\"message\"}. Client: binary input, {\"type\":\"resize\",\"cols\",\"rows\"} (1-1000), {\"type\":\"signal\",\"signal\":N} to the foreground process group, N one of HUP 1, INT 2, QUIT 3, KILL 9, USR1 10, USR2 12, TERM 15, CONT 18, STOP 19, TSTP 20, WINCH 28 (Linux numbering; the host's numbers elsewhere)",
            || get(crate::ws::terminal::handler),
        ),
    ]
}

/// The API router (without the guard layers, which `http::router` adds).
pub fn router() -> Router<AppState> {
    let mut by_path: BTreeMap<&'static str, MethodRouter<AppState>> = BTreeMap::new();
    for r in routes() {
        let handler = (r.handler)();
        let merged = match by_path.remove(r.path) {
            Some(existing) => existing.merge(handler),
            None => handler,
        };
        by_path.insert(r.path, merged);
    }
    by_path
        .into_iter()
        .fold(Router::new(), |router, (path, mr)| router.route(path, mr))
}
