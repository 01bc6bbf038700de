//! [`NewHeads`]: the event the follower emits for each round's new blocks (the RPC's
//! `newHeads` subscriptions and embedders consume it; the producer owns the type).

use actix::prelude::*;
use alloy_consensus::Header;
use alloy_primitives::B256;

/// Event: new heads were followed (one round's blocks, lowest first).
#[derive(Clone, Debug, Message)]
#[rtype(result = "()")]
pub struct NewHeads(pub Vec<NewHead>);

/// Event: a reorg dropped these heads (highest first, as geth sends their logs again with
/// `removed: true`).
#[derive(Clone, Debug, Message)]
#[rtype(result = "()")]
pub struct RemovedHeads(pub Vec<NewHead>);

/// One new head.
#[derive(Clone, Debug)]
pub struct NewHead {
    /// Its hash.
    pub hash: B256,
    /// Its header.
    pub header: Header,
    /// Its block's logs, in block order (empty when its receipts are not known).
    pub logs: std::sync::Arc<[HeadLog]>,
}

/// A log of a new head's block, with its place in the block.
#[derive(Clone, Debug)]
pub struct HeadLog {
    /// The log.
    pub log: alloy_primitives::Log,
    /// Its transaction.
    pub tx_hash: B256,
    /// Its transaction's index in the block.
    pub tx_index: u64,
    /// Its index among the block's logs.
    pub log_index: u64,
}

/// The logs of `block` from its `receipts` (one per transaction, in order).
pub fn head_logs(
    block: &crate::eth::EthBlock,
    receipts: &[alloy_consensus::ReceiptEnvelope],
) -> std::sync::Arc<[HeadLog]> {
    let mut log_index = 0;
    let mut out = Vec::new();
    for (tx_index, (tx, receipt)) in block.body.transactions.iter().zip(receipts).enumerate() {
        for log in receipt.logs() {
            out.push(HeadLog {
                log: log.clone(),
                tx_hash: *tx.hash(),
                tx_index: tx_index as u64,
                log_index,
            });
            log_index += 1;
        }
    }
    out.into()
}

/// Command: execute a block learned from peers before it counts (where the node holds the
/// state): `Ok(true)` when it executed and was stored, `Ok(false)` when it cannot be
/// executed here (no state, unknown parent), `Err` with the reason when it is invalid.
#[derive(Debug, Message)]
#[rtype(result = "Result<bool, String>")]
pub struct ExecuteFollowed(pub crate::eth::EthBlock);
