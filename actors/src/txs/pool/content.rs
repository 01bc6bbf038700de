//! The validating pool as wallets and geth's `txpool_*` see it, and its hygiene: each
//! sender's next nonce (state, advanced by included transactions), the split of a sender's
//! transactions into pending (consecutive from that nonce) and queued (after a gap), and
//! the removal of transactions that blocks included or made stale.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, PoisonError};

use alloy_consensus::Transaction;
use alloy_primitives::{Address, B256};

use super::index::TxIndex;
use super::validate::TxValidationError;
use super::{PoolTx, ValidatingTxPool};

/// Senders whose included nonce is remembered (most recently included first). A sender
/// that falls out falls back on the state's nonce; 65,536 covers the senders of more than
/// a day of mainnet blocks (about 1,000 distinct senders per block) at ~60 bytes each.
pub const INCLUDED_SENDERS: usize = 65_536;

/// Counts of transactions that left the pool, by why (Prometheus counters).
#[derive(Debug, Default)]
pub struct PoolCounters {
    included: AtomicU64,
    evicted: AtomicU64,
    replaced: AtomicU64,
}

impl PoolCounters {
    /// Pool transactions that a followed or imported block included.
    pub fn included(&self) -> u64 {
        self.included.load(Ordering::Relaxed)
    }

    /// Pool transactions dropped without inclusion: their nonce went stale (another tx of
    /// the sender with that nonce was included) or a better-paying tx needed the room.
    pub fn evicted(&self) -> u64 {
        self.evicted.load(Ordering::Relaxed)
    }

    /// Pool transactions replaced by one with the same sender and nonce and higher fees.
    pub fn replaced(&self) -> u64 {
        self.replaced.load(Ordering::Relaxed)
    }

    /// The pool's size (`pooled`) and what left it, by why (`ethpeer_txpool_*`).
    pub fn render(&self, out: &mut crate::exposition::Exposition, pooled: usize) {
        out.gauge(
            "ethpeer_txpool_transactions",
            "Transactions in the pool.",
            pooled as u64,
        );
        out.family(
            "ethpeer_txpool_removed_total",
            crate::exposition::Kind::Counter,
            "Transactions that left the pool, by why: included in a followed block, evicted \
             (stale nonce or no room), replaced (same nonce, higher fees).",
        )
        .sample(&[("reason", "included")], self.included())
        .sample(&[("reason", "evicted")], self.evicted())
        .sample(&[("reason", "replaced")], self.replaced());
    }

    pub(super) fn count_evicted(&self, n: u64) {
        self.evicted.fetch_add(n, Ordering::Relaxed);
    }

    pub(super) fn count_replaced(&self, n: u64) {
        self.replaced.fetch_add(n, Ordering::Relaxed);
    }
}

/// One sender's pool transactions, by nonce.
#[derive(Clone, Debug, Default)]
pub struct SenderTxs {
    /// Executable in order: consecutive nonces from the sender's next nonce.
    pub pending: Vec<Arc<PoolTx>>,
    /// After a nonce gap: not executable until the gap fills.
    pub queued: Vec<Arc<PoolTx>>,
}

/// What a block's inclusion did to the pool.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Included {
    /// Pool transactions the block included.
    pub included: Vec<B256>,
    /// Pool transactions whose nonce the block used up with another transaction.
    pub stale: Vec<B256>,
}

impl ValidatingTxPool {
    /// `sender`'s next nonce as of the latest block: the state's, or past the highest
    /// nonce of the sender's included transactions, whichever is higher.
    pub fn account_nonce(&self, sender: &Address) -> u64 {
        let state = self
            .state_provider
            .account(sender)
            .map_or(0, |account| account.nonce);
        self.included_nonce(sender).map_or(state, |n| n.max(state))
    }

    /// `sender`'s next nonce counting its pending pool transactions (what
    /// `eth_getTransactionCount(addr, "pending")` answers).
    pub fn pending_nonce(&self, sender: &Address) -> u64 {
        let base = self.account_nonce(sender);
        let index = self.shared.read();
        let mut next = self.start_nonce(&index, sender).unwrap_or(base);
        if let Some(nonces) = index.sender_nonces(sender) {
            while nonces.contains_key(&next) {
                next = next.saturating_add(1);
            }
        }
        next
    }

    /// Every sender's transactions split into pending and queued.
    pub fn content(&self) -> BTreeMap<Address, SenderTxs> {
        let index = self.shared.read();
        index
            .senders()
            .map(|sender| (*sender, self.split(&index, sender)))
            .collect()
    }

    /// `sender`'s transactions split into pending and queued.
    pub fn content_from(&self, sender: &Address) -> SenderTxs {
        self.split(&self.shared.read(), sender)
    }

    /// Counts of pending and queued transactions.
    pub fn status(&self) -> (usize, usize) {
        self.content().values().fold((0, 0), |(p, q), txs| {
            (p + txs.pending.len(), q + txs.queued.len())
        })
    }

    /// The pool's leave counters.
    pub fn counters(&self) -> &PoolCounters {
        &self.counters
    }

    /// Applies a block's transactions (`(hash, sender, nonce)` each, in block order):
    /// included ones leave the pool, each sender's next nonce advances past its included
    /// nonces, and pool transactions below that nonce leave as stale.
    pub fn apply_included(&self, txs: &[(B256, Address, u64)]) -> Included {
        let mut next: BTreeMap<Address, u64> = BTreeMap::new();
        for (_, sender, nonce) in txs {
            let after = nonce.saturating_add(1);
            let entry = next.entry(*sender).or_insert(after);
            *entry = (*entry).max(after);
        }
        // The index lock first and throughout (the order `insert` takes them in): no add
        // checks a sender against its old included nonce and inserts after the sweep.
        let mut index = self.shared.write();
        {
            let mut included = self.included.lock().unwrap_or_else(PoisonError::into_inner);
            for (sender, nonce) in &next {
                let known = included.get(sender).copied().unwrap_or(0);
                included.put(*sender, known.max(*nonce));
            }
        }
        let mut outcome = Included::default();
        for (hash, _, _) in txs {
            if index.remove(hash).is_some() {
                outcome.included.push(*hash);
            }
        }
        for (sender, floor) in &next {
            let stale: Vec<B256> = index
                .sender_nonces(sender)
                .map(|nonces| nonces.range(..*floor).map(|(_, hash)| *hash).collect())
                .unwrap_or_default();
            for hash in stale {
                index.remove(&hash);
                outcome.stale.push(hash);
            }
        }
        drop(index);
        let counters = &self.counters;
        counters
            .included
            .fetch_add(outcome.included.len() as u64, Ordering::Relaxed);
        counters.count_evicted(outcome.stale.len() as u64);
        outcome
    }

    /// Undoes inclusions a reorg dropped (`(sender, nonce)` of each dropped tx): a
    /// sender's next nonce goes back to its lowest dropped nonce, so those transactions
    /// can be pooled again.
    pub fn revert_included(&self, txs: &[(Address, u64)]) {
        let mut included = self.included.lock().unwrap_or_else(PoisonError::into_inner);
        for (sender, nonce) in txs {
            if let Some(next) = included.get_mut(sender) {
                *next = (*next).min(*nonce);
            }
        }
    }

    /// The nonce-too-low check against included nonces (state-backed checks use the
    /// state's nonce; this one works without state).
    pub(super) fn check_included_nonce(&self, tx: &PoolTx) -> Result<(), TxValidationError> {
        match self.included_nonce(&tx.sender) {
            Some(next) if tx.tx.nonce() < next => Err(TxValidationError::NonceTooLow {
                nonce: tx.tx.nonce(),
                account: next,
            }),
            _ => Ok(()),
        }
    }

    fn included_nonce(&self, sender: &Address) -> Option<u64> {
        self.included
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .peek(sender)
            .copied()
    }

    /// Where `sender`'s pending run starts when nothing tells us its nonce (no state, no
    /// included tx): at its lowest pooled nonce, as a relay without state must assume.
    fn start_nonce(&self, index: &TxIndex, sender: &Address) -> Option<u64> {
        let known = self.state_provider.is_available() || self.included_nonce(sender).is_some();
        if known {
            return None;
        }
        index
            .sender_nonces(sender)
            .and_then(|nonces| nonces.keys().next().copied())
    }

    fn split(&self, index: &TxIndex, sender: &Address) -> SenderTxs {
        let mut out = SenderTxs::default();
        let Some(nonces) = index.sender_nonces(sender) else {
            return out;
        };
        let mut next = self
            .start_nonce(index, sender)
            .unwrap_or_else(|| self.account_nonce(sender));
        for (nonce, hash) in nonces {
            let Some(tx) = index.get(hash) else { continue };
            if *nonce == next {
                out.pending.push(tx.clone());
                next = next.saturating_add(1);
            } else {
                out.queued.push(tx.clone());
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{sender, tx};
    use crate::txs::pool::validate::ValidationRules;
    use crate::txs::pool::{NoState, PoolError, TxPool};

    fn pool() -> ValidatingTxPool {
        let rules = ValidationRules {
            chain_id: 1,
            block_gas_limit: 30_000_000,
            max_blobs_per_tx: 6,
            calldata_floor: true,
        };
        ValidatingTxPool::new(rules, Arc::new(NoState))
    }

    fn add(pool: &ValidatingTxPool, txs: &[&PoolTx]) -> Vec<Result<B256, PoolError>> {
        pool.add_verified(txs.iter().map(|t| Ok((*t).clone())).collect(), None)
    }

    fn nonces(txs: &[Arc<PoolTx>]) -> Vec<u64> {
        txs.iter().map(|t| t.tx.nonce()).collect()
    }

    #[test]
    fn without_state_a_senders_run_starts_at_its_lowest_pooled_nonce() {
        let pool = pool();
        let from = sender(1);
        let (a, b, c) = (tx(from, 5, 0), tx(from, 6, 0), tx(from, 8, 0));
        assert!(add(&pool, &[&a, &b, &c]).iter().all(Result::is_ok));
        let split = pool.content_from(&from);
        assert_eq!(nonces(&split.pending), [5, 6]);
        assert_eq!(nonces(&split.queued), [8]);
        assert_eq!(pool.pending_nonce(&from), 7);
        assert_eq!(pool.status(), (2, 1));
        assert_eq!(pool.content().len(), 1);
    }

    #[test]
    fn an_included_block_removes_its_txs_and_the_senders_stale_ones() {
        let pool = pool();
        let (alice, bob) = (sender(1), sender(2));
        let (a0, a1, a2) = (tx(alice, 0, 0), tx(alice, 1, 0), tx(alice, 2, 0));
        // Bob's pooled nonce-3 tx loses to another nonce-3 tx of his in the block.
        let (b3, b3_mined) = (tx(bob, 3, 0), tx(bob, 3, 1));
        assert!(add(&pool, &[&a0, &a1, &a2, &b3]).iter().all(Result::is_ok));
        let outcome = pool.apply_included(&[
            (a0.hash, alice, 0),
            (a1.hash, alice, 1),
            (b3_mined.hash, bob, 3),
        ]);
        assert_eq!(outcome.included, [a0.hash, a1.hash]);
        assert_eq!(outcome.stale, [b3.hash]);
        assert!(
            pool.get(&a2.hash).is_some(),
            "alice's next tx stays, now pending"
        );
        assert_eq!(nonces(&pool.content_from(&alice).pending), [2]);
        assert_eq!(pool.account_nonce(&alice), 2);
        assert_eq!(pool.account_nonce(&bob), 4);
        assert_eq!(pool.pending_nonce(&bob), 4);
        // A late copy of a used nonce is refused in geth's terms.
        assert_eq!(
            add(&pool, &[&tx(bob, 3, 2)]),
            [Err(PoolError::Invalid(TxValidationError::NonceTooLow {
                nonce: 3,
                account: 4
            }))]
        );
        let counters = pool.counters();
        assert_eq!((counters.included(), counters.evicted()), (2, 1));
    }

    #[test]
    fn a_replacement_is_counted() {
        let pool = pool();
        let from = sender(3);
        let cheap = tx(from, 0, 0);
        let mut bumped = tx(from, 0, 0);
        if let crate::eth::PooledTx::Eip1559(signed) = &bumped.tx {
            let mut inner = signed.tx().clone();
            inner.max_fee_per_gas *= 2;
            inner.max_priority_fee_per_gas *= 2;
            bumped = PoolTx::new(
                crate::eth::PooledTx::Eip1559(alloy_consensus::Signed::new_unhashed(
                    inner,
                    *signed.signature(),
                )),
                from,
            );
        }
        assert!(add(&pool, &[&cheap, &bumped]).iter().all(Result::is_ok));
        assert!(pool.get(&cheap.hash).is_none());
        assert_eq!(pool.counters().replaced(), 1);
    }
}
