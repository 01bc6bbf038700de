//! Errors of the RLPx transport layer, each mapped to a disconnect reason.

use crate::p2p::DisconnectReason;

/// Why an RLPx handshake or frame failed. Every variant means the connection is unusable
/// or the remote misbehaved.
#[derive(Debug, thiserror::Error)]
pub enum RlpxError {
    /// An ECIES message is shorter than its fixed overhead or its declared size.
    #[error("ECIES message of {len} bytes is too short")]
    EciesTooShort {
        /// The length received.
        len: usize,
    },
    /// The ECIES HMAC did not match: wrong key, corrupted or forged data.
    #[error("ECIES message authentication failed")]
    EciesMac,
    /// A public key or signature in the handshake is not a valid curve point / signature.
    #[error("invalid secp256k1 data in handshake: {source}")]
    Secp256k1 {
        /// The library error.
        #[from]
        source: secp256k1::Error,
    },
    /// A handshake packet is larger than [`super::MAX_HANDSHAKE_PACKET_SIZE`].
    #[error("handshake packet of {size} bytes exceeds {limit}")]
    HandshakeTooLarge {
        /// Declared size.
        size: usize,
        /// The limit.
        limit: usize,
    },
    /// The decrypted auth or ack body is not the expected RLP.
    #[error("malformed handshake body: {source}")]
    HandshakeRlp {
        /// The decoder's error.
        source: alloy_rlp::Error,
    },
    /// A frame header's MAC did not match.
    #[error("frame header MAC mismatch")]
    HeaderMac,
    /// A frame body's MAC did not match.
    #[error("frame body MAC mismatch")]
    FrameMac,
    /// A frame is larger than the frame size field allows or than we accept.
    #[error("frame of {size} bytes exceeds {limit}")]
    FrameTooLarge {
        /// The size.
        size: usize,
        /// The limit.
        limit: usize,
    },
    /// The decrypted frame does not start with an RLP message id.
    #[error("frame has no valid message id: {source}")]
    MessageId {
        /// The decoder's error.
        source: alloy_rlp::Error,
    },
    /// A snappy-compressed payload declares more than [`super::MAX_UNCOMPRESSED_SIZE`].
    #[error("compressed payload declares {size} bytes, over the {limit}-byte limit")]
    UncompressedTooLarge {
        /// Declared uncompressed size.
        size: usize,
        /// The limit.
        limit: usize,
    },
    /// A snappy payload does not decompress.
    #[error("invalid snappy payload: {source}")]
    Snappy {
        /// The decompressor's error.
        #[from]
        source: snap::Error,
    },
    /// The socket failed.
    #[error("I/O error: {source}")]
    Io {
        /// The I/O error.
        #[from]
        source: std::io::Error,
    },
}

impl RlpxError {
    /// The reason to send (if the connection can still carry one): socket errors are TCP
    /// errors, everything the remote got wrong is a protocol breach.
    pub fn disconnect_reason(&self) -> DisconnectReason {
        match self {
            Self::Io { .. } => DisconnectReason::TcpError,
            _ => DisconnectReason::ProtocolBreach,
        }
    }
}
