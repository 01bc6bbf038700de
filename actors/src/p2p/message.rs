//! The p2p base protocol messages other than Hello: Disconnect, Ping, Pong.

use alloy_rlp::{Decodable, Encodable, Header};

use super::{DisconnectReason, Hello};

/// p2p message ids (`rlpx.md`).
pub mod ids {
    /// Hello.
    pub const HELLO: u64 = 0x00;
    /// Disconnect.
    pub const DISCONNECT: u64 = 0x01;
    /// Ping.
    pub const PING: u64 = 0x02;
    /// Pong.
    pub const PONG: u64 = 0x03;
}

/// A p2p base protocol message.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum P2pMessage {
    /// Hello.
    Hello(Hello),
    /// Disconnect, with the reason if one was given.
    Disconnect(Option<DisconnectReason>),
    /// Ping.
    Ping,
    /// Pong.
    Pong,
}

/// A p2p message that cannot be decoded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum P2pError {
    /// The id is not a p2p message (0x04-0x0f are reserved).
    #[error("unknown p2p message id {id:#04x}")]
    UnknownMessageId {
        /// The id.
        id: u64,
    },
    /// The payload is not valid RLP for the message.
    #[error("invalid p2p message {id:#04x}: {source}")]
    Rlp {
        /// The id.
        id: u64,
        /// The decoder's error.
        source: alloy_rlp::Error,
    },
}

impl P2pError {
    /// The reason to send: a malformed base-protocol message is a protocol breach.
    pub fn disconnect_reason(&self) -> DisconnectReason {
        DisconnectReason::ProtocolBreach
    }
}

impl P2pMessage {
    /// The message id.
    pub fn id(&self) -> u64 {
        match self {
            Self::Hello(_) => ids::HELLO,
            Self::Disconnect(_) => ids::DISCONNECT,
            Self::Ping => ids::PING,
            Self::Pong => ids::PONG,
        }
    }

    /// The encoded payload. Disconnect uses the list form `[reason]`.
    pub fn encoded(&self) -> Vec<u8> {
        match self {
            Self::Hello(hello) => hello.encoded(),
            Self::Disconnect(reason) => {
                let mut out = Vec::new();
                match reason {
                    Some(reason) => {
                        Header {
                            list: true,
                            payload_length: reason.code().length(),
                        }
                        .encode(&mut out);
                        reason.code().encode(&mut out);
                    }
                    None => Header {
                        list: true,
                        payload_length: 0,
                    }
                    .encode(&mut out),
                }
                out
            }
            Self::Ping | Self::Pong => vec![0xc0],
        }
    }

    /// Decodes message `id`. Disconnect is accepted as `[reason]`, `[]`, a bare integer
    /// (legacy form some clients, e.g. ethereumjs, still send) or an empty payload; an
    /// unknown reason code is kept as `None` rather than rejected, since the peer is leaving
    /// anyway.
    pub fn decode(id: u64, payload: &[u8]) -> Result<Self, P2pError> {
        let rlp = |source| P2pError::Rlp { id, source };
        match id {
            ids::HELLO => Hello::decode_lenient(payload).map(Self::Hello).map_err(rlp),
            ids::DISCONNECT => {
                let mut buf = payload;
                if buf.is_empty() {
                    return Ok(Self::Disconnect(None));
                }
                let code = if buf[0] >= 0xc0 {
                    let header = Header::decode(&mut buf).map_err(rlp)?;
                    if header.payload_length == 0 {
                        return Ok(Self::Disconnect(None));
                    }
                    u8::decode(&mut buf).map_err(rlp)?
                } else {
                    u8::decode(&mut buf).map_err(rlp)?
                };
                Ok(Self::Disconnect(DisconnectReason::try_from(code).ok()))
            }
            // Ping and Pong carry an empty list; geth ignores their content.
            ids::PING => Ok(Self::Ping),
            ids::PONG => Ok(Self::Pong),
            _ => Err(P2pError::UnknownMessageId { id }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn disconnect_accepts_list_bare_and_empty_forms() {
        let reason = Some(DisconnectReason::TooManyPeers);
        assert_eq!(P2pMessage::Disconnect(reason).encoded(), vec![0xc1, 0x04]);
        assert_eq!(
            P2pMessage::decode(1, &[0xc1, 0x04]),
            Ok(P2pMessage::Disconnect(reason))
        );
        assert_eq!(
            P2pMessage::decode(1, &[0x04]),
            Ok(P2pMessage::Disconnect(reason))
        );
        assert_eq!(
            P2pMessage::decode(1, &[0x80]),
            Ok(P2pMessage::Disconnect(Some(
                DisconnectReason::DisconnectRequested
            )))
        );
        assert_eq!(
            P2pMessage::decode(1, &[0xc0]),
            Ok(P2pMessage::Disconnect(None))
        );
        assert_eq!(P2pMessage::decode(1, &[]), Ok(P2pMessage::Disconnect(None)));
        assert_eq!(
            P2pMessage::decode(1, &[0xc1, 0x0c]),
            Ok(P2pMessage::Disconnect(None))
        );
        assert!(P2pMessage::decode(1, &[0xc3, 0x04]).is_err());
        assert_eq!(P2pMessage::decode(2, &[0xc0]), Ok(P2pMessage::Ping));
        assert_eq!(
            P2pMessage::decode(7, &[0xc0]),
            Err(P2pError::UnknownMessageId { id: 7 })
        );
    }
}
