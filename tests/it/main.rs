//! Integration tests: each starts the real `clown` binary with its own temporary home,
//! talks to it over real sockets, and waits for readiness through a notify socket the
//! test owns (never a fixed sleep).

mod helpers;
mod upstream;
mod ws;

mod attention;
mod browser;
mod conversations;
mod first_hour;
mod foundation;
mod profiles;
mod proxy;
mod registry;
mod restart;
mod resume_claude;
mod sandbox;
mod security;
mod service_manager;
mod terminal;
mod usage;
mod worktrees;
