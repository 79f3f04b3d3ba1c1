//! `GET /api/openapi.json`: an OpenAPI 3 document generated from the route table.

use axum::extract::State;
use axum::response::{IntoResponse, Response};
use serde_json::{Map, Value, json};

use crate::app::AppState;

pub async fn document(State(_state): State<AppState>) -> Response {
    axum::Json(build()).into_response()
}

/// The document, built from [`super::routes`].
pub fn build() -> Value {
    let mut paths = Map::new();
    for r in super::routes() {
        let mut params: Vec<Value> = path_params(r.path)
            .into_iter()
            .map(|name| json!({"name": name, "in": "path", "required": true, "schema": {"type": "string"}}))
            .collect();
        params.extend(r.query.iter().map(|(name, ty, description)| {
            json!({"name": name, "in": "query", "required": false, "description": description, "schema": {"type": ty}})
        }));
        let mut op = json!({
            "tags": [r.tag],
            "summary": r.summary,
            "operationId": operation_id(r.method, r.path),
            "parameters": params,
            "responses": responses(r.path),
        });
        if r.public {
            op["security"] = json!([]);
        }
        if let Some(schema) = r.body {
            op["requestBody"] = json!({
                "required": true,
                "content": {"application/json": {"schema": {"$ref": format!("#/components/schemas/{schema}")}}}
            });
        }
        let entry = paths
            .entry(r.path.replace("{*", "{"))
            .or_insert_with(|| json!({}));
        entry[r.method.to_ascii_lowercase()] = op;
    }
    json!({
        "openapi": "3.0.3",
        "info": {
            "title": "clown daemon API",
            "version": env!("CARGO_PKG_VERSION"),
            "description": "Every /api and /ws route needs `Authorization: Bearer <token>` (the token is in the state directory's `token` file) or the session cookie set by /login. Responses use the envelope {\"success\":true,\"data\":…} / {\"success\":false,\"error\":\"…\"}."
        },
        "servers": [{"url": "http://127.0.0.1:8765"}],
        "paths": paths,
        "components": {
            "securitySchemes": {
                "bearer": {"type": "http", "scheme": "bearer"},
                "cookie": {"type": "apiKey", "in": "cookie", "name": crate::auth::COOKIE_NAME}
            },
            "schemas": schemas(),
        },
        "security": [{"bearer": []}, {"cookie": []}],
    })
}

fn path_params(path: &str) -> Vec<&str> {
    path.split('/')
        .filter_map(|seg| seg.strip_prefix('{').and_then(|s| s.strip_suffix('}')))
        .map(|name| name.trim_start_matches('*'))
        .collect()
}

fn operation_id(method: &str, path: &str) -> String {
    let mut id = method.to_ascii_lowercase();
    for seg in path.split('/').filter(|s| !s.is_empty() && *s != "api") {
        let seg = seg
            .trim_start_matches('{')
            .trim_start_matches('*')
            .trim_end_matches('}');
        for part in seg
            .split(|c: char| !c.is_ascii_alphanumeric())
            .filter(|p| !p.is_empty())
        {
            let mut chars = part.chars();
            if let Some(first) = chars.next() {
                id.push(first.to_ascii_uppercase());
                id.extend(chars);
            }
        }
    }
    id
}

fn responses(path: &str) -> Value {
    if !path.starts_with("/api") && !path.starts_with("/ws") {
        return json!({"200": {"description": "HTML page or redirect"}});
    }
    let err = |d: &str| json!({"description": d, "content": {"application/json": {"schema": {"$ref": "#/components/schemas/ErrorEnvelope"}}}});
    json!({
        "200": {"description": "Success", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/SuccessEnvelope"}}}},
        "400": err("Bad request (invalid parameters or body)"),
        "401": err("Missing or wrong token"),
        "403": err("Host or Origin refused, or a scoped token (a proxy's usage token, a session's hook token) used beyond its route"),
        "404": err("Resource not found"),
        "409": err("Conflict"),
        "413": err("Body over the limit"),
        "500": err("Internal server error"),
    })
}

fn schemas() -> Value {
    json!({
        "SuccessEnvelope": {
            "type": "object",
            "required": ["success"],
            "properties": {"success": {"type": "boolean", "enum": [true]}, "data": {}}
        },
        "ErrorEnvelope": {
            "type": "object",
            "required": ["success", "error"],
            "properties": {"success": {"type": "boolean", "enum": [false]}, "error": {"type": "string"}}
        },
        "CreateProfile": {
            "type": "object",
            "required": ["agent_id", "alias", "provider_id"],
            "additionalProperties": false,
            "properties": {
                "agent_id": {"type": "string"},
                "alias": {"type": "string", "pattern": "^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$"},
                "provider_id": {"type": "string"},
                "endpoint_id": {"type": "string", "description": "Default: the provider's default endpoint"},
                "model": {"type": "string", "description": "Default: the provider's default model"},
                "api_key": {"type": "string", "writeOnly": true},
                "base_url": {"type": "string", "description": "Overrides the endpoint's URL"},
                "proxy": {"$ref": "#/components/schemas/ProxySettings"},
                "sandbox": {"$ref": "#/components/schemas/SandboxSettings"}
            }
        },
        "SandboxSettings": {
            "type": "object",
            "additionalProperties": false,
            "properties": {
                "enabled": {"type": "boolean", "description": "Run the agent confined (bubblewrap on Linux, sandbox-exec on macOS): it sees its profile home and working directory read-write, the rest of the system read-only, and not clown's files, other profiles' homes or the agents' own homes. A launch is refused (409) when the tool is missing"}
            }
        },
        "ProxySettings": {
            "type": "object",
            "additionalProperties": false,
            "properties": {
                "enabled": {"type": "boolean", "description": "Start with the daemon; launches go through the proxy"},
                "port": {"type": "integer", "minimum": 1, "maximum": 65535, "description": "Fixed port (default: one from proxy.port_range)"},
                "model_aliases": {"type": "object", "additionalProperties": {"type": "string"}, "description": "Requested model -> model sent upstream"},
                "fallbacks": {"type": "array", "description": "Tried in order on a connection error, a timeout, 429, 529 or 5xx, while nothing was sent to the agent", "items": {
                    "type": "object",
                    "required": ["provider_id"],
                    "properties": {
                        "provider_id": {"type": "string"},
                        "endpoint_id": {"type": "string"},
                        "model": {"type": "string", "description": "Send this model upstream"},
                        "base_url": {"type": "string"},
                        "key_profile": {"type": "string", "description": "Use this other profile's key (default: the profile's own)"}
                    }
                }}
            }
        },
        "RecordUsage": {
            "type": "object",
            "additionalProperties": false,
            "properties": {
                "events": {"type": "array", "items": {
                    "type": "object",
                    "required": ["profile", "model", "source"],
                    "properties": {
                        "profile": {"type": "string"}, "agent": {"type": "string"}, "provider": {"type": "string"},
                        "model": {"type": "string"}, "ts": {"type": "integer", "description": "Unix seconds"},
                        "input_tokens": {"type": "integer"}, "output_tokens": {"type": "integer"},
                        "cache_creation_input_tokens": {"type": "integer"}, "cache_read_input_tokens": {"type": "integer"},
                        "source": {"type": "string"}, "session_id": {"type": "string"},
                        "dedupe_key": {"type": "string", "description": "Events with a key already stored are ignored"}
                    }
                }},
                "sessions": {"type": "array", "items": {
                    "type": "object",
                    "required": ["profile", "started_at", "source"],
                    "properties": {
                        "profile": {"type": "string"}, "started_at": {"type": "integer"}, "ended_at": {"type": "integer"},
                        "exit_code": {"type": "integer"}, "source": {"type": "string"}, "session_id": {"type": "string"}
                    }
                }}
            }
        },
        "CreateTerminalSession": {
            "type": "object",
            "required": ["profile_alias"],
            "additionalProperties": false,
            "properties": {
                "profile_alias": {"type": "string", "description": "Profile to run"},
                "args": {"type": "array", "items": {"type": "string"}, "description": "Additional arguments for the agent"},
                "cols": {"type": "integer", "minimum": 1, "maximum": 1000, "default": 80},
                "rows": {"type": "integer", "minimum": 1, "maximum": 1000, "default": 24},
                "working_dir": {"type": "string", "description": "Absolute path of an existing directory (default: the profile home)"},
                "worktree": {"type": "boolean", "default": false, "description": "Start in a new git worktree on its own branch (clown/<id>) off the current commit of the directory's repository (400 when the directory is not in one)"},
                "search_path": {"type": "string", "maxLength": 32768, "description": "The client's PATH (`clown terminal new` sends it). Used only when the daemon finds the agent nowhere it looks: the first directory in it holding the agent's binary is used if it and the directories above it belong to the user or root and are not writable by everyone, and is searched from then on"}
            }
        },
        "HookReport": {
            "type": "object",
            "required": ["agent", "event"],
            "additionalProperties": false,
            "properties": {
                "agent": {"type": "string", "description": "The agent's id (claude, codex, gemini, ...)"},
                "event": {"type": "string", "description": "The agent's event name (PermissionRequest, Stop, agent-turn-complete, ...)"},
                "notification_type": {"type": "string"},
                "message": {"type": "string"},
                "tool_name": {"type": "string"},
                "conversation_id": {"type": "string", "description": "The agent's own id of the conversation"},
                "cwd": {"type": "string"},
                "error": {"type": "string"}
            }
        },
        "WorktreeAction": {
            "type": "object",
            "required": ["action"],
            "additionalProperties": false,
            "properties": {"action": {"type": "string", "enum": ["keep", "merge", "remove"]}}
        },
        "TerminalSize": {
            "type": "object",
            "additionalProperties": false,
            "properties": {
                "cols": {"type": "integer", "minimum": 1, "maximum": 1000, "default": 80},
                "rows": {"type": "integer", "minimum": 1, "maximum": 1000, "default": 24}
            }
        },
        "ResumeConversation": {
            "type": "object",
            "required": ["profile_alias", "conversation_id"],
            "additionalProperties": false,
            "properties": {
                "profile_alias": {"type": "string", "description": "The profile whose home holds the conversation"},
                "conversation_id": {"type": "string"},
                "target_profile": {"type": "string", "description": "Run it under this profile (of the same agent; default: the same profile)"},
                "working_dir": {"type": "string", "description": "Absolute directory to run in (default: the conversation's own)"},
                "cols": {"type": "integer", "minimum": 1, "maximum": 1000, "default": 80},
                "rows": {"type": "integer", "minimum": 1, "maximum": 1000, "default": 24}
            }
        },
        "LaunchRequest": {
            "type": "object",
            "additionalProperties": false,
            "properties": {"cwd": {"type": "string", "description": "Absolute working directory of the run"}}
        },
    })
}
