//! The RLPx transport (`rlpx.md`, EIP-8): ECIES, the auth/ack handshake and its secrets,
//! and the framing codec. Pure protocol code over bytes and tokio-util codecs; no actix.

pub mod codec;
pub mod ecies;
mod error;
pub mod handshake;
mod mac;

pub use error::RlpxError;

/// Largest auth or ack packet accepted (geth rejects handshake packets over 2048 bytes).
pub const MAX_HANDSHAKE_PACKET_SIZE: usize = 2048;

/// Largest uncompressed message payload accepted (`rlpx.md`: 16 MiB; geth's limit is
/// `maxUint24`).
pub const MAX_UNCOMPRESSED_SIZE: usize = (1 << 24) - 1;

pub use codec::{codecs, RlpxDecoder, RlpxEncoder, RlpxMessage, MAX_FRAME_SIZE};
