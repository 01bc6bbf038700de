//! The devp2p base protocol ("p2p" capability): what the RLPx layer carries before and
//! beside the eth subprotocol. Pure data, no actix, no I/O.
//!
//! For now this holds [`DisconnectReason`], the reason codes every other layer's errors map to.

mod disconnect;

pub use disconnect::{DisconnectReason, UnknownDisconnectReason};
