//! Agents: finding installed agent programs (`detect`), preparing the environment and
//! files a profile's agent starts with (`prepare`), and the sandbox it may run in
//! (`sandbox`).

pub mod detect;
pub mod install;
pub mod login;
pub mod prepare;
pub mod sandbox;
