//! Agents: where agent programs are looked for (`search`), finding them and their
//! versions (`detect`), preparing the environment and
//! files a profile's agent starts with (`prepare`), and the sandbox it may run in
//! (`sandbox`).

pub mod detect;
pub mod install;
pub mod login;
pub mod prefixes;
pub mod prepare;
pub mod sandbox;
pub mod search;
