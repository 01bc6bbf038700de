//! The announce -> fetch path: the [`TxFetcher`] actor waits briefly after an announcement
//! (the tx may arrive in full from another peer), then fetches announced hashes with
//! GetPooledTransactions from one announcer at a time, retries from another announcer on
//! timeout, checks deliveries against the announcement, and hands transactions to the pool.

mod actor;

pub use actor::{
    FetcherStats, GetFetcherStats, TxFetcher, TxFetcherLinks, ANNOUNCE_FLOOD_PAUSE,
    DEFAULT_ARRIVAL_WAIT, MAX_SIZE_DEVIATION, MAX_TX_ANNOUNCES, MAX_TX_RETRIEVALS,
    MAX_TX_RETRIEVAL_SIZE,
};

#[cfg(test)]
mod tests;
