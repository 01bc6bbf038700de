//! The tx inbox: every transaction a peer sends or announces enters here. The [`TxInbox`]
//! actor takes full `Transactions` broadcasts, `PooledTransactions` replies and
//! announcements; after an announcement it waits briefly (the tx may arrive in full from
//! another peer), then fetches announced hashes with GetPooledTransactions from one
//! announcer at a time, retries from another announcer on timeout, checks deliveries
//! against the announcement, and hands what arrived to [`ingest`](super::ingest) (sender
//! recovery and validation on the verifier threads), which pools it.
//! eth/72 blob txs arrive without blobs; their cells are fetched whole or sampled
//! (EIP-8070) by [`BlobFetchPolicy`].

mod actor;
mod cells;

pub use actor::{
    GetInboxStats, InboxStats, TxInbox, TxInboxLinks, ANNOUNCE_FLOOD_PAUSE, DEFAULT_ARRIVAL_WAIT,
    MAX_SIZE_DEVIATION, MAX_TX_ANNOUNCES, MAX_TX_RETRIEVALS, MAX_TX_RETRIEVAL_SIZE,
};
pub use cells::{
    BlobFetchPolicy, AVAILABILITY_THRESHOLD, BLOB_AVAILABILITY_TIMEOUT, MAX_PENDING_CELL_BLOBS,
    MAX_PENDING_CELL_TXS, MIN_FULL_FETCH_PERCENT,
};

#[cfg(test)]
mod cell_tests;
#[cfg(test)]
mod tests;
