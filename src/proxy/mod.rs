//! The per-profile proxy process (DESIGN §11): `clown proxy --profile ALIAS --port N`, a
//! child of the daemon that sits between an agent and its provider. The agent holds only
//! a local per-profile token; the proxy swaps it for the real key, streams responses
//! through as they arrive, reads the token usage on the side and reports it to the
//! daemon, rewrites model aliases and falls back to other targets while nothing was sent
//! to the agent.
//!
//! This folder is the child alone: [`server`] (listener, shutdown), [`workers`] (its
//! threads, each connection on one), [`forward`] (one
//! request, the fallback loop), [`upstream`] (TLS connector, URL mapping), [`alias`]
//! (model alias rewrite), [`body`] and [`usage_tap`] (the response stream and its
//! usage), [`translate`] (which translation a request takes, and the translator of its
//! answer): [`responses_chat`] (the Responses API over Chat Completions, for Codex on
//! providers without it) and [`messages_chat`] (Anthropic Messages over Chat Completions,
//! for Claude Code on OpenAI-compatible providers), [`report`] (usage to the daemon),
//! [`limits`] (the provider's rate-limit headers, reported beside the usage) and
//! [`oauth`] (a subscription token towards Anthropic). [`plan`] is what the daemon
//! hands it, [`control`] what it says later (a budget's hard stop). It imports nothing of the daemon (store, app, api, http): the daemon's side
//! of proxies is `crate::supervisor`.

pub mod alias;
pub mod body;
mod busy_poll;
pub mod client;
pub mod control;
pub mod cooldown;
pub mod failure;
pub mod forward;
pub mod inspect;
pub mod limits;
pub mod messages_chat;
pub mod oauth;
pub mod plan;
pub mod pool;
pub mod reply;
pub mod report;
pub mod responses_chat;
pub mod route;
pub mod server;
pub mod translate;
pub mod upstream;
pub mod usage_tap;
mod workers;
