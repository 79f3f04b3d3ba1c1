//! Which translation a request takes on its way to a target, and the translator that
//! turns the target's answer back into the API the agent asked for.
//!
//! - `POST /v1/responses` to a target marked `responses_via_chat` (Codex on a provider
//!   with Chat Completions only): [`responses_chat`].
//! - `POST /v1/messages` to a target marked `messages_via_chat` (Claude Code on an
//!   OpenAI-compatible provider): [`messages_chat`]; `POST /v1/messages/count_tokens`
//!   there is answered by the proxy with an estimate.
//! - Anything else passes as it is.

use std::collections::HashSet;

use hyper::body::Bytes;
use hyper::{Method, StatusCode};

use super::plan::Target;
use super::{messages_chat, responses_chat};

/// What the answer's translation needs to know.
pub enum Translation {
    Responses {
        custom_tools: HashSet<String>,
    },
    Messages {
        /// The model asked for, named when the provider's answer names none.
        model: String,
        stream: bool,
    },
}

/// Where a request goes.
pub enum Route {
    /// Upstream: the body to send, the path in place of the agent's, the translation.
    Upstream {
        body: Bytes,
        path: Option<&'static str>,
        translation: Option<Translation>,
    },
    /// Answered by the proxy: status and JSON body.
    Local(StatusCode, String),
}

/// The route of a request with `body` (the model already rewritten) to `target`; Err is
/// a body that cannot be translated (a 400 for the agent).
pub fn route(target: &Target, method: &Method, path: &str, body: Bytes) -> Result<Route, String> {
    let pass = |body| {
        Ok(Route::Upstream {
            body,
            path: None,
            translation: None,
        })
    };
    if method != Method::POST {
        return pass(body);
    }
    if target.responses_via_chat && path == "/v1/responses" {
        let t = responses_chat::request(&body)?;
        return Ok(Route::Upstream {
            body: Bytes::from(t.body),
            path: Some("/v1/chat/completions"),
            translation: Some(Translation::Responses {
                custom_tools: t.custom_tools,
            }),
        });
    }
    if target.messages_via_chat && path == "/v1/messages" {
        let t = messages_chat::request(&body, &target.provider)?;
        return Ok(Route::Upstream {
            body: Bytes::from(t.body),
            path: Some("/v1/chat/completions"),
            translation: Some(Translation::Messages {
                model: t.model,
                stream: t.stream,
            }),
        });
    }
    if target.messages_via_chat && path == "/v1/messages/count_tokens" {
        let n = messages_chat::count_tokens(&body)?;
        return Ok(Route::Local(
            StatusCode::OK,
            format!("{{\"input_tokens\":{n}}}"),
        ));
    }
    pass(body)
}

/// Turns a translated provider's answer back into the API the agent asked for: a stream
/// event by event, a whole body at its end.
pub enum Translator {
    ResponsesStream(responses_chat::Stream),
    ResponsesWhole {
        buf: Vec<u8>,
        custom: HashSet<String>,
    },
    MessagesStream(messages_chat::Stream),
    MessagesWhole {
        buf: Vec<u8>,
        model: String,
        as_stream: bool,
        provider: String,
    },
    MessagesError {
        buf: Vec<u8>,
        status: u16,
        provider: String,
    },
}

/// Largest whole answer kept for translation.
const MAX_WHOLE: usize = 64 * 1024 * 1024;

impl Translator {
    /// The translator for an answer with this status and content type; None when it
    /// passes as it is (the Responses translation leaves errors untouched).
    pub fn new(
        translation: Translation,
        status: StatusCode,
        content_type: Option<&str>,
        provider: &str,
    ) -> Option<Self> {
        let sse = content_type.is_some_and(|c| c.starts_with("text/event-stream"));
        match translation {
            Translation::Responses { .. } if !status.is_success() => None,
            Translation::Responses { custom_tools } if sse => Some(Self::ResponsesStream(
                responses_chat::Stream::new(custom_tools),
            )),
            Translation::Responses { custom_tools } => Some(Self::ResponsesWhole {
                buf: Vec::new(),
                custom: custom_tools,
            }),
            Translation::Messages { .. } if !status.is_success() => Some(Self::MessagesError {
                buf: Vec::new(),
                status: status.as_u16(),
                provider: provider.to_string(),
            }),
            Translation::Messages { model, .. } if sse => {
                Some(Self::MessagesStream(messages_chat::Stream::new(model)))
            }
            Translation::Messages { model, stream } => Some(Self::MessagesWhole {
                buf: Vec::new(),
                model,
                as_stream: stream,
                provider: provider.to_string(),
            }),
        }
    }

    /// The content type of the translated answer.
    pub fn content_type(&self) -> &'static str {
        match self {
            Self::ResponsesStream(_)
            | Self::MessagesStream(_)
            | Self::MessagesWhole {
                as_stream: true, ..
            } => "text/event-stream",
            _ => "application/json",
        }
    }

    pub fn feed(&mut self, data: &[u8]) -> Vec<u8> {
        match self {
            Self::ResponsesStream(s) => s.feed(data),
            Self::MessagesStream(s) => s.feed(data),
            Self::ResponsesWhole { buf, .. }
            | Self::MessagesWhole { buf, .. }
            | Self::MessagesError { buf, .. } => {
                if buf.len() + data.len() <= MAX_WHOLE {
                    buf.extend_from_slice(data);
                }
                Vec::new()
            }
        }
    }

    pub fn finish(&mut self) -> Vec<u8> {
        match self {
            Self::ResponsesStream(s) => s.finish(),
            Self::MessagesStream(s) => s.finish(),
            Self::ResponsesWhole { buf, custom } => responses_chat::json(buf, custom),
            Self::MessagesWhole {
                buf,
                model,
                as_stream,
                provider,
            } => match messages_chat::whole::message(buf, model) {
                Some(m) if *as_stream => messages_chat::whole::as_stream(&m),
                Some(m) => m.to_string().into_bytes(),
                // A success status with something else than a completion (an error body).
                None => {
                    let body = messages_chat::error::body(502, provider, buf);
                    if !*as_stream {
                        return body;
                    }
                    let mut out = b"event: error\ndata: ".to_vec();
                    out.extend_from_slice(&body);
                    out.extend_from_slice(b"\n\n");
                    out
                }
            },
            Self::MessagesError {
                buf,
                status,
                provider,
            } => messages_chat::error::body(*status, provider, buf),
        }
    }
}
