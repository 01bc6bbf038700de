//! [`InMemoryTxPool`]: a pool that stores what it is given, without validation. For tests
//! and for embedders that validate elsewhere; the validating pool replaces it in the node.

use std::sync::Arc;

use alloy_primitives::B256;

use super::index::{impl_tx_pool_reads, SharedIndex};
use super::PoolTx;

/// A non-validating in-memory pool: insert, remove, look up, subscribe.
#[derive(Default)]
pub struct InMemoryTxPool {
    shared: SharedIndex,
}

impl InMemoryTxPool {
    /// An empty pool.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds transactions not yet present and notifies subscribers of those (in one
    /// [`super::NewTxs`] event). Returns how many were new.
    pub fn insert(&self, txs: impl IntoIterator<Item = PoolTx>) -> usize {
        let added: Vec<Arc<PoolTx>> = {
            let mut index = self.shared.write();
            let mut added = Vec::new();
            for tx in txs {
                if !index.contains(&tx.hash) {
                    let tx = Arc::new(tx);
                    index.insert(tx.clone());
                    added.push(tx);
                }
            }
            added
        };
        let count = added.len();
        self.shared.publish(added);
        count
    }

    /// Removes transactions (e.g. included in a block). Returns how many were present.
    pub fn remove(&self, hashes: &[B256]) -> usize {
        let mut index = self.shared.write();
        hashes.iter().filter(|h| index.remove(h).is_some()).count()
    }
}

impl_tx_pool_reads!(InMemoryTxPool);
