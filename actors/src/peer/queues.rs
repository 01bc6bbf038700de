//! A peer's four bounded outbound queues and how the next message is packed from them.
//! Pure logic: no actor, no I/O, so the drop and packing rules are tested directly.

use std::collections::VecDeque;
use std::sync::atomic::Ordering;
use std::sync::Arc;

use alloy_primitives::{B256, U256};

use super::PeerMetrics;
use crate::eth::{
    BlockHashNumber, CustodyBitmap, EthBlock, EthMessage, EthVersion, NewBlock, NewBlockHashes,
    NewPooledTransactionHashes66, NewPooledTransactionHashes68, Transactions,
};
use crate::txs::pool::TxPool;

/// Tx hashes queued for full sending per peer (geth `maxQueuedTxs`, 4096 hashes); when
/// full the oldest are dropped.
pub const MAX_QUEUED_TXS: usize = 4096;
/// Tx hashes queued for announcement per peer (geth `maxQueuedTxAnns`, 4096); when full
/// the oldest are dropped.
pub const MAX_QUEUED_TX_ANNS: usize = 4096;
/// Block propagations queued per peer (geth `maxQueuedBlocks`, 4); when full the new one
/// is dropped.
pub const MAX_QUEUED_PROPS: usize = 4;
/// Block announcements queued per peer (geth `maxQueuedBlockAnns`, 4); when full the new
/// one is dropped.
pub const MAX_QUEUED_BLOCK_ANNS: usize = 4;
/// Soft size of one Transactions or NewPooledTransactionHashes message (geth
/// `maxTxPacketSize`, 100 KiB): items are added while the packet is below it.
pub const MAX_TX_PACKET_SIZE: usize = 100 * 1024;
/// Size an announced hash counts towards [`MAX_TX_PACKET_SIZE`] (geth counts 32 bytes
/// per hash; the type byte and size are small beside it).
const ANNOUNCED_HASH_COST: usize = 32;

/// A block queued for NewBlock, with its total difficulty.
#[derive(Clone, Debug)]
pub struct QueuedProp {
    /// The block.
    pub block: Arc<EthBlock>,
    /// Total difficulty including the block.
    pub td: U256,
}

/// The four queues of one peer. Blocks are always packed before transactions, so a flood
/// of transactions cannot starve block propagation.
#[derive(Debug, Default)]
pub struct PeerQueues {
    txs: VecDeque<B256>,
    tx_anns: VecDeque<B256>,
    props: VecDeque<QueuedProp>,
    block_anns: VecDeque<BlockHashNumber>,
}

impl PeerQueues {
    /// Queues tx hashes for full sending; drops the oldest beyond [`MAX_QUEUED_TXS`].
    /// Returns how many were dropped.
    pub fn push_txs(&mut self, hashes: Vec<B256>, metrics: &PeerMetrics) -> usize {
        let dropped = push_bounded(&mut self.txs, hashes, MAX_QUEUED_TXS);
        PeerMetrics::add(&metrics.dropped_txs, dropped as u64);
        self.publish_depths(metrics);
        dropped
    }

    /// Queues tx hashes for announcement; drops the oldest beyond [`MAX_QUEUED_TX_ANNS`].
    pub fn push_tx_anns(&mut self, hashes: Vec<B256>, metrics: &PeerMetrics) -> usize {
        let dropped = push_bounded(&mut self.tx_anns, hashes, MAX_QUEUED_TX_ANNS);
        PeerMetrics::add(&metrics.dropped_tx_anns, dropped as u64);
        self.publish_depths(metrics);
        dropped
    }

    /// Queues a block propagation; returns false (and counts it) if the queue is full.
    pub fn push_prop(&mut self, prop: QueuedProp, metrics: &PeerMetrics) -> bool {
        if self.props.len() >= MAX_QUEUED_PROPS {
            PeerMetrics::add(&metrics.dropped_props, 1);
            return false;
        }
        self.props.push_back(prop);
        true
    }

    /// Queues a block announcement; returns false (and counts it) if the queue is full.
    pub fn push_block_ann(&mut self, ann: BlockHashNumber, metrics: &PeerMetrics) -> bool {
        if self.block_anns.len() >= MAX_QUEUED_BLOCK_ANNS {
            PeerMetrics::add(&metrics.dropped_block_anns, 1);
            return false;
        }
        self.block_anns.push_back(ann);
        true
    }

    /// Empties every queue (on disconnect).
    pub fn clear(&mut self) {
        *self = Self::default();
    }

    /// Number of queued items of all kinds.
    pub fn len(&self) -> usize {
        self.txs.len() + self.tx_anns.len() + self.props.len() + self.block_anns.len()
    }

    /// Whether nothing is queued.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Packs the next message to write, in priority order: block propagations, block
    /// announcements, full transactions, transaction announcements. Transaction bodies and
    /// announcement metadata are read from `pool` now; hashes the pool no longer has are
    /// skipped. `None` when nothing sendable is queued.
    pub fn next_message(
        &mut self,
        pool: &dyn TxPool,
        version: EthVersion,
        metrics: &PeerMetrics,
    ) -> Option<EthMessage> {
        let message = self
            .next_block_message(metrics)
            .or_else(|| self.next_tx_message(pool, version, metrics));
        self.publish_depths(metrics);
        message
    }

    /// Updates the queue-depth gauges.
    pub fn publish_depths(&self, metrics: &PeerMetrics) {
        metrics
            .queued_txs
            .store(self.txs.len() as u64, Ordering::Relaxed);
        metrics
            .queued_tx_anns
            .store(self.tx_anns.len() as u64, Ordering::Relaxed);
    }

    fn next_block_message(&mut self, metrics: &PeerMetrics) -> Option<EthMessage> {
        if let Some(prop) = self.props.pop_front() {
            PeerMetrics::add(&metrics.sent_props, 1);
            let block = Arc::unwrap_or_clone(prop.block);
            return Some(EthMessage::NewBlock(Box::new(NewBlock {
                block,
                td: prop.td,
            })));
        }
        if !self.block_anns.is_empty() {
            let anns: Vec<BlockHashNumber> = self.block_anns.drain(..).collect();
            PeerMetrics::add(&metrics.sent_block_anns, anns.len() as u64);
            return Some(EthMessage::NewBlockHashes(NewBlockHashes(anns)));
        }
        None
    }

    fn next_tx_message(
        &mut self,
        pool: &dyn TxPool,
        version: EthVersion,
        metrics: &PeerMetrics,
    ) -> Option<EthMessage> {
        let mut txs = Vec::new();
        let mut size = 0;
        while size < MAX_TX_PACKET_SIZE {
            let Some(hash) = self.txs.pop_front() else {
                break;
            };
            match pool
                .get(&hash)
                .and_then(|tx| tx.broadcast_form().map(|b| (tx.size, b)))
            {
                Some((tx_size, tx)) => {
                    size += tx_size;
                    txs.push(tx);
                }
                None => PeerMetrics::add(&metrics.skipped_gone, 1),
            }
        }
        if !txs.is_empty() {
            PeerMetrics::add(&metrics.sent_txs, txs.len() as u64);
            return Some(EthMessage::Transactions(Transactions(txs)));
        }
        self.next_announcement(pool, version, metrics)
    }

    /// The next announcement of queued hashes, in the form `version` speaks.
    fn next_announcement(
        &mut self,
        pool: &dyn TxPool,
        version: EthVersion,
        metrics: &PeerMetrics,
    ) -> Option<EthMessage> {
        let (mut types, mut sizes, mut hashes) = (Vec::new(), Vec::new(), Vec::new());
        // eth/72 names one column mask per message, for its blob txs: every column for
        // those we hold whole, the kept columns for a sampled one. A blob tx of another
        // mask than the message's waits at the front for a later message (as geth).
        let (mut mask, mut deferred) = (None, Vec::new());
        for _ in 0..self.tx_anns.len() {
            if hashes.len() * ANNOUNCED_HASH_COST >= MAX_TX_PACKET_SIZE {
                break;
            }
            let Some(hash) = self.tx_anns.pop_front() else {
                break;
            };
            match pool.get(&hash) {
                // Older peers need blobs, which a sampled tx lacks: it is not theirs.
                Some(tx) if tx.is_sampled() && version < EthVersion::Eth72 => {}
                Some(tx) => {
                    if tx.is_blob() {
                        let held = tx.cells.as_ref().map_or(CustodyBitmap::ALL, |c| c.mask());
                        if *mask.get_or_insert(held) != held {
                            deferred.push(hash);
                            continue;
                        }
                    }
                    types.push(tx.tx_type);
                    // eth/72 gossips blob txs without blobs: announce that form's size.
                    let size = match version >= EthVersion::Eth72 {
                        true => tx.size_without_blobs,
                        false => tx.size,
                    };
                    sizes.push(size as u64);
                    hashes.push(hash);
                }
                None => PeerMetrics::add(&metrics.skipped_gone, 1),
            }
        }
        for hash in deferred.into_iter().rev() {
            self.tx_anns.push_front(hash);
        }
        if hashes.is_empty() {
            return None;
        }
        PeerMetrics::add(&metrics.sent_tx_anns, hashes.len() as u64);
        Some(if version >= EthVersion::Eth72 {
            EthMessage::NewPooledTransactionHashes72(crate::eth::NewPooledTransactionHashes72 {
                types: types.into(),
                sizes,
                hashes,
                // No blob tx: an empty mask, as geth sends.
                mask: mask.unwrap_or_default(),
            })
        } else if version >= EthVersion::Eth68 {
            EthMessage::NewPooledTransactionHashes68(NewPooledTransactionHashes68 {
                types: types.into(),
                sizes,
                hashes,
            })
        } else {
            EthMessage::NewPooledTransactionHashes66(NewPooledTransactionHashes66(hashes))
        })
    }
}

/// Appends `items`, then drops from the front until at most `cap` remain. Returns how many
/// were dropped.
fn push_bounded(queue: &mut VecDeque<B256>, items: Vec<B256>, cap: usize) -> usize {
    queue.extend(items);
    let excess = queue.len().saturating_sub(cap);
    queue.drain(..excess);
    excess
}

#[cfg(test)]
mod tests;
