//! [`InMemoryTxPool`]: a pool that stores what it is given, without validation. For tests
//! and for embedders that validate elsewhere; the validating pool replaces it in the node.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex, PoisonError, RwLock};

use actix::Recipient;
use alloy_primitives::B256;

use super::{NewTxs, PoolTx, TxPool};

/// A non-validating in-memory pool: insert, remove, look up, subscribe.
#[derive(Default)]
pub struct InMemoryTxPool {
    state: RwLock<State>,
    subscribers: Mutex<Vec<Recipient<NewTxs>>>,
}

#[derive(Default)]
struct State {
    by_hash: HashMap<B256, Arc<PoolTx>>,
    /// Insertion order, for `pending_hashes`; may hold removed hashes, skipped on read.
    order: VecDeque<B256>,
}

impl InMemoryTxPool {
    /// An empty pool.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds transactions not yet present and notifies subscribers of those (in one
    /// [`NewTxs`] event). Returns how many were new.
    pub fn insert(&self, txs: impl IntoIterator<Item = PoolTx>) -> usize {
        let added: Vec<Arc<PoolTx>> = {
            let mut state = self.state.write().unwrap_or_else(PoisonError::into_inner);
            let mut added = Vec::new();
            for tx in txs {
                if state.by_hash.contains_key(&tx.hash) {
                    continue;
                }
                let tx = Arc::new(tx);
                state.by_hash.insert(tx.hash, tx.clone());
                state.order.push_back(tx.hash);
                added.push(tx);
            }
            added
        };
        let count = added.len();
        if count > 0 {
            let event = NewTxs { txs: added.into() };
            let subscribers = self
                .subscribers
                .lock()
                .unwrap_or_else(PoisonError::into_inner);
            for subscriber in subscribers.iter() {
                subscriber.do_send(event.clone());
            }
        }
        count
    }

    /// Removes transactions (e.g. included in a block). Returns how many were present.
    pub fn remove(&self, hashes: &[B256]) -> usize {
        let mut state = self.state.write().unwrap_or_else(PoisonError::into_inner);
        let removed = hashes
            .iter()
            .filter(|h| state.by_hash.remove(*h).is_some())
            .count();
        if state.order.len() > 2 * state.by_hash.len() + 64 {
            // Compact the order list so removed hashes do not accumulate.
            let State { by_hash, order } = &mut *state;
            order.retain(|h| by_hash.contains_key(h));
        }
        removed
    }
}

impl TxPool for InMemoryTxPool {
    fn get(&self, hash: &B256) -> Option<Arc<PoolTx>> {
        self.state
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .by_hash
            .get(hash)
            .cloned()
    }

    fn pending_hashes(&self, limit: usize) -> Vec<B256> {
        let state = self.state.read().unwrap_or_else(PoisonError::into_inner);
        state
            .order
            .iter()
            .filter(|h| state.by_hash.get(*h).is_some_and(|tx| !tx.is_blob()))
            .take(limit)
            .copied()
            .collect()
    }

    fn len(&self) -> usize {
        self.state
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .by_hash
            .len()
    }

    fn subscribe(&self, subscriber: Recipient<NewTxs>) {
        self.subscribers
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push(subscriber);
    }
}
