//! The write side of a peer connection as the peer actor sees it: a [`futures::Sink`] of
//! [`Outbound`] items. The RLPx transport provides the real one; [`memory_connection`]
//! gives tests a connection whose far end they read (or never read, to play a stuck peer).

use std::pin::Pin;

use futures::channel::mpsc;
use futures::{Sink, SinkExt};

use crate::eth::EthMessage;
use crate::p2p::DisconnectReason;

/// One item the peer actor writes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Outbound {
    /// An eth message.
    Eth(EthMessage),
    /// A p2p Disconnect with its reason; the last thing written.
    Disconnect(DisconnectReason),
    /// A p2p Ping (keepalive).
    Ping,
    /// A p2p Pong (answer to the remote's Ping).
    Pong,
}

/// Why a write failed. The peer actor stops on any of them.
#[derive(Debug, thiserror::Error)]
pub enum ConnectionError {
    /// The other end is gone.
    #[error("connection closed")]
    Closed,
    /// The transport failed.
    #[error("write failed: {source}")]
    Io {
        /// The I/O error.
        #[from]
        source: std::io::Error,
    },
    /// The RLPx transport failed (encoding a frame, or the socket under it).
    #[error("transport: {source}")]
    Transport {
        /// The transport error.
        #[from]
        source: crate::rlpx::RlpxError,
    },
    /// A write did not complete within the write timeout.
    #[error("write timed out after {after:?}")]
    Timeout {
        /// The timeout that expired.
        after: std::time::Duration,
    },
}

impl ConnectionError {
    /// The reason to give the peer, if it can still hear one: none of these leave a
    /// usable connection, so geth's `DiscNetworkError` (TCP error) is reported locally.
    pub fn disconnect_reason(&self) -> DisconnectReason {
        DisconnectReason::TcpError
    }
}

/// The write half of a connection, owned by one peer actor. Not `Send`: it lives on the
/// actor's arbiter.
pub type OutboundSink = Pin<Box<dyn Sink<Outbound, Error = ConnectionError>>>;

/// An in-memory connection: the sink for a peer actor and the receiver the test reads.
///
/// `capacity` items can be buffered beyond the one in flight; a receiver that is never read
/// models a peer whose connection never drains (its writes never complete).
pub fn memory_connection(capacity: usize) -> (OutboundSink, mpsc::Receiver<Outbound>) {
    let (tx, rx) = mpsc::channel(capacity);
    let sink = tx.sink_map_err(|_| ConnectionError::Closed);
    (Box::pin(sink), rx)
}
