//! Agents: where agent programs are looked for (`search`), finding them and their
//! versions (`detect`), preparing the environment and
//! files a profile's agent starts with (`prepare`), the hooks through which it reports
//! its state (`hooks` installs them, `hook_events` reads their events), and the sandbox
//! it may run in (`sandbox`).

pub mod detect;
pub mod hook_events;
pub mod hooks;
pub mod install;
pub mod login;
pub mod prefixes;
pub mod prepare;
pub mod sandbox;
pub mod search;
