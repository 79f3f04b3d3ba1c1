//! The terminal sessions' routes (sessions, hooks, worktrees, interrupted sessions, the
//! agents' conversations and the terminal WebSocket), part of [`super::routes`].

use axum::routing::{delete, get, post};

use super::{Route, conversations, route, terminal, worktrees};

pub fn routes() -> Vec<Route> {
    vec![
        Route {
            query: &[(
                "waiting",
                "boolean",
                "Only sessions waiting for their user (needs_input, turn_finished, rate_limited, errored), the longest waiting first",
            )],
            ..route(
                "GET",
                "/api/terminal/sessions",
                "terminal",
                "List terminal sessions, each with its attention state (idle, working, needs_input, turn_finished, rate_limited, errored, exited), since when, and whether a client shows it",
                || get(terminal::list),
            )
        },
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
        Route {
            body: Some("HookReport"),
            ..route(
                "POST",
                "/api/terminal/sessions/{session_id}/hook",
                "terminal",
                "An agent's hook event for its session (sent by `clown hook`, which the session's agent runs, with the session's own hook token: the only route that token opens); answers the session's attention state",
                || post(terminal::hook),
            )
        },
        route(
            "GET",
            "/api/terminal/sessions/{session_id}/worktree",
            "terminal",
            "A session's git worktree (repo, path, branch, base, outcome) and what it changed: commits, files_changed, insertions, deletions, files with their status, uncommitted",
            || get(worktrees::get),
        ),
        Route {
            body: Some("WorktreeAction"),
            ..route(
                "POST",
                "/api/terminal/sessions/{session_id}/worktree",
                "terminal",
                "Keep, merge (uncommitted work committed, its branch merged into the repository's checked-out branch, then worktree and branch removed; a conflict changes nothing, 409) or remove a session's worktree; merge and remove wait for the session's end (409)",
                || post(worktrees::act),
            )
        },
        route(
            "GET",
            "/api/terminal/interrupted",
            "terminal",
            "Sessions a stop of the daemon or the service, a reboot or a lost holder ended: profile, working_dir, the agent's conversation_id (from its hooks or its own files) and resume_args",
            || get(terminal::interrupted),
        ),
        Route {
            body: Some("TerminalSize"),
            ..route(
                "POST",
                "/api/terminal/interrupted/{session_id}/resume",
                "terminal",
                "Resume an interrupted session: a new session of its profile in its directory running the agent's resume command (claude --resume ID, codex resume ID, ...); answers session_id and ws_url; the interrupted one is forgotten",
                || post(terminal::resume),
            )
        },
        route(
            "DELETE",
            "/api/terminal/interrupted/{session_id}",
            "terminal",
            "Forget an interrupted session",
            || delete(terminal::dismiss),
        ),
        route(
            "POST",
            "/api/terminal/cleanup",
            "terminal",
            "Remove terminated sessions from the list",
            || post(terminal::cleanup),
        ),
        Route {
            query: &[
                ("profile", "string", "Only this profile's"),
                (
                    "q",
                    "string",
                    "Text to find (case-insensitive) in the id, the directory or any prompt",
                ),
                (
                    "limit",
                    "integer",
                    "At most this many (1-1000, default 200)",
                ),
            ],
            ..route(
                "GET",
                "/api/conversations",
                "conversations",
                "The agents' own conversations in every profile home, newest first: profile_alias, agent_id, id, cwd, first_prompt, started_at, last_activity, tokens and cost_usd recorded under the id (null when none), resume_args",
                || get(conversations::list),
            )
        },
        Route {
            body: Some("ResumeConversation"),
            ..route(
                "POST",
                "/api/conversations/resume",
                "conversations",
                "Resume a conversation in a new terminal session, under its profile or another profile of the same agent (its file is copied there); answers session_id and ws_url",
                || post(conversations::resume),
            )
        },
        route(
            "GET",
            "/ws/terminal/{session_id}",
            "terminal",
            "Terminal I/O (WebSocket). Server: {\"type\":\"connected\",\"session_id\"}, the scrollback as binary, then output as binary, {\"type\":\"state_changed\",\"state\":\"terminated\",\"exit_code\"}, {\"type\":\"error\",\"message\"}. Client: binary input, {\"type\":\"resize\",\"cols\",\"rows\"} (1-1000), {\"type\":\"focus\",\"shown\":B} (the client shows the session now; repeated within 90 s while it does; shown sessions are not notified about), {\"type\":\"signal\",\"signal\":N} to the foreground process group, N one of HUP 1, INT 2, QUIT 3, KILL 9, USR1 10, USR2 12, TERM 15, CONT 18, STOP 19, TSTP 20, WINCH 28 (Linux numbering; the host's numbers elsewhere)",
            || get(crate::ws::terminal::handler),
        ),
    ]
}
