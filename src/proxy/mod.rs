//! The per-profile proxy (DESIGN §11): a child process, `clown proxy --profile ALIAS
//! --port N`, that sits between an agent and its provider. The agent holds only a local
//! per-profile token; the proxy swaps it for the real key, streams responses through as
//! they arrive, reads the token usage on the side and reports it to the daemon, rewrites
//! model aliases and falls back to other targets while nothing was sent to the agent.
//!
//! The child: [`server`] (listener, shutdown), [`forward`] (one request, the fallback
//! loop), [`upstream`] (TLS connector, URL mapping), [`model`] (alias rewrite),
//! [`body`] and [`usage_tap`] (the response stream and its usage), [`responses_chat`]
//! (the Responses API over Chat Completions, for Codex on providers without it),
//! [`report`] (usage to the daemon). The daemon: [`supervisor`] (one [`runner`] task per proxy), [`launch`]
//! (plan, port, spawn, health), [`child`] (the process), [`backoff`], [`logfile`].
//! [`plan`] is what passes from one to the other.

pub mod backoff;
pub mod body;
pub mod child;
pub mod forward;
pub mod launch;
pub mod logfile;
pub mod model;
pub mod plan;
pub mod report;
pub mod responses_chat;
pub mod runner;
pub mod server;
pub mod status;
pub mod supervisor;
pub mod upstream;
pub mod usage_tap;

pub use status::{ProxyStatus, State};
pub use supervisor::{Supervisor, SupervisorError};
