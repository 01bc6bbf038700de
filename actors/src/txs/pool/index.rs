//! What every pool implementation shares: transactions by hash in insertion order behind a
//! lock (so peers read bodies synchronously), the subscribers to new-tx events, and the
//! read side of the [`TxPool`] trait on top of them.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::sync::{Arc, Mutex, OnceLock, PoisonError, RwLock, RwLockReadGuard, RwLockWriteGuard};

use actix::Recipient;
use alloy_consensus::Transaction;
use alloy_primitives::{Address, B256};

use super::{AdmissionHook, NewTxs, PoolTx};

/// Transactions by hash, remembering insertion order for `pending_hashes`.
#[derive(Default)]
pub(super) struct TxIndex {
    by_hash: HashMap<B256, Arc<PoolTx>>,
    /// Insertion order; may hold removed hashes, skipped on read and compacted on removal.
    order: VecDeque<B256>,
    /// Sum of the stored transactions' sizes.
    bytes: usize,
    /// Each sender's transactions by nonce.
    by_sender: HashMap<Address, BTreeMap<u64, B256>>,
}

impl TxIndex {
    pub(super) fn get(&self, hash: &B256) -> Option<&Arc<PoolTx>> {
        self.by_hash.get(hash)
    }

    pub(super) fn contains(&self, hash: &B256) -> bool {
        self.by_hash.contains_key(hash)
    }

    pub(super) fn len(&self) -> usize {
        self.by_hash.len()
    }

    pub(super) fn bytes(&self) -> usize {
        self.bytes
    }

    /// `sender`'s transactions by nonce.
    pub(super) fn sender_nonces(&self, sender: &Address) -> Option<&BTreeMap<u64, B256>> {
        self.by_sender.get(sender)
    }

    /// The senders with transactions in the pool.
    pub(super) fn senders(&self) -> impl Iterator<Item = &Address> {
        self.by_sender.keys()
    }

    pub(super) fn values(&self) -> impl Iterator<Item = &Arc<PoolTx>> {
        self.by_hash.values()
    }

    /// Adds `tx` (the caller checked it is new).
    pub(super) fn insert(&mut self, tx: Arc<PoolTx>) {
        self.bytes += tx.size;
        self.order.push_back(tx.hash);
        self.by_sender
            .entry(tx.sender)
            .or_default()
            .insert(tx.tx.nonce(), tx.hash);
        self.by_hash.insert(tx.hash, tx);
    }

    /// Removes `hash`, returning the transaction if it was there.
    pub(super) fn remove(&mut self, hash: &B256) -> Option<Arc<PoolTx>> {
        let tx = self.by_hash.remove(hash)?;
        self.bytes -= tx.size;
        if let Some(nonces) = self.by_sender.get_mut(&tx.sender) {
            nonces.remove(&tx.tx.nonce());
            if nonces.is_empty() {
                self.by_sender.remove(&tx.sender);
            }
        }
        if self.order.len() > 2 * self.by_hash.len() + 64 {
            // Compact the order list so removed hashes do not accumulate.
            let Self { by_hash, order, .. } = self;
            order.retain(|h| by_hash.contains_key(h));
        }
        Some(tx)
    }

    /// Up to `limit` non-blob hashes, oldest first.
    pub(super) fn pending_hashes(&self, limit: usize) -> Vec<B256> {
        let live = |h: &&B256| self.by_hash.get(*h).is_some_and(|tx| !tx.is_blob());
        self.order
            .iter()
            .filter(live)
            .take(limit)
            .copied()
            .collect()
    }
}

/// The lock-protected index plus the new-tx subscribers of one pool.
#[derive(Default)]
pub(super) struct SharedIndex {
    index: RwLock<TxIndex>,
    subscribers: Mutex<Vec<Recipient<NewTxs>>>,
    /// Runs on the admitting thread before each event is sent, whose note then goes with
    /// the event to the hook's own recipient (set once).
    hook: OnceLock<(Arc<dyn AdmissionHook>, Recipient<NewTxs>)>,
}

impl SharedIndex {
    pub(super) fn read(&self) -> RwLockReadGuard<'_, TxIndex> {
        self.index.read().unwrap_or_else(PoisonError::into_inner)
    }

    pub(super) fn write(&self) -> RwLockWriteGuard<'_, TxIndex> {
        self.index.write().unwrap_or_else(PoisonError::into_inner)
    }

    pub(super) fn subscribe(&self, subscriber: Recipient<NewTxs>) {
        self.subscribers
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push(subscriber);
    }

    /// Installs `hook`, whose notes go to `to` with each event; `false` if one was
    /// installed already (it stays).
    pub(super) fn set_hook(&self, hook: Arc<dyn AdmissionHook>, to: Recipient<NewTxs>) -> bool {
        self.hook.set((hook, to)).is_ok()
    }

    /// Runs the hook on `txs`, sends one [`NewTxs`] with them to every subscriber, then the
    /// same event with the hook's note to the hook's recipient (nothing if empty). The hook
    /// goes first: it is the feed's `validated` arrival, and the subscribers' wake-ups (the
    /// broadcaster routing to every peer) would otherwise come before it on a busy machine;
    /// it is bounded (one batch, a few subscribers' writes; see `feed::lane`).
    pub(super) fn publish(&self, txs: Vec<Arc<PoolTx>>) {
        if txs.is_empty() {
            return;
        }
        let event = NewTxs::new(txs.into());
        let noted = self
            .hook
            .get()
            .map(|(hook, to)| (hook.admitted(&event.txs), to));
        for subscriber in self
            .subscribers
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .iter()
        {
            subscriber.do_send(event.clone());
        }
        if let Some((note, to)) = noted {
            to.do_send(NewTxs { note, ..event });
        }
    }
}

/// Implements the [`super::TxPool`] trait for a pool type with a `shared: SharedIndex`.
macro_rules! impl_tx_pool_reads {
    ($pool:ty) => {
        impl $crate::txs::pool::TxPool for $pool {
            fn get(&self, hash: &B256) -> Option<Arc<PoolTx>> {
                self.shared.read().get(hash).cloned()
            }

            fn pending_hashes(&self, limit: usize) -> Vec<B256> {
                self.shared.read().pending_hashes(limit)
            }

            fn len(&self) -> usize {
                self.shared.read().len()
            }

            fn subscribe(&self, subscriber: actix::Recipient<$crate::txs::pool::NewTxs>) {
                self.shared.subscribe(subscriber)
            }
        }
    };
}
pub(super) use impl_tx_pool_reads;
