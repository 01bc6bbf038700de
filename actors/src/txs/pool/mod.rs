//! What the actors need from a transaction pool: the [`TxPool`] trait (body lookups at send
//! time, pending hashes for new peers, new-tx subscriptions), the [`PoolTx`] entry, the
//! [`NewTxs`] event, and [`InMemoryTxPool`], a non-validating implementation for tests and
//! embedders that validate elsewhere.

mod content;
mod index;
mod memory;
mod state;
pub mod validate;
mod validating;

use std::sync::Arc;

use actix::{Message, Recipient};
use alloy_consensus::TxEnvelope;
use alloy_eips::eip2718::{Encodable2718, Typed2718};
use alloy_primitives::{Address, B256};

use crate::eth::{PooledTx, SampledCells};

pub use content::{PoolCounters, SenderTxs, INCLUDED_SENDERS};
pub use memory::InMemoryTxPool;
pub use state::{AccountState, MemoryState, NoState, StateError, StateProvider};
pub use validating::{
    PoolError, PoolLimits, ValidatingTxPool, MAX_FUTURE_PER_SENDER, MAX_POOL_BYTES, MAX_POOL_TXS,
    MIN_TIP, PRICE_BUMP_PERCENT,
};

/// A transaction in the pool, with what routing and announcing need precomputed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PoolTx {
    /// The transaction hash.
    pub hash: B256,
    /// The recovered sender (the pool checked the signature).
    pub sender: Address,
    /// EIP-2718 type.
    pub tx_type: u8,
    /// The size announced in eth/68 NewPooledTransactionHashes: the length of the
    /// network encoding (for blob txs with the sidecar, as geth announces it).
    pub size: usize,
    /// The transaction in its network form (blob txs carry the sidecar; a sampled one
    /// carries it without blobs).
    pub tx: PooledTx,
    /// The length of the eth/72 network form (blob txs without blobs; geth's
    /// `SizeWithoutBlob`), what eth/72 announcements carry. Computed once here, so that
    /// announcing a blob tx to many peers copies nothing.
    pub size_without_blobs: usize,
    /// A sampled blob tx's cells (EIP-8070 sampler role): some columns, verified. `None`
    /// for every other tx, blob txs held whole included.
    pub cells: Option<Arc<SampledCells>>,
}

impl PoolTx {
    /// Wraps a transaction whose sender is already recovered.
    pub fn new(tx: PooledTx, sender: Address) -> Self {
        Self {
            hash: *tx.hash(),
            sender,
            tx_type: tx.ty(),
            size: tx.encode_2718_len(),
            size_without_blobs: match crate::eth::cells::cell_sidecar(&tx) {
                Some(s) if !s.blobs.is_empty() => {
                    crate::eth::cells::without_blobs(&tx).encode_2718_len()
                }
                _ => tx.encode_2718_len(),
            },
            tx,
            cells: None,
        }
    }

    /// The blobless `self` with the `cells` it was verified with: a sampled blob tx. Its
    /// size counts the cells, which are what it holds instead of blobs.
    pub fn with_cells(mut self, cells: SampledCells) -> Self {
        self.size = self.size.saturating_add(cells.size());
        self.cells = Some(Arc::new(cells));
        self
    }

    /// Whether this is a sampled blob tx: held without blobs, with some columns' cells. Such
    /// a tx can be served only to eth/72 peers (older ones need the blobs).
    pub fn is_sampled(&self) -> bool {
        self.cells.is_some()
    }

    /// Whether this is an EIP-4844 blob transaction (never broadcast in full, EIP-4844).
    pub fn is_blob(&self) -> bool {
        self.tx.is_eip4844()
    }

    /// The transaction in its consensus form for a Transactions message, or `None` for blob
    /// transactions, which may only be announced.
    pub fn broadcast_form(&self) -> Option<TxEnvelope> {
        match &self.tx {
            PooledTx::Legacy(tx) => Some(TxEnvelope::Legacy(tx.clone())),
            PooledTx::Eip2930(tx) => Some(TxEnvelope::Eip2930(tx.clone())),
            PooledTx::Eip1559(tx) => Some(TxEnvelope::Eip1559(tx.clone())),
            PooledTx::Eip7702(tx) => Some(TxEnvelope::Eip7702(tx.clone())),
            PooledTx::Eip4844(_) => None,
        }
    }
}

/// Event: transactions were accepted into the pool (only accepted ones), in insertion order
/// within the event. Adds run on several threads (the verifiers, RPC workers), so two
/// events may reach a subscriber in another order than their txs were inserted.
#[derive(Clone, Debug, Message)]
#[rtype(result = "()")]
#[non_exhaustive]
pub struct NewTxs {
    /// The new transactions.
    pub txs: Arc<[Arc<PoolTx>]>,
    /// What the pool's [`AdmissionHook`] made of them on the admitting thread (only in the
    /// event sent to the hook's own recipient).
    pub note: Option<AdmissionNote>,
}

impl NewTxs {
    /// The event for `txs`, without a hook's note.
    pub fn new(txs: Arc<[Arc<PoolTx>]>) -> Self {
        Self { txs, note: None }
    }
}

/// Called on the thread that admitted txs (a verifier, an RPC worker), before [`NewTxs`]
/// leaves for the subscribers: the feed decides and writes its `validated` arrivals there
/// instead of one thread hand-off later (`crate::feed::lane`).
pub trait AdmissionHook: Send + Sync + std::fmt::Debug {
    /// Handles the admission of `txs` (in insertion order); the note goes out with the
    /// event to the hook's recipient.
    fn admitted(&self, txs: &[Arc<PoolTx>]) -> Option<AdmissionNote>;
}

/// What an [`AdmissionHook`] made of an admission, for the subscriber that installed it
/// (opaque here: the hook's type belongs to the layer above).
#[derive(Clone, Debug)]
pub struct AdmissionNote(pub Arc<dyn std::any::Any + Send + Sync>);

/// The pool as the networking actors see it. Lookups are synchronous (a shared read view),
/// so a peer actor can resolve hashes to bodies at send time without waiting on another
/// actor; whoever owns the pool's writes emits [`NewTxs`] to the subscribers.
pub trait TxPool: Send + Sync + 'static {
    /// The transaction with `hash`, if the pool still has it.
    fn get(&self, hash: &B256) -> Option<Arc<PoolTx>>;

    /// Up to `limit` hashes of pending non-blob transactions, oldest first: what a newly
    /// connected peer is sent as announcements (geth `syncTransactions`).
    fn pending_hashes(&self, limit: usize) -> Vec<B256>;

    /// Number of transactions in the pool.
    fn len(&self) -> usize;

    /// Whether the pool is empty.
    fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Registers `subscriber` for every later [`NewTxs`] event.
    fn subscribe(&self, subscriber: Recipient<NewTxs>);
}
