//! Blocks from peers (eth <= 68, proof-of-work chains only): a NewBlock, or an announced
//! block fetched (header, then body) from its announcer, is checked (header rules, the
//! fork's difficulty, the ethash seal off the actor thread), relayed in full, stored, then
//! announced; BlockRangeUpdate (eth/69+) updates the peer's range.

mod actor;

pub use actor::{
    BlockFetchError, BlockHandler, BlockHandlerLinks, ImportBlock, BLOCK_RANGE_UPDATE_INTERVAL,
    MAX_CONCURRENT_FETCHES, MAX_PENDING_SEAL_CHECKS,
};

#[cfg(test)]
mod tests;
