//! Errors of the session handshakes, each mapped to the disconnect reason to send.

use crate::eth::EthWireError;
use crate::p2p::{DisconnectReason, P2pError};
use crate::rlpx::RlpxError;

/// Which handshake step an error happened in (for logs and timeouts).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Stage {
    /// RLPx auth/ack.
    Rlpx,
    /// p2p Hello exchange.
    Hello,
    /// eth Status exchange.
    Status,
}

/// Why a session could not be established.
#[derive(Debug, thiserror::Error)]
pub enum SessionError {
    /// The transport failed (bad MAC, bad packet, socket error).
    #[error("rlpx: {source}")]
    Rlpx {
        /// The transport error.
        #[from]
        source: RlpxError,
    },
    /// A malformed p2p message.
    #[error("p2p: {source}")]
    P2p {
        /// The p2p error.
        #[from]
        source: P2pError,
    },
    /// A malformed eth message.
    #[error("eth: {source}")]
    Eth {
        /// The eth error.
        #[from]
        source: EthWireError,
    },
    /// A step took longer than its deadline.
    #[error("{stage:?} handshake timed out")]
    Timeout {
        /// The step.
        stage: Stage,
    },
    /// The remote sent Disconnect.
    #[error("remote disconnected during the {stage:?} handshake: {reason:?}")]
    RemoteDisconnected {
        /// The step.
        stage: Stage,
        /// The reason it gave.
        reason: Option<DisconnectReason>,
    },
    /// The remote closed the connection.
    #[error("connection closed during the {stage:?} handshake")]
    Closed {
        /// The step.
        stage: Stage,
    },
    /// A message that is not allowed at this point (e.g. eth before Hello).
    #[error("unexpected message {id:#04x} during the {stage:?} handshake")]
    UnexpectedMessage {
        /// The step.
        stage: Stage,
        /// The message id.
        id: u64,
    },
    /// The remote's Hello names a different node id than the one we dialed.
    #[error("remote identity does not match the dialed node id")]
    UnexpectedIdentity,
    /// We connected to ourselves.
    #[error("connected to self")]
    ConnectedToSelf,
    /// No eth version in common.
    #[error("no shared eth version")]
    NoSharedCapability,
    /// The remote's p2p version is older than we support.
    #[error("incompatible p2p version {version}")]
    IncompatibleP2pVersion {
        /// Its version.
        version: u8,
    },
    /// The Status hook rejected the remote's Status.
    #[error("status rejected: {reason}")]
    StatusRejected {
        /// Why.
        reason: super::StatusMismatch,
        /// The disconnect reason the hook chose.
        disconnect: DisconnectReason,
    },
}

impl SessionError {
    /// The reason to send the remote (geth's choices: 0x0b for timeouts, 0x10 for eth
    /// handshake failures, 0x03 for no shared capability).
    pub fn disconnect_reason(&self) -> DisconnectReason {
        match self {
            Self::Rlpx { source } => source.disconnect_reason(),
            Self::P2p { source } => source.disconnect_reason(),
            Self::Eth { source } => source.disconnect_reason(),
            Self::Timeout { .. } => DisconnectReason::PingTimeout,
            Self::RemoteDisconnected { .. } | Self::Closed { .. } => DisconnectReason::TcpError,
            Self::UnexpectedMessage {
                stage: Stage::Status,
                ..
            } => DisconnectReason::SubprotocolSpecific,
            Self::UnexpectedMessage { .. } => DisconnectReason::ProtocolBreach,
            Self::UnexpectedIdentity => DisconnectReason::UnexpectedIdentity,
            Self::ConnectedToSelf => DisconnectReason::ConnectedToSelf,
            Self::NoSharedCapability => DisconnectReason::UselessPeer,
            Self::IncompatibleP2pVersion { .. } => DisconnectReason::IncompatibleP2pVersion,
            Self::StatusRejected { disconnect, .. } => *disconnect,
        }
    }
}
