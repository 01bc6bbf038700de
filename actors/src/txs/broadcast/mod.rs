//! Transaction broadcast: the actor that routes pool batches to peers, and the per-sender
//! choice of which peers get transactions in full.

mod actor;
mod held;
mod selection;

pub use actor::{
    announce_hold, BroadcastMetrics, BroadcastStats, GetBroadcastStats, PeerSetLink, TxBroadcaster,
    MAX_ANNOUNCE_COMMANDS_PER_SEC, MAX_ANNOUNCE_HOLD, MAX_PENDING_ROUTE, MAX_ROUND_TXS,
    MAX_SYNC_ANNOUNCEMENTS, MIN_ANNOUNCE_HOLD, TX_MAX_BROADCAST_SIZE,
};
pub use held::{next_turn, HeldAnnouncements, ANNOUNCE_TICK};
pub use selection::{direct_count, DirectPeerChoice, PeerScores};

#[cfg(test)]
mod tests;
