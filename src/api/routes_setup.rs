//! The route table's part for the shared setup (`/api/setup*`) and the directories bound
//! to a profile (`/api/bindings*`); [`super::routes`] serves and documents them with the
//! rest.

use axum::routing::{delete, get, post, put};

use super::{Route, bindings, route, setup};

pub fn routes() -> Vec<Route> {
    vec![
        route(
            "GET",
            "/api/bindings",
            "bindings",
            "Directories bound to a profile (made with `clown bind` or found by a resolution), with what each directory's .clown-profile says now",
            || get(bindings::list),
        ),
        Route {
            body: Some("Binding"),
            ..route(
                "POST",
                "/api/bindings",
                "bindings",
                "Bind a directory to a profile: writes .clown-profile there; `clown run` and terminal sessions started in it or below use that profile",
                || post(bindings::bind),
            )
        },
        Route {
            query: &[("dir", "string", "The bound directory (absolute)")],
            ..route(
                "DELETE",
                "/api/bindings",
                "bindings",
                "Remove a directory's binding (its .clown-profile)",
                || delete(bindings::unbind),
            )
        },
        Route {
            query: &[("dir", "string", "A working directory (absolute)")],
            ..route(
                "GET",
                "/api/bindings/resolve",
                "bindings",
                "The profile bound to a directory or the nearest one above it (404 when none)",
                || get(bindings::resolve),
            )
        },
        route(
            "GET",
            "/api/setup",
            "setup",
            "The shared setup (MCP servers, permissions, hooks, status line, env, settings per agent, instructions, per-profile scopes; secret values as hints) and its folders' files",
            || get(setup::get),
        ),
        Route {
            body: Some("Setup"),
            ..route(
                "PUT",
                "/api/setup",
                "setup",
                "Replace the shared setup (a hint sent back unchanged keeps the stored value) and project it into every profile home; answers what each projection did",
                || put(setup::replace),
            )
        },
        Route {
            body: Some("SetupImport"),
            ..route(
                "POST",
                "/api/setup/import",
                "setup",
                "Read the user's own setup (~/.claude.json, ~/.claude/settings.json, CLAUDE.md and folders, ~/.codex/config.toml, ~/.gemini/settings.json, ~/.qwen/settings.json, their instruction files) into the shared one, never writing there; what the setup has stays unless replace",
                || post(setup::import),
            )
        },
        Route {
            body: Some("McpServer"),
            ..route(
                "PUT",
                "/api/setup/mcp/{name}",
                "setup",
                "Add or replace an MCP server in the shared setup and project it into every profile home",
                || put(setup::put_mcp),
            )
        },
        route(
            "DELETE",
            "/api/setup/mcp/{name}",
            "setup",
            "Remove an MCP server from the shared setup and from every home it was projected into (unless the agent changed it there)",
            || delete(setup::delete_mcp),
        ),
        Route {
            body: Some("ProfileScope"),
            ..route(
                "PUT",
                "/api/setup/profiles/{alias}",
                "setup",
                "What of the shared setup applies to one profile: include, exclude (items mcp:NAME, permissions, hooks, status_line, env, settings, instructions, skills, commands, agents) and overrides (a merge patch)",
                || put(setup::put_scope),
            )
        },
        Route {
            body: Some("SetupApply"),
            ..route(
                "POST",
                "/api/setup/apply",
                "setup",
                "Project the shared setup into the named profiles' homes (default: all); overwrite also replaces what the agents changed since",
                || post(setup::apply),
            )
        },
        Route {
            query: &[("profile", "string", "Only this profile (default: all)")],
            ..route(
                "GET",
                "/api/setup/drift",
                "setup",
                "What changed in profile homes since the last projection (changed, removed, added), per profile",
                || get(setup::drift),
            )
        },
        Route {
            body: Some("StatusLineSetting"),
            ..route(
                "PUT",
                "/api/setup/status-line",
                "setup",
                "Use clown's status line (`clown statusline`: profile, model, costs, block, limits, budget) in every profile whose agent has one (Claude Code), or stop using it; through the shared setup's status_line item",
                || put(setup::status_line),
            )
        },
        Route {
            body: Some("SetupAdopt"),
            ..route(
                "POST",
                "/api/setup/adopt",
                "setup",
                "Take drift of one profile's home (ids from /api/setup/drift, default all) into the shared setup, then project it everywhere",
                || post(setup::adopt),
            )
        },
    ]
}
