//! The [`ChainStore`] trait (what serving and block handling read and write) and
//! [`MemoryChainStore`], an in-memory implementation for tests and short-lived nodes.

use std::collections::HashMap;
use std::sync::{PoisonError, RwLock};

use alloy_consensus::{Header, ReceiptEnvelope};
use alloy_primitives::{keccak256, Bytes, B256, U256};

use crate::eth::{EthBlock, EthBlockBody};

/// Why a block could not be stored.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StoreError {
    /// Its parent is not in the store.
    #[error("block {number} has unknown parent {parent}")]
    UnknownParent {
        /// The block's number.
        number: u64,
        /// The parent hash it names.
        parent: B256,
    },
    /// The database belongs to another chain.
    #[error("store holds genesis {stored}, expected {expected}")]
    GenesisMismatch {
        /// The stored genesis hash.
        stored: B256,
        /// The configured genesis hash.
        expected: B256,
    },
    /// A block access list for a block the store does not have.
    #[error("no block {hash} to attach a block access list to")]
    UnknownBlock {
        /// The block hash named.
        hash: B256,
    },
    /// A block access list that does not hash to the header's `block-access-list-hash`
    /// (`None` there: a pre-Amsterdam header, which commits to no BAL).
    #[error("block access list hashes to {got}, header {hash} commits to {expected:?}")]
    BlockAccessListMismatch {
        /// The block.
        hash: B256,
        /// The header's commitment.
        expected: Option<B256>,
        /// `keccak256` of the list offered.
        got: B256,
    },
    /// The backing database failed.
    #[error("store failure: {reason}")]
    Backend {
        /// What failed.
        reason: String,
    },
}

/// A chain of blocks: canonical lookups by number and hash, bodies, receipts when known,
/// and total difficulty. Reads are synchronous (a shared read view) so request serving
/// never waits on an actor.
pub trait ChainStore: Send + Sync + 'static {
    /// The canonical header at `number`.
    fn header_by_number(&self, number: u64) -> Option<Header>;
    /// The header with `hash` (canonical or not).
    fn header_by_hash(&self, hash: &B256) -> Option<Header>;
    /// The canonical hash at `number`.
    fn canonical_hash(&self, number: u64) -> Option<B256>;
    /// The body of the block with `hash`.
    fn body(&self, hash: &B256) -> Option<EthBlockBody>;
    /// The receipts of the block with `hash`, if the store has them (receipts cannot be
    /// derived without executing the block).
    fn receipts(&self, hash: &B256) -> Option<Vec<ReceiptEnvelope>>;
    /// Total difficulty up to and including the block with `hash`.
    fn total_difficulty(&self, hash: &B256) -> Option<U256>;
    /// The canonical head.
    fn head(&self) -> Header;
    /// Adds a block whose parent is known; it becomes the head if it extends the head.
    fn insert_block(
        &self,
        block: EthBlock,
        receipts: Option<Vec<ReceiptEnvelope>>,
    ) -> Result<B256, StoreError>;
    /// The block access list (EIP-7928) of the block with `hash`, as its RLP encoding, if
    /// the store has it.
    fn block_access_list(&self, hash: &B256) -> Option<Bytes>;
    /// Stores the RLP-encoded block access list of the stored block `hash`, after checking
    /// it against the header's `block-access-list-hash` (EIP-8159 "Validation").
    fn insert_block_access_list(&self, hash: &B256, encoded: Bytes) -> Result<(), StoreError>;
    /// The oldest block servable without a gap (eth/69 `earliest`): our stores keep every
    /// block from genesis.
    fn earliest(&self) -> u64 {
        0
    }
}

/// Checks `encoded` against the commitment of `header` (the block `hash`).
pub(super) fn check_block_access_list(
    hash: &B256,
    header: Option<&Header>,
    encoded: &[u8],
) -> Result<(), StoreError> {
    let header = header.ok_or(StoreError::UnknownBlock { hash: *hash })?;
    let got = keccak256(encoded);
    if header.block_access_list_hash != Some(got) {
        return Err(StoreError::BlockAccessListMismatch {
            hash: *hash,
            expected: header.block_access_list_hash,
            got,
        });
    }
    Ok(())
}

/// An in-memory [`ChainStore`].
pub struct MemoryChainStore {
    inner: RwLock<Inner>,
}

struct Inner {
    headers: HashMap<B256, Header>,
    bodies: HashMap<B256, EthBlockBody>,
    receipts: HashMap<B256, Vec<ReceiptEnvelope>>,
    access_lists: HashMap<B256, Bytes>,
    td: HashMap<B256, U256>,
    /// Canonical hashes by number, from genesis.
    canonical: Vec<B256>,
}

impl MemoryChainStore {
    /// A store holding only `genesis`.
    pub fn new(genesis: Header) -> Self {
        let hash = genesis.hash_slow();
        let inner = Inner {
            td: HashMap::from([(hash, genesis.difficulty)]),
            bodies: HashMap::from([(hash, EthBlockBody::default())]),
            receipts: HashMap::new(),
            access_lists: HashMap::new(),
            canonical: vec![hash],
            headers: HashMap::from([(hash, genesis)]),
        };
        Self {
            inner: RwLock::new(inner),
        }
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, Inner> {
        self.inner.read().unwrap_or_else(PoisonError::into_inner)
    }
}

impl ChainStore for MemoryChainStore {
    fn header_by_number(&self, number: u64) -> Option<Header> {
        let inner = self.read();
        let hash = inner.canonical.get(usize::try_from(number).ok()?)?;
        inner.headers.get(hash).cloned()
    }

    fn header_by_hash(&self, hash: &B256) -> Option<Header> {
        self.read().headers.get(hash).cloned()
    }

    fn canonical_hash(&self, number: u64) -> Option<B256> {
        self.read()
            .canonical
            .get(usize::try_from(number).ok()?)
            .copied()
    }

    fn body(&self, hash: &B256) -> Option<EthBlockBody> {
        self.read().bodies.get(hash).cloned()
    }

    fn receipts(&self, hash: &B256) -> Option<Vec<ReceiptEnvelope>> {
        self.read().receipts.get(hash).cloned()
    }

    fn total_difficulty(&self, hash: &B256) -> Option<U256> {
        self.read().td.get(hash).copied()
    }

    fn head(&self) -> Header {
        let inner = self.read();
        let head = inner.canonical.last().and_then(|h| inner.headers.get(h));
        // `canonical` always holds at least the genesis, whose header is always present.
        head.cloned().unwrap_or_default()
    }

    fn insert_block(
        &self,
        block: EthBlock,
        receipts: Option<Vec<ReceiptEnvelope>>,
    ) -> Result<B256, StoreError> {
        let mut inner = self.inner.write().unwrap_or_else(PoisonError::into_inner);
        let EthBlock { header, body } = block;
        let parent = header.parent_hash;
        let Some(parent_td) = inner.td.get(&parent).copied() else {
            return Err(StoreError::UnknownParent {
                number: header.number,
                parent,
            });
        };
        let hash = header.hash_slow();
        inner.td.insert(hash, parent_td + header.difficulty);
        if inner.canonical.last() == Some(&parent) {
            inner.canonical.push(hash);
        }
        inner.bodies.insert(hash, body);
        if let Some(receipts) = receipts {
            inner.receipts.insert(hash, receipts);
        }
        inner.headers.insert(hash, header);
        Ok(hash)
    }

    fn block_access_list(&self, hash: &B256) -> Option<Bytes> {
        self.read().access_lists.get(hash).cloned()
    }

    fn insert_block_access_list(&self, hash: &B256, encoded: Bytes) -> Result<(), StoreError> {
        let mut inner = self.inner.write().unwrap_or_else(PoisonError::into_inner);
        check_block_access_list(hash, inner.headers.get(hash), &encoded)?;
        inner.access_lists.insert(*hash, encoded);
        Ok(())
    }
}
