//! Integration tests: each starts the real `clown` binary with its own temporary home,
//! talks to it over real sockets, and waits for readiness through a notify socket the
//! test owns (never a fixed sleep).

mod helpers;
mod upstream;
mod ws;

mod agents_install;
mod attention;
mod bindings;
mod browser;
mod conversations;
mod first_hour;
mod foundation;
mod metrics;
mod metrics_gzip;
mod pg;
mod profiles;
mod prometheus;
mod proxy;
mod registry;
mod restart;
mod resume_claude;
mod sandbox;
mod security;
mod service_manager;
mod setup;
mod share;
mod subscription;
mod sync;
mod terminal;
mod usage;
mod usage_blocks;
mod usage_live;
mod usage_logs;
mod worktrees;
