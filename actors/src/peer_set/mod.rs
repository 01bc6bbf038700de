//! The peer set: registration (already-registered / closed errors), per-peer known-tx and
//! known-block sets, the lookups routing needs, and peer events for subscribers.

mod actor;
mod messages;

pub use actor::{known_set, KnownSet, PeerSetActor, MAX_KNOWN_BLOCKS, MAX_KNOWN_TXS};
pub use messages::{
    BestPeer, BestPeers, BroadcastBlockRange, Close, FilterUnknownTxs, Len, MarkBlock, MarkTxs,
    PeerEvent, PeerHead, PeerInfo, Peers, PeersWithoutBlock, PeersWithoutTx, Register,
    RegisterError, SubscribePeerEvents, TxRecipients, Unregister, UpdatePeerHead,
};

#[cfg(test)]
mod tests;
