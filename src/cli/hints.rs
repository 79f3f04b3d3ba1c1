//! What to do next after the daemon refused a request: the CLI prints the daemon's
//! message followed by the command that helps, instead of a bare HTTP status.

use hyper::StatusCode;

/// The daemon's `message` for a failed `path`, with a next step.
pub fn api_error(path: &str, status: StatusCode, message: &str) -> String {
    let message = message.trim_end_matches('.');
    match next_step(path, status, message) {
        Some(hint) => format!("{message}; {hint}"),
        None => message.to_string(),
    }
}

/// The resource group a path belongs to: `/api/profiles/x/launch` → `profiles`.
fn group(path: &str) -> &str {
    path.trim_start_matches("/api/")
        .split(['/', '?'])
        .next()
        .unwrap_or_default()
}

/// The list that shows what exists, by what the message names, else by the path.
fn list_command(path: &str, message: &str) -> &'static str {
    for (prefix, command) in [
        ("Profile '", "clown profiles list"),
        ("Agent '", "clown agents list"),
        ("Provider '", "clown providers list"),
        ("Terminal session '", "clown terminal list"),
    ] {
        if message.starts_with(prefix) {
            return command;
        }
    }
    match group(path) {
        "agents" => "clown agents list",
        "providers" => "clown providers list",
        "terminal" => "clown terminal list",
        "proxy" => "clown proxy status",
        _ => "clown profiles list",
    }
}

fn help_command(path: &str) -> &'static str {
    match group(path) {
        "terminal" => "clown terminal --help",
        "usage" => "clown usage --help",
        "proxy" => "clown proxy --help",
        "registry" => "clown doctor",
        _ => "clown profiles --help",
    }
}

fn next_step(path: &str, status: StatusCode, message: &str) -> Option<String> {
    let lower = message.to_ascii_lowercase();
    let hint = match status.as_u16() {
        404 if lower.contains("not found") && lower.contains('\'') => {
            format!("see '{}'", list_command(path, message))
        }
        404 => "this daemon does not serve that route: is it older than this clown? \
                Restart it ('systemctl --user restart clown', or stop it and run any clown command)"
            .to_string(),
        400 if lower.contains("known") || lower.contains("install") => return None,
        400 => format!("see '{}'", help_command(path)),
        401 => "the daemon refused the token in the state directory: is it another user's \
                daemon, or one started with another CLOWN_STATE_DIR? 'clown doctor' checks"
            .to_string(),
        403 => "the daemon refused this Host or Origin; reach it as http://127.0.0.1:PORT \
                (or add the name to allowed_hosts in the config)"
            .to_string(),
        409 if lower.contains("already exists") => {
            "choose another alias, or delete that profile first ('clown profiles delete ALIAS')"
                .to_string()
        }
        409 if lower.contains("already") => format!("see '{}'", list_command(path, message)),
        409 if lower.contains("force") || lower.contains("running") || lower.contains("in use") => {
            format!(
                "see '{}'; 'clown profiles delete ALIAS --force' stops what runs",
                list_command(path, message)
            )
        }
        409 if lower.contains("install") => return None,
        409 => format!("see '{}'", list_command(path, message)),
        413 => "the request is larger than the daemon accepts (1 MiB)".to_string(),
        s if s >= 500 => "see the daemon's log ('journalctl --user -u clown', or daemon.log in \
                          the state directory); 'clown doctor' checks the setup"
            .to_string(),
        _ => return None,
    };
    Some(hint)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errors_end_with_a_next_step() {
        let e = api_error(
            "/api/profiles/nope",
            StatusCode::NOT_FOUND,
            "Profile 'nope' not found",
        );
        assert_eq!(e, "Profile 'nope' not found; see 'clown profiles list'");
        let e = api_error(
            "/api/terminal/sessions",
            StatusCode::NOT_FOUND,
            "Profile 'w' not found",
        );
        assert!(e.ends_with("see 'clown profiles list'"), "{e}");
        let e = api_error(
            "/api/agents/x",
            StatusCode::NOT_FOUND,
            "Agent 'x' not found",
        );
        assert!(e.ends_with("see 'clown agents list'"), "{e}");
        let e = api_error(
            "/api/terminal/sessions",
            StatusCode::BAD_REQUEST,
            "Unknown agent 'x'; known agents: claude",
        );
        assert_eq!(e, "Unknown agent 'x'; known agents: claude");
        let e = api_error(
            "/api/profiles",
            StatusCode::CONFLICT,
            "Profile 'a' already exists",
        );
        assert!(e.contains("clown profiles delete"), "{e}");
        let e = api_error(
            "/api/usage",
            StatusCode::INTERNAL_SERVER_ERROR,
            "Internal error",
        );
        assert!(e.contains("clown doctor"), "{e}");
        for status in [400, 401, 403, 404, 409, 413, 500, 502] {
            let e = api_error("/api/x", StatusCode::from_u16(status).unwrap(), "m");
            assert!(!e.contains("HTTP"), "{e}");
        }
    }
}
