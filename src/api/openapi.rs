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
            "schemas": all_schemas(),
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
    if path == super::metrics::METRICS_PATH {
        return json!({
            "200": {"description": "Prometheus text format 0.0.4, or OpenMetrics 1.0 when Accept asks for application/openmetrics-text", "content": {"text/plain": {}, "application/openmetrics-text": {}}},
            "401": {"description": "Missing or wrong token (the daemon's token or the metrics token)"},
            "403": {"description": "Host or Origin refused"}
        });
    }
    if !path.starts_with("/api") && !path.starts_with("/ws") {
        return json!({"200": {"description": "HTML page or redirect"}});
    }
    let err = |d: &str| json!({"description": d, "content": {"application/json": {"schema": {"$ref": "#/components/schemas/ErrorEnvelope"}}}});
    json!({
        "200": {"description": "Success", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/SuccessEnvelope"}}}},
        "400": err("Bad request (invalid parameters or body)"),
        "401": err("Missing or wrong token"),
        "403": err("Host or Origin refused, or a scoped token (a proxy's usage token, a status-line token, a session's hook token, a share link's token, the metrics token) used beyond its route and profile"),
        "404": err("Resource not found"),
        "409": err("Conflict"),
        "413": err("Body over the limit"),
        "500": err("Internal server error"),
    })
}

fn all_schemas() -> Value {
    let mut all = schemas();
    for more in [
        added_schemas(),
        super::usage_schemas(),
        super::share_schemas(),
    ] {
        if let (Some(a), Value::Object(b)) = (all.as_object_mut(), more) {
            a.extend(b);
        }
    }
    all
}

/// The bodies of the shared setup's, the bindings' and the agent installs' routes.
fn added_schemas() -> Value {
    let strings = json!({"type": "array", "items": {"type": "string"}});
    let string_map = json!({"type": "object", "additionalProperties": {"type": "string"}});
    json!({
        "McpServer": {
            "type": "object",
            "additionalProperties": false,
            "properties": {
                "type": {"type": "string", "enum": ["stdio", "http", "sse"], "default": "stdio"},
                "command": {"type": "string", "description": "stdio: the program"},
                "args": strings, "env": string_map,
                "url": {"type": "string", "description": "http, sse: the server's URL"},
                "headers": string_map
            }
        },
        "ProfileScope": {
            "type": "object",
            "additionalProperties": false,
            "properties": {
                "include": {"type": "array", "items": {"type": "string"}, "description": "Only these items (mcp:NAME, permissions, hooks, status_line, env, settings, instructions, skills, commands, agents); empty: all"},
                "exclude": {"type": "array", "items": {"type": "string"}},
                "overrides": {"type": "object", "description": "An RFC 7396 merge patch over the setup for this profile"}
            }
        },
        "Setup": {
            "type": "object",
            "additionalProperties": false,
            "properties": {
                "mcp_servers": {"type": "object", "additionalProperties": {"$ref": "#/components/schemas/McpServer"}},
                "permissions": {"type": "object", "properties": {"allow": strings, "deny": strings, "ask": strings, "defaultMode": {"type": "string"}}},
                "hooks": {"type": "object", "description": "Claude Code's hooks: event -> matcher groups (also Qwen Code's and Droid's)"},
                "status_line": {"type": "object", "description": "Claude Code's statusLine"},
                "env": string_map,
                "settings": {"type": "object", "description": "Agent id (claude, codex, gemini, qwen, opencode, droid) -> extra top-level settings for its file"},
                "instructions": {"type": "object", "description": "CLAUDE.md, AGENTS.md, GEMINI.md, QWEN.md -> text", "additionalProperties": {"type": "string"}},
                "profiles": {"type": "object", "additionalProperties": {"$ref": "#/components/schemas/ProfileScope"}}
            }
        },
        "SetupImport": {
            "type": "object",
            "additionalProperties": false,
            "properties": {
                "from": {"type": "array", "items": {"type": "string", "enum": ["claude", "codex", "gemini", "qwen"]}, "description": "Default: all"},
                "replace": {"type": "boolean", "default": false, "description": "Imported items replace those the setup already has"}
            }
        },
        "SetupApply": {
            "type": "object",
            "additionalProperties": false,
            "properties": {
                "profiles": strings,
                "overwrite": {"type": "boolean", "default": false}
            }
        },
        "Binding": {
            "type": "object",
            "required": ["dir", "profile"],
            "additionalProperties": false,
            "properties": {"dir": {"type": "string", "description": "An existing absolute directory"}, "profile": {"type": "string"}}
        },
        "AgentInstall": {
            "type": "object",
            "additionalProperties": false,
            "properties": {"version": {"type": "string", "description": "An npm version or tag (default: latest)"}}
        },
        "SetupAdopt": {
            "type": "object",
            "required": ["profile"],
            "additionalProperties": false,
            "properties": {"profile": {"type": "string"}, "ids": strings}
        },
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
                "auth": {"type": "string", "enum": ["key", "token", "login"], "default": "key", "description": "key: an API key (api_key). token: a subscription's long-lived OAuth token (oauth_token; Claude Code, provider anthropic), handed to the agent on a descriptor or kept in the proxy. login: the agent's own login, kept in the profile home (clown profiles login ALIAS); no proxy"},
                "oauth_token": {"type": "string", "writeOnly": true, "description": "With auth 'token': the token `claude setup-token` prints"},
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
                        "key_profile": {"type": "string", "description": "Use this other profile's key (default: the profile's own)"},
                        "priority": {"type": "integer", "description": "Its place among the profile's keys, lower first (default 100; the profile's own key is 0)"}
                    }
                }},
                "routes": {"type": "array", "maxItems": 64, "description": "Routing by scenario: the first rule a request matches picks its provider (one of the profile's targets: its own, a pool key's or a fallback's) and model; the default otherwise. Each request's decision is in the inspector", "items": {
                    "type": "object",
                    "required": ["when"],
                    "additionalProperties": false,
                    "properties": {
                        "when": {"type": "string", "enum": ["background", "thinking", "long_context", "web_search", "subagent"], "description": "background: Claude Code's small-model (haiku) requests; thinking: extended thinking or reasoning asked for; long_context: estimated input over threshold_tokens; web_search: a web search tool offered; subagent: the system prompt carries <clown-route>TAG</clown-route>"},
                        "threshold_tokens": {"type": "integer", "minimum": 1, "description": "long_context only (default 60000)"},
                        "tag": {"type": "string", "description": "subagent only: the tag to match (default: any)"},
                        "provider_id": {"type": "string"},
                        "model": {"type": "string"}
                    }
                }},
                "pool": {"type": "object", "additionalProperties": false, "properties": {
                    "skip_utilization": {"type": "number", "default": 0.95, "description": "A key whose rate-limit window is used this much (0-1) gets no new conversation until it resets"},
                    "cooldown_secs": {"type": "integer", "default": 30, "minimum": 1, "maximum": 86400, "description": "Cool-down after a 429, 529 or 5xx that names no reset time"}
                }},
                "inspector": {"type": "object", "additionalProperties": false, "properties": {
                    "keep": {"type": "integer", "default": 100, "minimum": 0, "maximum": 10000, "description": "Requests kept in memory (0: none)"},
                    "capture_bodies": {"type": "boolean", "default": false, "description": "Keep the request and response bodies, redacted"},
                    "body_limit": {"type": "integer", "default": 16384, "minimum": 256, "maximum": 262144, "description": "Bytes kept of each body"}
                }}
            }
        },
        "NewPoolKey": {
            "type": "object",
            "required": ["label", "secret"],
            "additionalProperties": false,
            "properties": {
                "label": {"type": "string", "pattern": "^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$", "description": "Not 'primary' nor 'fallback-…'"},
                "secret": {"type": "string", "writeOnly": true},
                "kind": {"type": "string", "enum": ["key", "token"], "default": "key", "description": "token: a subscription's OAuth token (Anthropic only)"},
                "priority": {"type": "integer", "minimum": -1000, "maximum": 1000, "default": 0, "description": "Lower first; the profile's own key is 0, fallbacks 100"},
                "provider_id": {"type": "string", "description": "Default: the profile's provider"},
                "endpoint_id": {"type": "string"},
                "base_url": {"type": "string"},
                "model": {"type": "string", "description": "Send this model upstream through this key"}
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
                        "dedupe_key": {"type": "string", "description": "Events with a key already stored are ignored"},
                        "key_label": {"type": "string", "description": "Through a proxy: the pool key that answered (primary: the profile's own)"},
                        "key_hint": {"type": "string", "description": "… and its last four characters"}
                    }
                }},
                "sessions": {"type": "array", "items": {
                    "type": "object",
                    "required": ["profile", "started_at", "source"],
                    "properties": {
                        "profile": {"type": "string"}, "started_at": {"type": "integer"}, "ended_at": {"type": "integer"},
                        "exit_code": {"type": "integer"}, "source": {"type": "string"}, "session_id": {"type": "string"}
                    }
                }},
                "limits": {"type": "array", "description": "Rate-limit headers a provider sent (a proxy's token: only its own profile's)", "items": {
                    "type": "object",
                    "required": ["profile", "provider", "ts", "http_status", "headers"],
                    "additionalProperties": false,
                    "properties": {
                        "profile": {"type": "string"}, "provider": {"type": "string"},
                        "ts": {"type": "integer", "description": "Unix seconds"},
                        "http_status": {"type": "integer"},
                        "headers": {"type": "object", "additionalProperties": {"type": "string"}, "description": "Lowercase anthropic-ratelimit-*, x-ratelimit-* and retry-after headers, 1 to 64"}
                    }
                }},
                "requests": {"type": "array", "description": "Proxy requests for /metrics (kept in memory, not stored)", "items": {
                    "type": "object",
                    "additionalProperties": false,
                    "required": ["profile", "target", "status", "duration_seconds"],
                    "properties": {
                        "profile": {"type": "string"}, "target": {"type": "string", "description": "The target's provider id"},
                        "status": {"type": "integer", "description": "HTTP status (502/504: unreachable/timed out)"},
                        "duration_seconds": {"type": "number"}, "ttfb_seconds": {"type": "number"}
                    }
                }},
                "request_counts": {"type": "array", "description": "Proxy requests for /metrics counted per target and status (what proxies send; kept in memory, not stored)", "items": {
                    "type": "object",
                    "additionalProperties": false,
                    "required": ["profile", "target", "status", "duration"],
                    "properties": {
                        "profile": {"type": "string"}, "target": {"type": "string", "description": "The target's provider id"},
                        "status": {"type": "integer", "description": "HTTP status (502/504: unreachable/timed out)"},
                        "duration": {"$ref": "#/components/schemas/SecondsHistogram"},
                        "ttfb": {"$ref": "#/components/schemas/SecondsHistogram"}
                    }
                }}
            }
        },
        "SecondsHistogram": {
            "type": "object",
            "additionalProperties": false,
            "required": ["buckets", "count", "sum"],
            "description": "Durations in seconds: observations per bucket (not cumulative) with upper bounds 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300 (those above 300 only in count), their count and sum",
            "properties": {
                "buckets": {"type": "array", "items": {"type": "integer", "minimum": 0}, "minItems": 14, "maxItems": 14},
                "count": {"type": "integer", "minimum": 0},
                "sum": {"type": "number", "minimum": 0}
            }
        },
        "CreateTerminalSession": {
            "type": "object",
            "additionalProperties": false,
            "properties": {
                "profile_alias": {"type": "string", "description": "Profile to run (default: the one bound to working_dir or a directory above it)"},
                "args": {"type": "array", "items": {"type": "string"}, "description": "Additional arguments for the agent"},
                "cols": {"type": "integer", "minimum": 1, "maximum": 1000, "default": 80},
                "rows": {"type": "integer", "minimum": 1, "maximum": 1000, "default": 24},
                "working_dir": {"type": "string", "description": "Absolute path of an existing directory (default: the profile home)"},
                "worktree": {"type": "boolean", "default": false, "description": "Start in a new git worktree on its own branch (clown/<id>) off the current commit of the directory's repository (400 when the directory is not in one)"},
                "search_path": {"type": "string", "maxLength": 32768, "description": "The client's PATH (`clown terminal new` sends it). Used only when the daemon finds the agent nowhere it looks: the first directory in it holding the agent's binary is used if it and the directories above it belong to the user or root and are not writable by everyone, and is searched from then on"},
                "login": {"type": "boolean", "default": false, "description": "Run the agent's own login in the profile home instead of the agent (a profile with auth 'login'); args are appended to the login's"}
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
