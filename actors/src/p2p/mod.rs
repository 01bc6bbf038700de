//! The devp2p base protocol ("p2p" capability): Hello with capability negotiation,
//! Disconnect (and its reason codes), Ping and Pong. Pure data, no actix, no I/O.

mod disconnect;
mod hello;
mod message;

pub use disconnect::{DisconnectReason, UnknownDisconnectReason};
pub use hello::{
    negotiate, Capability, Hello, SharedCapability, BASE_PROTOCOL_LENGTH, MAX_HELLO_SIZE,
    P2P_VERSION,
};
pub use message::{ids, P2pError, P2pMessage};

/// A peer's node id: its 64-byte uncompressed secp256k1 public key (without the 0x04).
pub type PeerId = alloy_primitives::B512;
