//! clown: a per-user service that manages CLI coding agents.
//!
//! `daemon` is the service (socket activated, notify-ready), `http` and `api` its HTTP
//! surface, `store` the SQLite database, `cli` the thin clients of the HTTP API.

pub mod activity;
pub mod agents;
pub mod api;
pub mod app;
pub mod attention;
pub mod auth;
pub mod cli;
pub mod config;
pub mod conversations;
pub mod daemon;
pub mod events;
pub mod http;
pub mod inspector;
pub mod lane;
pub mod logging;
pub mod meter;
pub mod metrics;
pub mod paths;
pub mod profiles;
pub mod proxy;
pub mod pty;
pub mod records;
pub mod registry;
pub mod requests;
pub mod setup;
pub mod shared;
pub mod store;
pub mod supervisor;
pub mod sync;
pub mod time;
pub mod tokens;
pub mod usage;
pub mod watch;
pub mod webhooks;
pub mod worktrees;
pub mod ws;
