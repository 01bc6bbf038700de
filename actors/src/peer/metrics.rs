//! Per-peer counters, shared between the peer actor (which writes them) and whoever
//! observes the peer (peer set snapshots, metrics export, tests).

use std::sync::atomic::{AtomicU64, Ordering};

/// Counters of one peer's outbound traffic and drops. All relaxed atomics: they are
/// statistics, not synchronisation.
#[derive(Debug, Default)]
pub struct PeerMetrics {
    /// Tx hashes dropped from the full-tx queue because it was full (oldest first).
    pub dropped_txs: AtomicU64,
    /// Tx hashes dropped from the announcement queue because it was full.
    pub dropped_tx_anns: AtomicU64,
    /// Block propagations dropped because the queue was full (the new one).
    pub dropped_props: AtomicU64,
    /// Block announcements dropped because the queue was full (the new one).
    pub dropped_block_anns: AtomicU64,
    /// Responses dropped because too many were waiting to be written.
    pub dropped_responses: AtomicU64,
    /// Queue messages refused because the peer's mailbox was full.
    pub dropped_mailbox: AtomicU64,
    /// Transactions written in full.
    pub sent_txs: AtomicU64,
    /// Transaction hashes written as announcements.
    pub sent_tx_anns: AtomicU64,
    /// NewBlock messages written.
    pub sent_props: AtomicU64,
    /// Block hashes written in NewBlockHashes.
    pub sent_block_anns: AtomicU64,
    /// Queued hashes skipped at send time because the pool no longer had the tx.
    pub skipped_gone: AtomicU64,
    /// Messages written.
    pub messages_sent: AtomicU64,
    /// Hashes currently queued for full sending (gauge).
    pub queued_txs: AtomicU64,
    /// Hashes currently queued for announcement (gauge).
    pub queued_tx_anns: AtomicU64,
}

impl PeerMetrics {
    /// Adds `n` to `counter`.
    pub fn add(counter: &AtomicU64, n: u64) {
        counter.fetch_add(n, Ordering::Relaxed);
    }

    /// Reads `counter`.
    pub fn get(counter: &AtomicU64) -> u64 {
        counter.load(Ordering::Relaxed)
    }

    /// Total items dropped, of every kind.
    pub fn total_dropped(&self) -> u64 {
        [
            &self.dropped_txs,
            &self.dropped_tx_anns,
            &self.dropped_props,
            &self.dropped_block_anns,
            &self.dropped_mailbox,
        ]
        .into_iter()
        .map(Self::get)
        .sum()
    }
}
