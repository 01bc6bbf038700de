//! Messages of the peer set: registration, lookups over the known-tx/known-block sets,
//! and the events it publishes.

use std::sync::Arc;

use actix::{Message, Recipient};
use alloy_primitives::B256;

use crate::eth::EthVersion;
use crate::p2p::DisconnectReason;
use crate::peer::{PeerHandle, PeerId, StopReason};

pub use crate::eth::PeerHead;

/// Why a registration was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RegisterError {
    /// A peer with this id is already registered (geth `errAlreadyRegistered`).
    #[error("peer already registered")]
    AlreadyRegistered,
    /// The set is closed (geth `errClosed`): the node is shutting down.
    #[error("peer set closed")]
    Closed,
    /// The peer limit is reached (geth `DiscTooManyPeers`).
    #[error("too many peers ({limit})")]
    TooManyPeers {
        /// The limit.
        limit: usize,
    },
}

impl RegisterError {
    /// The reason to disconnect the refused peer with.
    pub fn disconnect_reason(&self) -> DisconnectReason {
        match self {
            Self::AlreadyRegistered => DisconnectReason::AlreadyConnected,
            Self::Closed => DisconnectReason::ClientQuitting,
            Self::TooManyPeers { .. } => DisconnectReason::TooManyPeers,
        }
    }
}

/// Command: add a peer.
#[derive(Debug, Message)]
#[rtype(result = "Result<(), RegisterError>")]
pub struct Register {
    /// The peer's handle.
    pub peer: PeerHandle,
    /// Its head from the Status handshake.
    pub head: PeerHead,
}

/// Command: remove a peer (it is not disconnected; see [`crate::peer::Disconnect`]).
/// Answers whether it was registered.
#[derive(Debug, Message)]
#[rtype(result = "bool")]
pub struct Unregister {
    /// The peer.
    pub id: PeerId,
}

/// Command: disconnect every peer with client-quitting and refuse later registrations.
#[derive(Debug, Message)]
#[rtype(result = "()")]
pub struct Close;

/// Query: number of registered peers.
#[derive(Debug, Message)]
#[rtype(result = "usize")]
pub struct Len;

/// Query: the best peers by the measure each version family offers.
#[derive(Debug, Message)]
#[rtype(result = "BestPeers")]
pub struct BestPeer;

/// Answer to [`BestPeer`]. Total difficulty (eth <= 68) and latest block (eth >= 69) are
/// not comparable with each other, so each family has its own best.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BestPeers {
    /// The eth <= 68 peer with the highest total difficulty.
    pub by_total_difficulty: Option<PeerId>,
    /// The eth >= 69 peer with the highest latest block.
    pub by_latest_block: Option<PeerId>,
}

/// Query: a snapshot of every registered peer.
#[derive(Debug, Message)]
#[rtype(result = "Vec<PeerInfo>")]
pub struct Peers;

/// One peer in a [`Peers`] snapshot.
#[derive(Debug, Clone)]
pub struct PeerInfo {
    /// The peer's handle (id, version, recipients, metrics).
    pub handle: PeerHandle,
    /// Its head as last known.
    pub head: PeerHead,
    /// How many tx hashes it is known to have (bounded by the LRU size).
    pub known_txs: usize,
    /// When it registered (tokio's clock): the longest-connected peers are polled first.
    pub since: tokio::time::Instant,
}

/// Command: the peer has these transactions (it sent or announced them).
#[derive(Debug, Message)]
#[rtype(result = "()")]
pub struct MarkTxs {
    /// The peer.
    pub peer: PeerId,
    /// The transaction hashes.
    pub hashes: Vec<B256>,
    /// The peer's inbound message this came from, counted until the set has marked it
    /// (`None` for replies to our own requests, which we bound ourselves).
    pub ticket: Option<crate::peer::InboundTicket>,
}

/// Command: the peer has this block.
#[derive(Debug, Message)]
#[rtype(result = "()")]
pub struct MarkBlock {
    /// The peer.
    pub peer: PeerId,
    /// The block hash.
    pub hash: B256,
}

/// Command: the peer's head moved (NewBlock, BlockRangeUpdate).
#[derive(Debug, Message)]
#[rtype(result = "()")]
pub struct UpdatePeerHead {
    /// The peer.
    pub peer: PeerId,
    /// Its new head.
    pub head: PeerHead,
}

/// Query: for each hash, which peers lack it.
///
/// With `mark` set, every peer returned is recorded as knowing the hash: the caller is about
/// to queue it to them, and marking in the same step means no later query can route the
/// same transaction to the same peer again (geth marks at enqueue time).
#[derive(Debug, Message)]
#[rtype(result = "TxRecipients")]
pub struct PeersWithoutTx {
    /// The transaction hashes.
    pub hashes: Vec<B256>,
    /// Mark the returned peers as knowing the hashes.
    pub mark: bool,
}

/// Answer to [`PeersWithoutTx`].
#[derive(Debug, Clone, Default)]
pub struct TxRecipients {
    /// Every registered peer at the time of the query.
    pub peers: Arc<[PeerHandle]>,
    /// For each queried hash (same order), the indices into `peers` that lack it.
    pub lacking: Vec<Vec<u32>>,
}

/// Query: of `hashes`, those `peer` does not know yet; they are marked known for it.
#[derive(Debug, Message)]
#[rtype(result = "Vec<B256>")]
pub struct FilterUnknownTxs {
    /// The peer.
    pub peer: PeerId,
    /// Candidate hashes.
    pub hashes: Vec<B256>,
}

/// Query: peers that lack a block, optionally only those of at most `max_version`.
#[derive(Debug, Message)]
#[rtype(result = "Vec<PeerHandle>")]
pub struct PeersWithoutBlock {
    /// The block hash.
    pub hash: B256,
    /// Only peers whose eth version is at most this.
    pub max_version: Option<EthVersion>,
    /// Mark the returned peers as knowing the block.
    pub mark: bool,
}

/// Command: send this BlockRangeUpdate to every eth/69+ peer.
#[derive(Debug, Clone, Message)]
#[rtype(result = "()")]
pub struct BroadcastBlockRange(pub crate::eth::BlockRangeUpdate);

/// Event published by the peer set.
#[derive(Debug, Clone, Message)]
#[rtype(result = "()")]
pub enum PeerEvent {
    /// A peer was registered.
    Registered(PeerHandle),
    /// A peer was removed.
    Unregistered {
        /// The peer.
        id: PeerId,
        /// Why, when it stopped by itself.
        reason: Option<StopReason>,
    },
}

/// Command: send every later [`PeerEvent`] to `recipient`.
#[derive(Debug, Message)]
#[rtype(result = "()")]
pub struct SubscribePeerEvents(pub Recipient<PeerEvent>);
