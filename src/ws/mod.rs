//! WebSocket endpoints: the live event stream and terminal sessions.

pub mod events;
pub mod terminal;
