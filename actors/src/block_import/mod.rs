//! Blocks from peers (eth <= 68): NewBlock is checked, stored and propagated; announced
//! blocks are fetched (header, then body) from the announcer; BlockRangeUpdate (eth/69+)
//! updates the peer's range.

mod actor;

pub use actor::{
    BlockFetchError, BlockHandler, BlockHandlerLinks, ImportBlock, BLOCK_RANGE_UPDATE_INTERVAL,
    MAX_CONCURRENT_FETCHES, MAX_PENDING_SEAL_CHECKS,
};

#[cfg(test)]
mod tests;
