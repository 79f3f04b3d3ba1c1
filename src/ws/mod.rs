//! WebSocket endpoints: the live event stream (and, later, terminals).

pub mod events;
