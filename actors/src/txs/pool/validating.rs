//! [`ValidatingTxPool`]: the pool the node runs. Every transaction is validated (stateless
//! and against state) before it is kept; capacity is bounded in count and bytes with the
//! cheapest evicted first; per sender, nonces are ordered, gapped ("future") transactions
//! are capped, and a replacement must raise both fees by 10%. Only accepted transactions
//! are announced to subscribers.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};

use alloy_consensus::Transaction;
use alloy_primitives::{Address, B256};

use super::content::{PoolCounters, INCLUDED_SENDERS};
use super::index::{impl_tx_pool_reads, SharedIndex};
use super::validate::{validate_state, validate_stateless, TxValidationError, ValidationRules};
use super::{PoolTx, StateProvider};
use crate::eth::PooledTx;
use crate::p2p::PeerId;

/// Most transactions kept (geth's default slots: 4096 pending + 1024 queued).
pub const MAX_POOL_TXS: usize = 5120;
/// Most bytes of transactions kept (bounds blob-heavy pools; geth's blob pool is 2.5 GiB on
/// disk, this in-memory pool keeps less).
pub const MAX_POOL_BYTES: usize = 256 * 1024 * 1024;
/// Gapped transactions kept per sender (geth `AccountQueue`, 64).
pub const MAX_FUTURE_PER_SENDER: usize = 64;
/// Fee increase a replacement needs, in percent (geth `PriceBump`, 10).
pub const PRICE_BUMP_PERCENT: u128 = 10;
/// Least tip (legacy: gas price) a tx must offer to be kept, in wei (geth `PriceLimit`, 1).
pub const MIN_TIP: u128 = 1;

/// The pool's limits, geth's `--txpool.*` flags; [`Default`] is the consts above.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PoolLimits {
    /// Most transactions, pending and gapped together (geth `GlobalSlots` 4096 plus
    /// `GlobalQueue` 1024: [`MAX_POOL_TXS`]).
    pub txs: usize,
    /// Most bytes ([`MAX_POOL_BYTES`]).
    pub bytes: usize,
    /// Gapped transactions per sender (geth `AccountQueue`: [`MAX_FUTURE_PER_SENDER`]).
    pub future_per_sender: usize,
    /// Fee increase a replacement needs, percent (geth `PriceBump`: [`PRICE_BUMP_PERCENT`]).
    pub price_bump_percent: u128,
    /// Least tip a tx must offer, wei (geth `PriceLimit`: [`MIN_TIP`]).
    pub min_tip: u128,
}

impl Default for PoolLimits {
    fn default() -> Self {
        Self {
            txs: MAX_POOL_TXS,
            bytes: MAX_POOL_BYTES,
            future_per_sender: MAX_FUTURE_PER_SENDER,
            price_bump_percent: PRICE_BUMP_PERCENT,
            min_tip: MIN_TIP,
        }
    }
}

/// Peers whose rejection counts are kept, the most recent ones (four times geth's default
/// of 50 peers, so that peers of the last few reconnect cycles are still visible).
pub const REJECTION_PEERS: usize = 200;

/// Why a valid-looking transaction was not kept.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PoolError {
    /// It failed validation.
    #[error(transparent)]
    Invalid(#[from] TxValidationError),
    /// Already in the pool.
    #[error("already known")]
    AlreadyKnown,
    /// Same sender and nonce as a pooled tx, without a 10% fee bump.
    #[error("replacement underpriced")]
    ReplacementUnderpriced,
    /// The pool is full and this tx pays no more than the cheapest one.
    #[error("pool full and transaction underpriced")]
    Underpriced,
    /// Its tip is below the pool's floor (`--txpool.pricelimit`); geth's text.
    #[error("transaction gas price below minimum: gas tip cap {tip}, minimum needed {min}")]
    TipTooLow {
        /// What it offers.
        tip: u128,
        /// The floor.
        min: u128,
    },
    /// The sender has too many gapped transactions.
    #[error("too many future transactions for the sender")]
    TooManyFuture,
    /// Refused recently; not verified again (see `tx_ingest::RECENTLY_REJECTED`).
    #[error("recently rejected")]
    RecentlyRejected,
    /// Not looked at: its sender had too much waiting already, or left.
    #[error("sender busy")]
    Busy,
}

/// A validating, bounded transaction pool (see the module doc).
pub struct ValidatingTxPool {
    rules: ValidationRules,
    pub(super) state_provider: Arc<dyn StateProvider>,
    pub(super) shared: SharedIndex,
    /// Each sender's next nonce as included blocks show it (see `content.rs`).
    pub(super) included: Mutex<lru::LruCache<Address, u64>>,
    /// Included, evicted and replaced counts.
    pub(super) counters: PoolCounters,
    /// Rejection counts of the peers seen last (bounded: peers that left fall out).
    rejections: Mutex<lru::LruCache<PeerId, HashMap<&'static str, u64>>>,
    /// Capacity, fee floor and per-sender limits.
    limits: PoolLimits,
}

/// A blob tx without blobs enters only as a sampled tx: with the cells it was verified
/// with (the fetcher's, [`PoolTx::cells`]). Any other blobless blob tx (say, one submitted
/// over RPC) is refused for its shape.
fn sampled_cells_present(tx: &PoolTx) -> Result<(), TxValidationError> {
    let Some(sidecar) = crate::eth::cells::cell_sidecar(&tx.tx).filter(|s| s.blobs.is_empty())
    else {
        return Ok(());
    };
    match &tx.cells {
        Some(cells) if cells.belong_to(sidecar) => Ok(()),
        _ => Err(TxValidationError::SidecarShape {
            blobs: 0,
            commitments: sidecar.commitments.len(),
            hashes: sidecar.commitments.len(),
        }),
    }
}

/// The fee a tx competes on for eviction: its tip cap (legacy: gas price).
fn fee(tx: &PoolTx) -> u128 {
    tx.tx
        .max_priority_fee_per_gas()
        .unwrap_or_else(|| tx.tx.max_fee_per_gas())
}

impl ValidatingTxPool {
    /// An empty pool validating with `rules` against `state`.
    pub fn new(rules: ValidationRules, state: Arc<dyn StateProvider>) -> Self {
        Self {
            rules,
            state_provider: state,
            shared: SharedIndex::default(),
            rejections: Mutex::new(lru::LruCache::new(
                std::num::NonZeroUsize::MIN.saturating_add(REJECTION_PEERS - 1),
            )),
            limits: PoolLimits::default(),
            included: Mutex::new(lru::LruCache::new(
                std::num::NonZeroUsize::MIN.saturating_add(INCLUDED_SENDERS - 1),
            )),
            counters: PoolCounters::default(),
        }
    }

    /// Overrides the capacity ([`MAX_POOL_TXS`], [`MAX_POOL_BYTES`]).
    pub fn with_capacity(mut self, txs: usize, bytes: usize) -> Self {
        self.limits.txs = txs;
        self.limits.bytes = bytes;
        self
    }

    /// Sets every limit at once (the node's `--txpool.*` flags).
    pub fn with_limits(mut self, limits: PoolLimits) -> Self {
        self.limits = limits;
        self
    }

    /// The limits in force.
    pub fn limits(&self) -> PoolLimits {
        self.limits
    }

    /// Runs `hook` on the admitting thread before each [`super::NewTxs`] is sent, and sends
    /// `to` the event with the hook's note (`to` is the hook's
    /// own subscriber: subscribe it here, not with [`super::TxPool::subscribe`]); `false` if
    /// a hook was installed already (the first stays; a started node's pool has the feed's).
    pub fn set_admission_hook(
        &self,
        hook: Arc<dyn super::AdmissionHook>,
        to: actix::Recipient<super::NewTxs>,
    ) -> bool {
        self.shared.set_hook(hook, to)
    }

    /// Validates and adds `txs` (from `origin`, if a peer sent them); emits one [`super::NewTxs`]
    /// with the accepted ones. Returns each tx's outcome in order. Rejections from a peer
    /// are counted per reason ([`Self::rejections`]); the peer is not disconnected (the
    /// spec says to drop invalid transactions).
    pub fn add(&self, txs: Vec<PooledTx>, origin: Option<PeerId>) -> Vec<Result<B256, PoolError>> {
        let verified = txs.into_iter().map(|tx| self.verify(tx)).collect();
        self.add_verified(verified, origin)
    }

    /// The CPU-heavy half of [`Self::add`]: the stateless checks with sender recovery (and
    /// KZG proofs of blob sidecars). Needs no lock; worker threads run it.
    pub fn verify(&self, tx: PooledTx) -> Result<PoolTx, TxValidationError> {
        validate_stateless(tx, &self.rules)
    }

    /// What can refuse `tx` without KZG work, cheapest first: already pooled, the cheap
    /// stateless checks (chain id, blobs, size, fees, gas, signature), then nonce and
    /// balance. `eth_sendRawTransaction` runs it before converting a blob sidecar.
    pub fn precheck(&self, tx: &PooledTx) -> Result<(), PoolError> {
        if super::TxPool::get(self, tx.hash()).is_some() {
            return Err(PoolError::AlreadyKnown);
        }
        let sender = super::validate::cheap_stateless_checks(tx, &self.rules)?;
        let candidate = PoolTx::new(tx.clone(), sender);
        validate_state(&candidate, self.state_provider.as_ref())?;
        self.check_included_nonce(&candidate)?;
        Ok(())
    }

    /// The other half of [`Self::add`]: state checks and insertion of transactions that
    /// went through [`Self::verify`] (their outcomes, in order).
    pub fn add_verified(
        &self,
        verified: Vec<Result<PoolTx, TxValidationError>>,
        origin: Option<PeerId>,
    ) -> Vec<Result<B256, PoolError>> {
        let mut accepted = Vec::new();
        let results: Vec<_> = verified
            .into_iter()
            .map(|tx| {
                let result = tx
                    .map_err(PoolError::from)
                    .and_then(|tx| {
                        sampled_cells_present(&tx)
                            .map(|()| tx)
                            .map_err(PoolError::from)
                    })
                    .and_then(|tx| {
                        // The included-nonce check is `insert`'s, under the index lock.
                        validate_state(&tx, self.state_provider.as_ref())
                            .map(|()| tx)
                            .map_err(PoolError::from)
                    })
                    .and_then(|tx| self.insert(tx));
                match &result {
                    Ok(tx) => accepted.push(tx.clone()),
                    Err(error) => self.count_rejection(origin, error),
                }
                result.map(|tx| tx.hash)
            })
            .collect();
        self.shared.publish(accepted);
        results
    }

    /// Rejections per reason for transactions from `peer`.
    pub fn rejections(&self, peer: &PeerId) -> HashMap<&'static str, u64> {
        self.rejections
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .peek(peer)
            .cloned()
            .unwrap_or_default()
    }

    /// Removes transactions (e.g. included in a block).
    pub fn remove(&self, hashes: &[B256]) {
        let mut index = self.shared.write();
        for hash in hashes {
            index.remove(hash);
        }
    }

    fn count_rejection(&self, origin: Option<PeerId>, error: &PoolError) {
        let Some(peer) = origin else { return };
        let reason = match error {
            PoolError::Invalid(TxValidationError::NonceTooLow { .. }) => "nonce_too_low",
            PoolError::Invalid(TxValidationError::InsufficientFunds { .. }) => "insufficient_funds",
            PoolError::Invalid(TxValidationError::IntrinsicGas { .. }) => "intrinsic_gas",
            PoolError::Invalid(_) => "invalid",
            PoolError::AlreadyKnown => "already_known",
            PoolError::ReplacementUnderpriced
            | PoolError::Underpriced
            | PoolError::TipTooLow { .. } => "underpriced",
            PoolError::TooManyFuture => "too_many_future",
            PoolError::RecentlyRejected => "recently_rejected",
            PoolError::Busy => "busy",
        };
        *self
            .rejections
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .get_or_insert_mut(peer, HashMap::new)
            .entry(reason)
            .or_default() += 1;
    }

    fn insert(&self, tx: PoolTx) -> Result<Arc<PoolTx>, PoolError> {
        if fee(&tx) < self.limits.min_tip {
            return Err(PoolError::TipTooLow {
                tip: fee(&tx),
                min: self.limits.min_tip,
            });
        }
        // Under the index lock, which `apply_included` also holds while it raises a
        // sender's included nonce and sweeps what it used up: a tx checked against the
        // old nonce cannot slip in after the sweep (adds come from several threads: the
        // verifiers, RPC workers).
        let mut index = self.shared.write();
        if index.contains(&tx.hash) {
            return Err(PoolError::AlreadyKnown);
        }
        self.check_included_nonce(&tx)?;
        let account_nonce = self.account_nonce(&tx.sender);
        let nonce = tx.tx.nonce();
        // Replacement: same sender and nonce.
        let replaced = index
            .sender_nonces(&tx.sender)
            .and_then(|n| n.get(&nonce))
            .copied();
        if let Some(old_hash) = replaced {
            let old = index.get(&old_hash).cloned();
            // Fees are wire values up to 2^128: compare in 256 bits, never overflowing.
            let bumped = |new: u128, old: u128| {
                alloy_primitives::U256::from(new) * alloy_primitives::U256::from(100)
                    >= alloy_primitives::U256::from(old)
                        * alloy_primitives::U256::from(100 + self.limits.price_bump_percent)
            };
            if let Some(old) = old {
                if !(bumped(tx.tx.max_fee_per_gas(), old.tx.max_fee_per_gas())
                    && bumped(fee(&tx), fee(&old)))
                {
                    return Err(PoolError::ReplacementUnderpriced);
                }
            }
        } else {
            // A gap before this nonce makes it "future": cap those per sender.
            let sender_txs = index.sender_nonces(&tx.sender);
            let mut expected = account_nonce;
            if let Some(txs) = sender_txs {
                for n in txs.keys() {
                    if *n == expected {
                        expected += 1;
                    }
                }
            }
            if nonce > expected {
                let future =
                    sender_txs.map_or(0, |txs| txs.keys().filter(|n| **n > expected).count());
                if future >= self.limits.future_per_sender {
                    return Err(PoolError::TooManyFuture);
                }
            }
            // Capacity: evict the cheapest if this one pays more.
            let (max_txs, max_bytes) = (self.limits.txs, self.limits.bytes);
            while index.len() >= max_txs || index.bytes() + tx.size > max_bytes {
                let cheapest = index
                    .values()
                    .min_by_key(|t| fee(t))
                    .map(|t| (t.hash, fee(t)));
                match cheapest {
                    Some((hash, cheapest_fee)) if fee(&tx) > cheapest_fee => {
                        index.remove(&hash);
                        self.counters.count_evicted(1);
                    }
                    _ => return Err(PoolError::Underpriced),
                }
            }
        }
        if let Some(old_hash) = replaced {
            index.remove(&old_hash);
            self.counters.count_replaced(1);
        }
        let tx = Arc::new(tx);
        index.insert(tx.clone());
        Ok(tx)
    }
}

impl_tx_pool_reads!(ValidatingTxPool);
