//! Disconnect reason codes of the devp2p base protocol (`rlpx.md`, "Disconnect (0x01)").

use std::fmt;

/// Why a peer is being disconnected; the single byte carried in a p2p `Disconnect` message.
///
/// The codes and their meaning come from devp2p `rlpx.md`. Every layer's error type maps to
/// one of these through a `disconnect_reason()` method, so the reason we send is decided in
/// one place per layer.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[repr(u8)]
pub enum DisconnectReason {
    /// 0x00: disconnect requested (e.g. an operator removed the peer).
    DisconnectRequested = 0x00,
    /// 0x01: TCP sub-system error.
    TcpError = 0x01,
    /// 0x02: breach of protocol, e.g. a malformed message or bad RLP.
    ProtocolBreach = 0x02,
    /// 0x03: useless peer.
    UselessPeer = 0x03,
    /// 0x04: too many peers.
    TooManyPeers = 0x04,
    /// 0x05: already connected.
    AlreadyConnected = 0x05,
    /// 0x06: incompatible p2p protocol version.
    IncompatibleP2pVersion = 0x06,
    /// 0x07: null node identity received.
    NullNodeIdentity = 0x07,
    /// 0x08: client quitting.
    ClientQuitting = 0x08,
    /// 0x09: unexpected identity in handshake.
    UnexpectedIdentity = 0x09,
    /// 0x0a: identity is the same as this node (connected to self).
    ConnectedToSelf = 0x0a,
    /// 0x0b: ping timeout (geth also uses it for a handshake read timeout).
    PingTimeout = 0x0b,
    /// 0x10: some other reason specific to a subprotocol (geth's reason for every eth
    /// protocol violation).
    SubprotocolSpecific = 0x10,
}

/// A disconnect code that `rlpx.md` does not define.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[error("unknown disconnect reason {code:#04x}")]
pub struct UnknownDisconnectReason {
    /// The code received.
    pub code: u8,
}

impl DisconnectReason {
    /// Every defined reason, in code order.
    pub const ALL: [Self; 13] = [
        Self::DisconnectRequested,
        Self::TcpError,
        Self::ProtocolBreach,
        Self::UselessPeer,
        Self::TooManyPeers,
        Self::AlreadyConnected,
        Self::IncompatibleP2pVersion,
        Self::NullNodeIdentity,
        Self::ClientQuitting,
        Self::UnexpectedIdentity,
        Self::ConnectedToSelf,
        Self::PingTimeout,
        Self::SubprotocolSpecific,
    ];

    /// The wire code.
    pub const fn code(self) -> u8 {
        self as u8
    }

    /// A short snake_case name, used in logs and metrics labels.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::DisconnectRequested => "disconnect_requested",
            Self::TcpError => "tcp_error",
            Self::ProtocolBreach => "protocol_breach",
            Self::UselessPeer => "useless_peer",
            Self::TooManyPeers => "too_many_peers",
            Self::AlreadyConnected => "already_connected",
            Self::IncompatibleP2pVersion => "incompatible_p2p_version",
            Self::NullNodeIdentity => "null_node_identity",
            Self::ClientQuitting => "client_quitting",
            Self::UnexpectedIdentity => "unexpected_identity",
            Self::ConnectedToSelf => "connected_to_self",
            Self::PingTimeout => "ping_timeout",
            Self::SubprotocolSpecific => "subprotocol_error",
        }
    }
}

impl TryFrom<u8> for DisconnectReason {
    type Error = UnknownDisconnectReason;

    fn try_from(code: u8) -> Result<Self, Self::Error> {
        Self::ALL
            .into_iter()
            .find(|r| r.code() == code)
            .ok_or(UnknownDisconnectReason { code })
    }
}

impl fmt::Display for DisconnectReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ({:#04x})", self.as_str(), self.code())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_round_trip_and_unknown_codes_are_errors() {
        for reason in DisconnectReason::ALL {
            assert_eq!(DisconnectReason::try_from(reason.code()), Ok(reason));
        }
        assert_eq!(
            DisconnectReason::try_from(0x0c),
            Err(UnknownDisconnectReason { code: 0x0c })
        );
        assert_eq!(DisconnectReason::SubprotocolSpecific.code(), 0x10);
    }
}
