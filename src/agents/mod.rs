//! Agents: finding installed agent programs (`detect`) and preparing the environment and
//! files a profile's agent starts with (`prepare`).

pub mod detect;
pub mod prepare;
