//! Responses API over Chat Completions.
//!
//! Codex CLI speaks only OpenAI's Responses API (`POST /v1/responses`); most
//! OpenAI-compatible providers serve only Chat Completions. For a target marked
//! `responses_via_chat`, the proxy turns the request into `POST /v1/chat/completions`
//! ([`request`]) and the answer back into what the Responses API would have sent: the
//! stream of `response.*` events ([`Stream`]) or one response object ([`json`]).
//!
//! What maps: `instructions` and the developer messages before the conversation → one
//! system message; later developer messages → system messages; user and assistant
//! messages as they are; function calls and their outputs → assistant `tool_calls` and
//! `tool` messages;
//! `function` tools as they are; `custom` (free-form) tools as functions with one string
//! parameter `input`, whose calls come back as `custom_tool_call`s; `max_output_tokens`,
//! `temperature`, `top_p`, `tool_choice`, `parallel_tool_calls`. What cannot be carried
//! (reasoning items, hosted tools such as web search) is left out. Usage comes back in the
//! Responses shape, cached tokens included in `input_tokens` as OpenAI counts them.

mod request;
mod response;

pub use request::{Translated, request};
pub use response::{Stream, json};
