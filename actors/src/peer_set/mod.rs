//! The peer set: registration (already-registered / closed errors), per-peer known-tx and
//! known-block sets, the lookups routing needs, and peer events for subscribers.

mod actor;
mod join;
mod known;
mod messages;

pub use actor::{known_set, PeerSetActor, MAX_KNOWN_BLOCKS, MAX_KNOWN_TXS};
pub use join::{start_session_peer, SessionPeerLinks};
pub use known::{KnownDigest, KnownSet, MAX_KNOWN_CAPACITY};
pub use messages::{
    BestPeer, BestPeers, BroadcastBlockRange, Close, FilterUnknownTxs, Len, MarkBlock, MarkTxs,
    PeerEvent, PeerHead, PeerInfo, Peers, PeersWithoutBlock, PeersWithoutTx, Register,
    RegisterError, SubscribePeerEvents, TxRecipients, Unregister, UpdatePeerHead,
};

#[cfg(test)]
mod tests;
