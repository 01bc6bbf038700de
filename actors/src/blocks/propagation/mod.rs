//! Block propagation for eth <= 68 peers: NewBlock in full to ⌈√n⌉ of the peers lacking a
//! block, NewBlockHashes to the rest, and announcements after import. eth/69+ peers get
//! neither: the messages do not exist there.

mod actor;

pub use actor::{AnnounceBlock, BlockPropagator, PropagateBlock};

#[cfg(test)]
mod tests;
